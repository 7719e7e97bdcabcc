"""3-D Secure sessions: create, authenticate, the challenge (a sandbox-hosted page), its result.

The outcome follows magic card numbers and `challenge_preference`, like Basis Theory's test
cards; the challenge page accepts the sandbox OTP `123456`.

The redirect variant: a session created with `authentication_request` and `callback_urls` is
authenticated at once and answers a `redirect_url`, Basis Theory's hosted page (here the
challenge page's own address). The cardholder takes any challenge there and is sent (303) to
`callback_urls.success` when the authentication ends `successful` or `attempted`, else to
`.failure`, with the callback's query string dropped, as Basis Theory does (docs/basistheory.md).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from yarl import URL

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.pages import ReturnTo
from sandbox.core.runtime import Runtime
from sandbox.core.store import Space
from sandbox.providers.basistheory_platform.events import PROVIDER
from sandbox.providers.basistheory_platform.machine import CHALLENGES, ChallengeAction

CHALLENGE_OTP = "123456"
CHALLENGE_PAGE = "/_sandbox/basistheory/3ds/challenge/"  # the issuer's ACS, played by the sandbox
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover"}
# number -> the authentication status it ends in without a challenge preference
OUTCOMES = {
    "4000000000003220": "challenge",
    "4000008400001629": "rejected",
    "4000000000003055": "attempted",
    "4000000000003097": "failed",
}
CODES = {"successful": "Y", "attempted": "A", "failed": "N", "challenge": "C", "decoupled_challenge": "D", "rejected": "R"}


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PurchaseInfo(Body):
    """What is bought, as the SDK's ThreeDsPurchaseInfo sends it (the challenge page shows it)."""

    amount: str | None = None  # in minor units, as 3-D Secure carries it ("8000" is 80.00)
    currency: str | None = None  # ISO 4217, numeric ("840") or alphabetic
    exponent: str | None = None  # the currency's minor units ("2")


class MerchantInfo(Body):
    name: str | None = None
    url: str | None = None
    country_code: str | None = None


class Authenticate(Body):
    authentication_category: Literal["payment", "non-payment"]
    authentication_type: str
    challenge_preference: str | None = None
    request_decoupled_challenge: bool | None = None
    purchase_info: PurchaseInfo | None = None
    merchant_info: MerchantInfo | None = None


def _callback_url(value: str) -> str:
    """Where the hosted page sends the cardholder: an absolute http(s) URL, as a page's return_url,
    whose host a browser can reach (a DNS name, after IDNA, or an IP address)."""
    if ReturnTo.of(value).refused:
        raise ValueError("The URL must be an absolute http(s) URL.")
    if _host(value) is None:
        raise ValueError("The URL's host is not a host name or an IP address.")
    return value


_LABEL = re.compile(r"[a-z0-9-]{1,63}", re.ASCII)


def _host(url: str) -> str | None:
    """The URL's host as the browser sends it (IDNA, lowercase: what the 303's Location and the page's
    CSP name), or None when it is none: an empty label, a space, an invalid A-label (`xn--zz`)."""
    try:
        parsed = URL(url)
        host, _ = parsed.raw_host, parsed.host  # the host decodes (its A-labels are punycode)
    except (ValueError, UnicodeError):
        return None
    if not host or len(host) > 253:
        return None
    if ":" in host:  # an IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        return host
    return host if all(_LABEL.fullmatch(label) for label in host.split(".")) else None


def callback_origin(url: str) -> str | None:
    """A callback URL's origin as a CSP source, `https://shop.example[:port]`; None for an IPv6 literal,
    which a CSP source cannot name."""
    host = _host(url)
    if host is None or ":" in host:
        return None
    parsed = URL(url)
    port = parsed.explicit_port
    return f"{parsed.scheme.lower()}://{host}" + (f":{port}" if port else "")


CallbackUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_callback_url)]


class BrandingOptions(Body):
    hide_basis_theory_branding: bool | None = None


class CallbackUrls(Body):
    """The redirect variant's way back; the sandbox needs both (the page sends the cardholder to one)."""

    success: CallbackUrl
    failure: CallbackUrl
    branding: BrandingOptions | None = None


class SessionCreate(Body):
    token_id: str | None = None
    pan: str | None = None  # deprecated alias of token_id
    token_intent_id: str | None = None
    type: Literal["customer", "merchant"] = "customer"
    device: Literal["browser", "app"] | None = None
    web_challenge_mode: str | None = None
    authentication_request: Authenticate | None = None  # with callback_urls: the redirect variant
    callback_urls: CallbackUrls | None = None
    metadata: dict[str, str | None] | None = None

    @model_validator(mode="after")
    def _one_token(self) -> SessionCreate:
        if not (self.token_id or self.pan or self.token_intent_id):
            raise ValueError("token_id (or token_intent_id) is required")
        return self


@dataclass(slots=True)
class Session:
    id: str
    tenant_id: str
    token_id: str
    brand: str
    number: str
    type: str
    device: str | None
    metadata: dict | None
    created_at: str
    authentication: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    challenge: str = "none"  # none, pending, decoupled or completed: moved by machine.CHALLENGES only

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickled from a durable store (pickle's state of a class with slots: `(None, slots)`);
        a session saved before `challenge` was a field kept it in `extra`."""
        slots = state[1]
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        if "challenge" not in slots:
            self.challenge = self.extra.pop("challenge", None) or "none"

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "tenant_id": self.tenant_id, "token_id": self.token_id, "pan_token_id": self.token_id,
            "card_brand": BRANDS.get(self.brand, self.brand), "additional_card_brands": [], "device": self.device,
            "created_date": self.created_at, "version": {"recommended_version": "2.2.0", "available_versions": ["2.1.0", "2.2.0"]},
            "method": {"method_url": None, "method_completion_indicator": "U"},
            "authentication": self.authentication, "metadata": self.metadata,
        }


class ThreeDs:
    def __init__(self, runtime: Runtime, tenant_id, hooks) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)
        self._tenant_id = tenant_id
        self.hooks = hooks

    def create(self, tenant: str, body: SessionCreate, links_base: str) -> dict[str, Any]:
        token = self.rt.store.get(Space(PROVIDER, tenant), "token", body.token_id or body.pan or "")
        if token is None:
            raise invalid_field("token_id", "The token was not found.")
        if (body.authentication_request is None) != (body.callback_urls is None):  # the redirect variant needs both
            missing, sent = ("callback_urls", "authentication_request") if body.callback_urls is None else (
                "authentication_request", "callback_urls")
            raise invalid_field(missing, f"The {missing} is required with {sent} (the redirect variant needs both).")
        session = Session(
            self.ids.uuid(tenant, "3ds_session"), self._tenant_id(tenant), token.id, token.brand, token.number,
            body.type, body.device, body.metadata, iso(self.rt.clock.now()),
        )
        if body.callback_urls is not None:
            session.extra["callback"] = body.callback_urls.model_dump(exclude_none=True)
        self.rt.store.put(Space(PROVIDER, tenant), "3ds_session", session.id, session)
        self.hooks.emit(tenant, "3ds.session.created", "session", session.to_wire())
        created = {
            "id": session.id, "type": session.type, "cardBrand": BRANDS.get(token.brand, token.brand), "additional_card_brands": [],
            "method_url": None, "method_notification_url": None, "directory_server_id": "A000000003",
            "recommended_version": "2.2.0", "metadata": session.metadata,
        }
        if body.authentication_request is not None:
            # The hosted page authenticates as soon as it is opened; the sandbox does it now, so the
            # session's authentication (and any challenge) is readable from the start.
            self.authenticate(tenant, session.id, body.authentication_request, links_base)
            created["redirect_url"] = f"{links_base}{CHALLENGE_PAGE}{session.id}"
        return created

    def session(self, tenant: str, session_id: str) -> Session:
        session = self.rt.store.get(Space(PROVIDER, tenant), "3ds_session", session_id)
        if session is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"3DS session {session_id} not found")
        return session

    def authenticate(self, tenant: str, session_id: str, body: Authenticate, links_base: str) -> dict[str, Any]:
        session = self.session(tenant, session_id)
        CHALLENGES.apply(session, ChallengeAction.RESTART)
        status = OUTCOMES.get(session.number, "successful")
        if body.challenge_preference in ("challenge-requested", "challenge-mandated") and status == "successful":
            status = "challenge"
        if status == "challenge" and (session.type == "merchant" or body.request_decoupled_challenge):
            status = "decoupled_challenge"
        auth = self._authentication(tenant, session, status)
        session.extra["purchase"] = body.purchase_info.model_dump(exclude_none=True) if body.purchase_info else {}
        session.extra["merchant"] = body.merchant_info.model_dump(exclude_none=True) if body.merchant_info else {}
        if status == "challenge":
            auth.update({
                "acs_challenge_mandated": "Y", "authentication_challenge_type": "dynamic",
                "acs_challenge_url": f"{links_base}{CHALLENGE_PAGE}{session.id}",
                "acs_rendering_type": {"acsInterface": "02", "acsUiTemplate": "01"},
                "challenge_preference": body.challenge_preference,
            })
            CHALLENGES.apply(session, ChallengeAction.CHALLENGE)
        elif status == "decoupled_challenge":
            CHALLENGES.apply(session, ChallengeAction.DECOUPLE)  # the cardholder approves out of band
        session.authentication = auth
        self.hooks.emit(tenant, "3ds.session.authenticated", "session", session.to_wire())
        return auth

    def challenge_result(self, tenant: str, session_id: str) -> dict[str, Any]:
        session = self.session(tenant, session_id)
        if session.authentication is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"3DS session {session_id} has not been authenticated")
        if CHALLENGES.can(session, ChallengeAction.APPROVE_OUT_OF_BAND):
            CHALLENGES.apply(session, ChallengeAction.APPROVE_OUT_OF_BAND)
            session.authentication = self._authentication(tenant, session, "successful")
        self.hooks.emit(tenant, "3ds.session.challenge-result-retrieved", "session", session.to_wire())
        return session.authentication

    def find(self, session_id: str) -> tuple[str, Session] | None:
        """A session by its id alone (the challenge page knows nothing else): its tenant and itself."""
        space = self.rt.store.locate("3ds_session", session_id)
        session = self.rt.store.get(space, "3ds_session", session_id) if space is not None else None
        return (space.tenant, session) if space is not None and session is not None else None

    def answer_challenge(self, session_id: str, code: str | None, cancelled: bool) -> str:
        """The cardholder's answer on the challenge page; returns the final status."""
        found = self.find(session_id)
        tenant, session = found if found is not None else ("", None)
        if session is None:
            raise SandboxError(ErrorKind.INVALID_STATE, "There is no challenge waiting for this session.")
        CHALLENGES.check(session, ChallengeAction.ANSWER)
        status = "failed" if cancelled or code != CHALLENGE_OTP else "successful"
        auth = self._authentication(tenant, session, status)
        auth["challenge_attempts"] = "01"
        if cancelled:
            auth.update({"challenge_cancel_reason": "cardholder-canceled", "challenge_cancel_reason_code": "01"})
        CHALLENGES.apply(session, ChallengeAction.ANSWER)
        session.authentication = auth
        return status

    def answer_decoupled(self, session_id: str, approved: bool) -> str:
        """The cardholder's answer to a decoupled challenge on a redirect session's page (the issuer's
        app, played by the page); returns the final status."""
        found = self.find(session_id)
        tenant, session = found if found is not None else ("", None)
        if session is None:
            raise SandboxError(ErrorKind.INVALID_STATE, "There is no challenge waiting for this session.")
        CHALLENGES.check(session, ChallengeAction.APPROVE_OUT_OF_BAND)
        auth = self._authentication(tenant, session, "successful" if approved else "failed")
        if not approved:
            auth.update({"challenge_cancel_reason": "cardholder-canceled", "challenge_cancel_reason_code": "01"})
        CHALLENGES.apply(session, ChallengeAction.APPROVE_OUT_OF_BAND)
        session.authentication = auth
        return auth["authentication_status"]

    def _authentication(self, tenant: str, session: Session, status: str) -> dict[str, Any]:
        shifted = status in ("successful", "attempted")
        auth: dict[str, Any] = {
            "session_id": session.id, "token_id": session.token_id, "pan_token_id": session.token_id, "threeds_version": "2.2.0",
            "acs_transaction_id": self.ids.uuid(tenant, "3ds_acs"), "ds_transaction_id": self.ids.uuid(tenant, "3ds_ds"),
            "acs_reference_number": "mock-acs-reference-number", "ds_reference_number": "mock-ds-reference-number",
            "authentication_status": status, "authentication_status_code": CODES[status], "liability_shifted": shifted,
        }
        if shifted:
            cavv = base64.b64encode(bytes.fromhex(self.ids.token(tenant, "3ds_cavv", 20))).decode()
            auth.update({"authentication_value": cavv, "eci": {"successful": "05", "attempted": "06"}[status]})
        return auth


# -- the redirect variant ----------------------------------------------------------------------------

SUCCEEDED = ("successful", "attempted")  # the statuses that send the cardholder to callback_urls.success


def callbacks(session: Session) -> dict[str, Any] | None:
    """A redirect session's callback_urls (None for a session without them)."""
    return session.extra.get("callback")


def waiting(session: Session) -> str | None:
    """What a redirect session's page waits for the cardholder to do: `challenge`, `decoupled`, or None."""
    return {"pending": "challenge", "decoupled": "decoupled"}.get(session.challenge)


def callback(session: Session) -> str:
    """Where the page sends the cardholder once the authentication is over: `success` when it ended
    successful or attempted, else `failure`; the URL's query string and fragment are dropped."""
    urls = callbacks(session) or {}
    status = (session.authentication or {}).get("authentication_status")
    parts = urlsplit(urls["success" if status in SUCCEEDED else "failure"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
