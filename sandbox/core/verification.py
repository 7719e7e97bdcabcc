"""The cardholder-verification ceremony of the card networks (Visa OTP + passkey, Mastercard,
frictionless, and mock flows), shared by every provider whose objects a cardholder verifies.

It knows nothing of what is verified: a `Session` walks one flow, action by action, and each
`Answer` says whether the cardholder is now verified or has failed. Real flows answer
`{"status", "data", "error"?}`; mock flows put a `MOCK_*` status inside `data` so a browser SDK
can finish without the card networks' scripts (the browser SDK's expectations are in docs/research/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from sandbox.core.errors import SandboxError
from sandbox.core.pages import (
    Html,
    Outcome,
    ReturnTo,
    Step,
    actions,
    alert,
    button,
    choice_field,
    code,
    form,
    hint,
    human_page,
    join,
    para,
    summary,
    tag,
    text_field,
)

SANDBOX_OTP = "123456"
OTP_ATTEMPTS = 3
ACTIONS = ("START", "SELECT_OTP", "VALIDATE_OTP", "AUTHENTICATE_PASSKEY", "MASTERCARD_AUTH_COMPLETE")
OTP_METHODS = (
    {"identifier": "otp-sms", "method": "OTPSMS", "value": "***-***-1234"},
    {"identifier": "otp-email", "method": "OTPEMAIL", "value": "c***@example.com"},
)


@dataclass(frozen=True, slots=True)
class FlowStep:
    status: str  # what the answer says
    next: str  # the step the session moves to
    checks_otp: bool = False


def _flow(brand: str, mock: bool, **steps: dict[str, FlowStep]) -> dict[str, Any]:
    return {"brand": brand, "mock": mock, "steps": steps}


# flow -> step -> action -> Step. "new" is where START applies; "verified" and "failed" end a flow.
FLOWS: dict[str, dict[str, Any]] = {
    "visa_otp": _flow(
        "VISA", False,
        new={"START": FlowStep("OTP_REQUIRED", "otp_required")},
        otp_required={"SELECT_OTP": FlowStep("OTP_PENDING", "otp_pending")},
        otp_pending={"VALIDATE_OTP": FlowStep("CREATE_PASSKEY", "passkey", checks_otp=True)},
        passkey={"AUTHENTICATE_PASSKEY": FlowStep("VERIFIED", "verified")},
    ),
    "visa_frictionless": _flow("VISA", False, new={"START": FlowStep("VERIFIED", "verified")}),
    # A card enrolled earlier (OTP done then) only needs its passkey, e.g. an intent on an enrolled card.
    "visa_passkey": _flow(
        "VISA", False,
        new={"START": FlowStep("PASSKEY_READY", "passkey")},
        passkey={"AUTHENTICATE_PASSKEY": FlowStep("VERIFIED", "verified")},
    ),
    "declined": _flow("VISA", False, new={"START": FlowStep("ERROR", "failed")}),
    "mastercard": _flow(
        "MASTERCARD", False,
        new={"START": FlowStep("PASSKEY_READY", "mastercard_auth")},
        mastercard_auth={"MASTERCARD_AUTH_COMPLETE": FlowStep("VERIFIED", "verified")},
    ),
    "mock_visa_otp": _flow(
        "VISA", True,
        new={"START": FlowStep("MOCK_OTP_REQUIRED", "otp_required")},
        otp_required={"SELECT_OTP": FlowStep("MOCK_OTP_PENDING", "otp_pending")},
        # The SDK finishes a mock passkey locally and calls no more: this answer verifies.
        otp_pending={"VALIDATE_OTP": FlowStep("MOCK_PASSKEY_CREATE", "verified", checks_otp=True)},
    ),
    "mock_visa_frictionless": _flow("VISA", True, new={"START": FlowStep("MOCK_SUCCESS", "verified")}),
    "mock_mastercard": _flow(
        "MASTERCARD", True,
        new={"START": FlowStep("MOCK_POPUP_REQUIRED", "mastercard_auth")},
        # The SDK accepts only a plain VERIFIED here, mock or not.
        mastercard_auth={"MASTERCARD_AUTH_COMPLETE": FlowStep("VERIFIED", "verified")},
    ),
}
TERMINAL = ("verified", "failed")

# The flows by the names scenario rules use (`challenge: otp`).
CHALLENGES = {
    "otp": "visa_otp", "frictionless": "visa_frictionless", "passkey": "mastercard", "fails": "declined",
    "mock_otp": "mock_visa_otp", "mock_success": "mock_visa_frictionless", "mock_popup": "mock_mastercard",
}


class OutOfOrder(Exception):
    def __init__(self, message: str, expected: list[str]) -> None:
        super().__init__(message)
        self.expected = expected


class BadPayload(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class Answer:
    body: dict[str, Any]
    verified: bool = False
    failed: bool = False


@dataclass(slots=True)
class Session:
    flow: str
    label: str  # the magic card's label, sent as `mockCard` in mock answers
    reference: str  # the verified object's id, echoed in answers
    reference_field: str  # the name its provider gives that id in answers
    step: str = "new"
    attempts_left: int = OTP_ATTEMPTS
    method_id: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def brand(self) -> str:
        return FLOWS[self.flow]["brand"]

    def expected_actions(self) -> list[str]:
        if self.step in TERMINAL:
            return []
        return sorted({"START", *FLOWS[self.flow]["steps"].get(self.step, {})})

    def advance(self, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """Apply one action; raises OutOfOrder or BadPayload without changing the session.

        `passkey_page` is the URL of the page that stands in for the network's passkey step.
        """
        if self.step in TERMINAL:
            raise OutOfOrder(f"Verification has already {'succeeded' if self.step == 'verified' else 'failed'}", [])
        steps = FLOWS[self.flow]["steps"]
        current = "new" if action == "START" else self.step  # START restarts an unfinished flow
        step = steps.get(current, {}).get(action)
        if step is None:
            expected = self.expected_actions()
            raise OutOfOrder(f"Verification expects {' or '.join(expected)} next, not {action}", expected)
        if action == "SELECT_OTP":
            self.method_id = _chosen_method(payload)
        if step.checks_otp:
            wrong = self._check_otp(payload)
            if wrong is not None:
                return wrong
        self.step = step.next
        self.history.append(action)
        if step.status == "ERROR":
            return Answer(_error("The card issuer declined the verification"), failed=True)
        return Answer(self._body(step.status, passkey_page), verified=self.step == "verified")

    def _check_otp(self, payload: dict[str, Any]) -> Answer | None:
        code = payload.get("otpCode")
        if not isinstance(code, str) or not (len(code) == 6 and code.isdigit()):
            raise BadPayload("payload.otpCode", "must be a string of 6 digits")
        if code == SANDBOX_OTP:
            return None
        self.attempts_left -= 1
        if self.attempts_left <= 0:
            self.step = "failed"
            return Answer(_error("Too many invalid OTP codes: verification failed", attemptsRemaining=0), failed=True)
        plural = "s" if self.attempts_left > 1 else ""
        message = f"Invalid OTP code; {self.attempts_left} attempt{plural} remaining"
        return Answer(_error(message, attemptsRemaining=self.attempts_left))

    def _body(self, status: str, passkey_page: str) -> dict[str, Any]:
        data: dict[str, Any] = {"brand": self.brand, self.reference_field: self.reference}
        if status.endswith("OTP_REQUIRED"):
            data["methods"] = [dict(m) for m in OTP_METHODS]
        elif status.endswith("OTP_PENDING"):
            data["methodId"] = self.method_id
        elif status in ("CREATE_PASSKEY", "MOCK_PASSKEY_CREATE") or (status == "PASSKEY_READY" and self.brand == "VISA"):
            endpoint = f"{passkey_page}?identifier={self.reference}"
            data["authContext"] = {"endpoint": endpoint, "identifier": self.reference}
        elif status in ("PASSKEY_READY", "MOCK_POPUP_REQUIRED"):
            data["authContext"] = {
                "brand": "MASTERCARD",
                "paymentMethod": {"id": self.reference},
                "sessionIdentifiers": {"flowId": f"flow-{self.reference}", "srcCorrelationId": f"src-{self.reference}"},
                "authenticationReason": "TRANSACTION_AUTHENTICATION",
            }
        if status.startswith("MOCK_"):
            return {"status": status, "data": {"status": status, "mockCard": self.label, "data": data, "error": None}}
        return {"status": status, "data": data}


def _chosen_method(payload: dict[str, Any]) -> str:
    method_id = payload.get("methodId")
    offered = [m["identifier"] for m in OTP_METHODS]
    if method_id not in offered:
        raise BadPayload("payload.methodId", f"must be one of the offered methods: {', '.join(offered)}")
    return method_id


def _error(message: str, **data: Any) -> dict[str, Any]:
    return {"status": "ERROR", "error": {"message": message}, "data": data}


# -- the ceremony as a page -------------------------------------------------------------------------
# A provider's verification page walks its object's Session with these: a form for the step the
# session is at, a hint of what each button does, and the action and payload a posted form asks for.

CANCEL = "CANCEL"  # a page's own action: the cardholder stops; nothing is sent
STEP_TITLES = {
    "new": "Verify this purchase", "otp_required": "Where should we send your code?", "otp_pending": "Enter your verification code",
    "passkey": "Confirm with your passkey", "mastercard_auth": "Confirm with Mastercard", "failed": "Verification failed",
}
_METHOD_LABELS = {"OTPSMS": "Text message to {}", "OTPEMAIL": "Email to {}"}


def ceremony_hint(session: Session) -> list[Html]:
    """What the buttons of the session's current step send, and the sandbox's code."""
    lines: list[Html] = []
    if session.step in ("new", "failed"):
        lines.append(para(tag("strong", "Start" if session.step == "new" else "Try again"), " sends ", code("START"),
                          ": the card decides what follows (an OTP then a passkey, a passkey, Mastercard, verified at once, or "
                          "declined by the issuer)."))
    elif session.step == "otp_required":
        lines.append(para("No message is sent: whichever you choose, the code is ", code(SANDBOX_OTP), "."))
    elif session.step == "otp_pending":
        plural = "s" if session.attempts_left != 1 else ""
        lines.append(para("The sandbox's code is ", code(SANDBOX_OTP), f". Any other 6 digits is wrong ({session.attempts_left} "
                          f"attempt{plural} left; when none is, the verification fails). ", tag("strong", "Start over"),
                          " sends ", code("START"), " and does not give attempts back."))
    elif session.step == "passkey":
        lines.append(para(tag("strong", "Use passkey"), " sends ", code("AUTHENTICATE_PASSKEY"), ": the sandbox plays the "
                          "passkey, which succeeds."))
    elif session.step == "mastercard_auth":
        lines.append(para(tag("strong", "Authenticate"), " sends ", code("MASTERCARD_AUTH_COMPLETE"), ", which succeeds."))
    return lines


def ceremony_form(session: Session, path: str, back: ReturnTo, *more: Html) -> Html:
    """The form of the session's current step, posting to `path`; `more` buttons go before Cancel."""
    cancel = button("Cancel", CANCEL, kind="secondary")
    if session.step == "otp_required":
        options = [(m["identifier"], _METHOD_LABELS.get(m["method"], "{}").format(m["value"])) for m in OTP_METHODS]
        fields = join(choice_field("methodId", "Send the code by", options),
                      actions(button("Send code", "SELECT_OTP"), *more, cancel))
    elif session.step == "otp_pending":
        field = text_field("otpCode", "Verification code", help=f"6 digits. The sandbox's code is {SANDBOX_OTP}.",
                           inputmode="numeric", autocomplete="one-time-code", pattern="[0-9]{6}", maxlength="6",
                           required=True, autofocus=True)
        fields = join(field, actions(button("Verify code", "VALIDATE_OTP"), button("Start over", "START", kind="secondary"),
                                     *more, cancel))
    elif session.step == "passkey":
        fields = join(para("Confirm it is you with the passkey saved for this card."),
                      actions(button("Use passkey", "AUTHENTICATE_PASSKEY"), *more, cancel))
    elif session.step == "mastercard_auth":
        fields = join(para("Mastercard asks you to confirm this purchase."),
                      actions(button("Authenticate", "MASTERCARD_AUTH_COMPLETE"), *more, cancel))
    else:
        fields = join(para("Your bank asks you to confirm this purchase."),
                      actions(button("Start" if session.step == "new" else "Try again", "START"), *more, cancel))
    return form(path, fields, back=back, label="Verification")


def ceremony_step(posted: Mapping[str, object]) -> tuple[str, dict[str, Any]] | None:
    """The action a posted ceremony form asks for (one of ACTIONS, or CANCEL) and the payload the
    session reads (`methodId`, `otpCode`); None when it names none."""
    action = posted.get("action")
    if action != CANCEL and action not in ACTIONS:
        return None
    payload = {name: value.strip() for name in ("methodId", "otpCode") if isinstance(value := posted.get(name), str)}
    return str(action), payload


def field_notice(field: str, message: str) -> str:
    """A refused payload, in the cardholder's words."""
    if field == "payload.otpCode":
        return f"Type the 6-digit code (the sandbox's code is {SANDBOX_OTP})."
    if field == "payload.methodId":
        return "Choose where to send the code."
    return message


# -- the passkey stand-in page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """What a cardholder verifies, as the passkey stand-in page shows it: a provider's answer to
    `verification_subject(reference)` for an object of its own."""

    provider: str  # the provider's name as on the wire, for the page's message
    label: str  # the provider's name as shown
    what: str  # `Purchase intent`, `Enrollment`, …
    rows: tuple[tuple[str, str], ...]  # label -> value, for the summary card
    then: str  # what the front end sends once the cardholder is done


@runtime_checkable
class SubjectSource(Protocol):
    """A provider whose objects the passkey page can describe, asked through the registry."""

    def verification_subject(self, reference: str) -> Subject | None: ...


def find_subject(request: web.Request, reference: str) -> Subject | None:
    """The registered provider that knows `reference`, described; None when none does."""
    from sandbox.core.runtime import RUNTIME  # the runtime imports the seams, which import this module

    if not reference:
        return None
    for provider in request.app[RUNTIME].providers:
        if isinstance(provider, SubjectSource):
            try:
                found = provider.verification_subject(reference)
            except SandboxError:
                found = None
            if found is not None:
                return found
    return None


class PasskeyQuery(BaseModel):
    """The passkey page's query (documentation)."""

    model_config = ConfigDict(extra="ignore")
    identifier: str | None = None
    return_url: str | None = None


class PasskeyForm(BaseModel):
    """The passkey page's form (documentation: the page reads it as a form)."""

    identifier: str | None = None
    action: Literal["use", "cancel"]
    return_url: str | None = None


PASSKEY_NOTE = "Sandbox: this page stands in for the card network's passkey page (WebAuthn); no passkey is used."
DEFAULT_THEN = "the step that plays the passkey (AUTHENTICATE_PASSKEY, say) to the verify endpoint of what is verified"


def _passkey(request: web.Request, identifier: str, back: ReturnTo, outcome: Outcome | None = None, status: int = 200,
             notice: str = "") -> web.Response:
    subject = find_subject(request, identifier)
    rows = subject.rows if subject is not None else (("Identifier", identifier or "—"),)
    heading = subject.what if subject is not None else "What this is about"
    content: list[object] = [alert(notice) if notice else None, summary(rows, heading=heading)]
    if outcome is None:
        content.append(form(
            request.path,
            tag("input", type="hidden", name="identifier", value=identifier) if identifier else None,
            para("Confirm it is you with the passkey saved for this card."),
            actions(button("Use passkey", "use"), button("Cancel", "cancel", kind="secondary")),
            back=back, label="Passkey",
        ))
    content.append(hint(
        para("The sandbox plays the cardholder's passkey: ", tag("strong", "Use passkey"), " succeeds and ",
             tag("strong", "Cancel"), " does not. Nothing changes on the sandbox's side here."),
        para("Then your front end finishes the verification: it sends ", subject.then if subject else DEFAULT_THEN, "."),
        para("Without this page, send ", code('{"action": "AUTHENTICATE_PASSKEY"}'), " to the verify endpoint directly.")
        if subject is None else None,
    ))
    step = Step(subject.provider if subject is not None else "unknown", "passkey", identifier)
    return human_page(
        request, provider=subject.label if subject is not None else "Card network", title="Confirm with your passkey",
        subtitle="Passkey", content=content, note=PASSKEY_NOTE, status=status, step=step, outcome=outcome, back=back,
    )


async def passkey_page(request: web.Request) -> web.Response:
    """The page behind a passkey step's endpoint (`authContext.endpoint`, `passkey_context.endpoint`).

    In production that endpoint is the card network's passkey page, and the front end finishes the
    verification with the next API call. Here the page shows what is verified and reports the
    cardholder's answer (postMessage, return_url); the next API call still plays the passkey.
    """
    return _passkey(request, request.query.get("identifier", ""), ReturnTo.from_request(request))


async def passkey_answer(request: web.Request) -> web.Response:
    """The passkey page's form: `use` or `cancel`; nothing is stored."""
    try:
        posted = await request.post()
    except (ValueError, LookupError):  # an unknown charset, a multipart body without a boundary
        return _passkey(request, request.query.get("identifier", ""), ReturnTo.from_request(request), status=400,
                        notice="The form could not be read.")
    identifier = posted.get("identifier") or request.query.get("identifier", "")
    identifier = identifier if isinstance(identifier, str) else ""
    back = ReturnTo.from_request(request, posted.get("return_url"))
    action = posted.get("action")
    if action not in ("use", "cancel"):
        return _passkey(request, identifier, back, status=400, notice="Choose Use passkey or Cancel.")
    outcome = (
        Outcome("succeeded", "Passkey confirmed", "Your front end now finishes the verification with its next API call.")
        if action == "use" else Outcome("cancelled", "Passkey cancelled", "Nothing was verified.")
    )
    return _passkey(request, identifier, back, outcome)
