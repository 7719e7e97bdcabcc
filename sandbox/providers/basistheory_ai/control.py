"""Basis Theory AI's human steps, played by pages the sandbox hosts (docs/basistheory.md):

- the verification page, `/_sandbox/basistheory/purchase-intents/{id}/verification`: the
  cardholder's whole ceremony for a purchase intent in `verify` (START, the OTP method, the
  OTP, the passkey or Mastercard step), each step the same call as the API's verify;
- the page behind a Visa CREATE_PASSKEY answer's endpoint (`sandbox.core.verification`).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import (
    Html,
    Outcome,
    ReturnQuery,
    ReturnTo,
    Step,
    alert,
    amount_text,
    card_text,
    code,
    hint,
    human_page,
    para,
    read_form,
    summary,
    tag,
)
from sandbox.core.runtime import RUNTIME
from sandbox.core.security import links_base
from sandbox.core.verification import (
    CANCEL,
    STEP_TITLES,
    Subject,
    ceremony_form,
    ceremony_hint,
    ceremony_step,
    field_notice,
    passkey_answer,
    passkey_page,
)
from sandbox.providers.basistheory_ai.models import PurchaseIntent, VerificationForm, Verify
from sandbox.providers.basistheory_ai.service import PASSKEY_PAGE, PROVIDER, BasisTheoryAiService

VERIFICATION_PAGE = "/_sandbox/basistheory/purchase-intents/{id}/verification"
LABEL = "Basis Theory"
NOTE = "Basis Theory AI sandbox: this page stands in for the verification modal of Basis Theory's browser SDK."


def routes(operator: ProviderApi, service: BasisTheoryAiService) -> list[web.RouteDef]:
    tags = ("basistheory",)

    async def show(request: web.Request) -> web.Response:
        return _page(request, service, request.match_info["id"], ReturnTo.from_request(request))

    async def submit(request: web.Request) -> web.StreamResponse:
        intent_id = request.match_info["id"]
        posted = await read_form(request)
        back = ReturnTo.from_request(request, posted.get("return_url") if posted is not None else None)
        if posted is None:
            return _page(request, service, intent_id, back, notice="The form could not be read.", status=400)
        chosen = ceremony_step(posted)
        if chosen is None:
            return _page(request, service, intent_id, back, notice="Choose one of the step's buttons.", status=400)
        action, payload = chosen
        if action == CANCEL:
            return _page(request, service, intent_id, back, cancelled=True)
        try:
            intent = service.find(intent_id)
            base = links_base(request, request.app[RUNTIME].settings.public_url)
            answer = service.verify(intent.project_id, intent.entity_id, intent.id, Verify(action=action, payload=payload), base)
        except SandboxError as error:
            if error.kind is ErrorKind.VALIDATION:  # a payload the step refuses: nothing changed, no attempt used
                field = error.fields[0].field if error.fields else ""
                return _page(request, service, intent_id, back, notice=field_notice(field, error.message))
            status = 404 if error.kind is ErrorKind.NOT_FOUND else 409
            return _page(request, service, intent_id, back, notice=error.message, status=status)
        if answer.get("status") == "ERROR" and intent.status == "verify":  # a wrong code, with attempts left
            return _page(request, service, intent_id, back, notice=(answer.get("error") or {}).get("message", "That did not work."))
        raise back.see_other(request.path)

    page = ResponseDoc("The page", media_type="text/html")
    missing = ResponseDoc("No such purchase intent (a page)", media_type="text/html")
    return [
        web.get(PASSKEY_PAGE, passkey_page),  # documented by the platform, which serves the same page
        web.post(PASSKEY_PAGE, passkey_answer),
        operator.document("GET", VERIFICATION_PAGE, show, tags=tags, query=ReturnQuery,
                          summary="The cardholder's verification of a purchase intent (for a human): OTP, passkey, Mastercard",
                          responses={200: page, 404: missing}),
        operator.document("POST", VERIFICATION_PAGE, submit, tags=tags, body=VerificationForm, empty_ok=True,
                          body_media="application/x-www-form-urlencoded",
                          summary="The verification page's form: one step of the ceremony (as the API's verify), or CANCEL",
                          responses={
            200: ResponseDoc("The step again, saying what was wrong (a wrong code, no method chosen); or, for CANCEL, the "
                             "cancelled outcome", media_type="text/html"),
            303: ResponseDoc("The step was taken: back to the page, which shows the next step or the outcome", media_type=None),
            400: ResponseDoc("The form could not be read, or names no step (a page)", media_type="text/html"),
            404: missing,
            409: ResponseDoc("The intent is not in verify, or the step is not the one the ceremony expects (the page, "
                             "with the reason)", media_type="text/html"),
        }),
    ]


# -- the page ---------------------------------------------------------------------------------------


def _page(request: web.Request, service: BasisTheoryAiService, intent_id: str, back: ReturnTo, *, notice: str = "",
          status: int = 200, cancelled: bool = False) -> web.Response:
    try:
        intent = service.find(intent_id)
    except SandboxError as error:
        return human_page(request, provider=LABEL, title="Purchase intent not found", content=para(error.message), note=NOTE,
                          status=404, subtitle="Verification", back=back)
    details = summary(_rows(service, intent))
    step = Step(PROVIDER, "verification", intent.id)
    session = intent.verification
    outcome = _outcome(intent, cancelled)
    if outcome is not None or intent.status != "verify" or session is None:
        content: list[object] = [alert(notice) if notice else None, details]
        if outcome is None:
            content.append(hint(para("This intent needs no verification: it is ", code(intent.status), ".")))
        return human_page(request, provider=LABEL, title="Purchase verification" if outcome else "Nothing to verify", content=content,
                          note=NOTE, status=status, step=step, outcome=outcome, back=back, subtitle="Verification")
    content = [alert(notice) if notice else None, details, ceremony_form(session, request.path, back), _hint(intent)]
    return human_page(request, provider=LABEL, title=STEP_TITLES.get(session.step, "Verify this purchase"), content=content,
                      note=NOTE, status=status, step=step, back=back, subtitle="Verification")


def _outcome(intent: PurchaseIntent, cancelled: bool) -> Outcome | None:
    if intent.status == "active":
        return Outcome("succeeded", "Purchase verified", "The intent is active and its virtual card is issued.", intent.status)
    if intent.status == "unavailable":
        session = intent.verification
        why = ("The card issuer or the cardholder did not verify it: no card will be issued."
               if session is not None and session.step == "failed" else "It can no longer be verified: no card will be issued.")
        return Outcome("failed", "Verification failed", why, intent.status)
    if intent.status == "expired":
        return Outcome("failed", "Purchase intent expired", "It expired before it was verified.", intent.status)
    if cancelled and intent.status == "verify":
        return Outcome("cancelled", "Verification cancelled", "Nothing was sent: the intent is still waiting in verify.", intent.status)
    return None


def _rows(service: BasisTheoryAiService, intent: PurchaseIntent) -> list[tuple[str, str | None]]:
    method = service.payment_method_of(intent)
    mandates = {m.get("type"): m for m in intent.mandates if isinstance(m, dict)}
    limit = mandates.get("maxAmount") or {}
    details = limit.get("details") or {}
    amount = amount_text(limit.get("value"), details.get("currency"))
    period = details.get("period")
    return [
        ("Amount", f"up to {amount}" + (f" per {period}" if period and period != "transaction" else "") if amount else None),
        ("Merchant", (mandates.get("merchant") or {}).get("value")),
        ("Product", (mandates.get("description") or {}).get("value")),
        ("Card", card_text(method.brand, method.last4) if method else None),
        ("Purchase intent", intent.id),
        ("Status", intent.status),
        ("Expires", intent.expires_at),
    ]


def _hint(intent: PurchaseIntent) -> Html:
    session = intent.verification
    assert session is not None
    return hint(
        para("Each button sends one step, as ", code(f"POST /projects/{intent.project_id}/purchase-intents/{intent.id}/verify"),
             " does, with its events and scenario rules. This card's profile is ", code(session.label), " (flow ",
             code(session.flow), "; docs/basistheory.md, Magic cards)."),
        *ceremony_hint(session),
        para(tag("strong", "Cancel"), " sends nothing: the intent stays in ", code("verify"), "."),
    )


def describe(service: BasisTheoryAiService, reference: str) -> Subject | None:
    """A purchase intent, for the passkey page behind its CREATE_PASSKEY endpoint."""
    intent = service.find(reference)
    rows = tuple((label, str(value)) for label, value in _rows(service, intent) if value is not None and value != "")
    then = f'{{"action": "AUTHENTICATE_PASSKEY"}} to POST /projects/{intent.project_id}/purchase-intents/{intent.id}/verify'
    return Subject(PROVIDER, LABEL, "Purchase intent", rows, then)
