"""Crossmint's human steps, played by the sandbox: the operator's shortcuts (enrollment and
order-intent verification at once, an allowance's verification, the card's CVC, a credential's
settlement) and the cardholder's verification page.

The verification page, `/_sandbox/crossmint/order-intents/{id}/verification`, stands in for
Crossmint's `OrderIntentVerification` component: the cardholder walks the ceremony of the
instruction (Gen-1) or the allowance (Gen-2) in the intent's `verificationConfig` step by step
(START, then the passkey or Mastercard step, or an OTP when a scenario asks for one), or fails
it. A Gen-1 instruction's ceremony is also walked by the provider that serves instructions
(`core/seams.py`).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
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
    button,
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
from sandbox.core.verification import CANCEL, STEP_TITLES, Subject, ceremony_form, ceremony_hint, ceremony_step, field_notice
from sandbox.providers.crossmint.models import (
    Allowance,
    CvcOutcome,
    EnrollmentOutcome,
    OrderIntent,
    SettleOutcome,
    VerificationForm,
    VerifyShortcut,
)
from sandbox.providers.crossmint.records import PROVIDER
from sandbox.providers.crossmint.service import CrossmintService

VERIFICATION_PAGE = "/_sandbox/crossmint/order-intents/{id}/verification"
LABEL = "Crossmint"
NOTE = "Crossmint sandbox: this page stands in for Crossmint's OrderIntentVerification component (Basis Theory's passkey ceremony)."
FAIL = "FAIL"  # the cardholder fails the verification


def routes(api: ProviderApi, service: CrossmintService) -> list[web.RouteDef]:
    def verify_intent(call: Call) -> Reply:
        outcome = call.parse(VerifyShortcut, empty_ok=True).outcome
        return Reply(service.verify_shortcut(call.param("id"), outcome == "success").to_wire())

    def complete_enrollment(call: Call) -> Reply:
        outcome = call.parse(EnrollmentOutcome, empty_ok=True).outcome
        return Reply(service.complete_enrollment(call.param("id"), outcome).to_wire())

    def verify_allowance(call: Call) -> Reply:
        outcome = call.parse(VerifyShortcut, empty_ok=True).outcome
        allowance = service.verify_allowance(call.param("id"), outcome == "success")
        rail = allowance.rail("agentic-token")
        assert rail is not None  # an allowance waiting for verification has one
        return Reply({"allowanceId": allowance.allowance_id, "orderIntentId": allowance.id, "rail": rail.rail,
                      "provider": rail.provider, "status": rail.status})

    def cvc(call: Call) -> Reply:
        outcome = call.parse(CvcOutcome).outcome
        method = service.set_cvc(call.param("id"), outcome == "recollected")
        return Reply({"paymentMethodId": method.id, "cvc": "on_file" if method.cvc_on_file else "expired"})

    def settle(call: Call) -> Reply:
        outcome = call.parse(SettleOutcome, empty_ok=True).outcome
        return Reply(service.settle_credential(call.param("id"), outcome).to_wire())

    tags = ("crossmint",)
    return [
        api.route("POST", "/_sandbox/crossmint/order-intents/{id}/verify", verify_intent, body=VerifyShortcut, empty_ok=True,
                  tags=tags, summary="Finish an order intent's verification at once (the cardholder), success or failure: a Gen-1 "
                                     "intent's instruction, or a Gen-2 intent's allowance",
                  responses={200: "The order intent", 409: "The order intent is not waiting for verification"}),
        api.route("POST", "/_sandbox/crossmint/allowances/{id}/verify", verify_allowance, body=VerifyShortcut, empty_ok=True,
                  tags=tags, summary="Verify a Gen-2 allowance at once (Basis Theory's verifyAllowance, played by the cardholder)",
                  responses={200: "{allowanceId, orderIntentId, rail, provider, status}: status is the agentic-token rail's",
                             409: "The allowance's rail is not waiting for verification, or its order intent is not active"}),
        api.route("POST", "/_sandbox/crossmint/payment-methods/{id}/cvc", cvc, body=CvcOutcome, tags=tags,
                  summary="The card's vaulted CVC ages out (expired) or is typed again (recollected, CrossmintCvcRecollection)",
                  responses={200: "{paymentMethodId, cvc: on_file | expired}"}),
        api.route("POST", "/_sandbox/crossmint/credentials/{id}/settle", settle, body=SettleOutcome, empty_ok=True, tags=tags,
                  summary="Settle a Gen-2 credential's reservation now: captured (spent) or released (available again)",
                  responses={200: "The order intent", 409: "The credential's reservation is already captured or released"}),
        api.route("POST", "/_sandbox/crossmint/enrollments/{id}/complete", complete_enrollment, body=EnrollmentOutcome,
                  empty_ok=True, tags=tags, summary="Finish a pending agentic enrollment (the cardholder): active or failed",
                  responses={200: "The enrollment", 409: "The enrollment is no longer pending"}),
        *verification_page_routes(api, service),
    ]


def verification_page_routes(api: ProviderApi, service: CrossmintService) -> list[web.RouteDef]:
    async def show(request: web.Request) -> web.Response:
        return _page(request, service, ReturnTo.from_request(request))

    async def submit(request: web.Request) -> web.StreamResponse:
        intent_id = request.match_info["id"]
        posted = await read_form(request)
        back = ReturnTo.from_request(request, posted.get("return_url") if posted is not None else None)
        if posted is None:
            return _page(request, service, back, notice="The form could not be read.", status=400)
        if posted.get("action") == FAIL:
            try:
                intent = service.verify_shortcut(intent_id, False)
            except SandboxError as error:
                return _page(request, service, back, notice=error.message, status=_status(error))
            return _page(request, service, back, outcome=Outcome(
                "failed", "Verification failed", "The cardholder did not verify the purchase: order-intents.verification-failed "
                f"was sent, and {_stays(intent)}.", _state(intent)))
        chosen = ceremony_step(posted)
        if chosen is None:
            return _page(request, service, back, notice="Choose one of the step's buttons.", status=400)
        action, payload = chosen
        if action == CANCEL:
            return _page(request, service, back, cancelled=True)
        base = links_base(request, request.app[RUNTIME].settings.public_url)
        try:
            answer = service.cardholder_step(intent_id, action, payload, base + request.path)
        except SandboxError as error:
            if error.kind is ErrorKind.VALIDATION:  # a payload the step refuses: nothing changed, no attempt used
                field = error.fields[0].field if error.fields else ""
                return _page(request, service, back, notice=field_notice(field, error.message))
            return _page(request, service, back, notice=error.message, status=_status(error))
        message = (answer.body.get("error") or {}).get("message", "The verification did not succeed.")
        if answer.failed:
            _, _, intent = service.find_intent(intent_id)
            return _page(request, service, back, outcome=Outcome(
                "failed", "Verification failed", f"{message}. {_stays(intent).capitalize()}: Try again starts over.", _state(intent)))
        if answer.body.get("status") == "ERROR":  # a wrong code, with attempts left
            return _page(request, service, back, notice=message)
        raise back.see_other(request.path)

    tags = ("crossmint",)
    missing = ResponseDoc("No such order intent (a page)", media_type="text/html")
    return [
        api.document("GET", VERIFICATION_PAGE, show, tags=tags, query=ReturnQuery,
                     summary="The cardholder's verification of an order intent (for a human), standing in for OrderIntentVerification",
                     responses={200: ResponseDoc("The page: the ceremony's current step, or its outcome", media_type="text/html"),
                                404: missing}),
        api.document("POST", VERIFICATION_PAGE, submit, tags=tags, body=VerificationForm, empty_ok=True,
                     body_media="application/x-www-form-urlencoded",
                     summary="The verification page's form: one step of the ceremony, FAIL or CANCEL", responses={
            200: ResponseDoc("The outcome of FAIL, CANCEL or a failed ceremony; or the step again, saying what was wrong",
                             media_type="text/html"),
            303: ResponseDoc("The step was taken: back to the page, which shows the next step or the outcome", media_type=None),
            400: ResponseDoc("The form could not be read, or names no step (a page)", media_type="text/html"),
            404: missing,
            409: ResponseDoc("The intent is not in requires-verification, or the step is not the one the ceremony expects "
                             "(the page, with the reason)", media_type="text/html"),
        }),
    ]


def _status(error: SandboxError) -> int:
    return 404 if error.kind is ErrorKind.NOT_FOUND else 409


def _page(request: web.Request, service: CrossmintService, back: ReturnTo, *, notice: str = "", status: int = 200,
          outcome: Outcome | None = None, cancelled: bool = False) -> web.Response:
    intent_id = request.match_info["id"]
    try:
        project, user, intent = service.find_intent(intent_id)
    except SandboxError as error:
        return human_page(request, provider=LABEL, title="Order intent not found", content=para(error.message), note=NOTE,
                          status=404, subtitle="Verification", back=back)
    step = Step(PROVIDER, "verification", intent.id)
    details = summary(_rows(service, project, user, intent))
    if cancelled and _waiting(intent):
        outcome = Outcome("cancelled", "Verification cancelled", f"Nothing was sent: {_stays(intent)}.", _state(intent))
    outcome = outcome or _phase_outcome(intent)
    session = intent.session
    if outcome is not None or not _waiting(intent) or session is None:
        content: list[object] = [alert(notice) if notice else None, details]
        if outcome is None:
            content.append(hint(_not_waiting(intent)))
        title = "Purchase verification" if outcome else "Nothing to verify"
        return human_page(request, provider=LABEL, title=title, content=content, note=NOTE, status=status, step=step, outcome=outcome,
                          back=back, subtitle="Verification")
    if not notice and session.step == "failed":
        notice = "The last attempt failed. Try again to start over."
    fail = button("Fail verification", FAIL, kind="danger")
    content = [alert(notice) if notice else None, details, ceremony_form(session, request.path, back, fail), _hint(intent)]
    return human_page(request, provider=LABEL, title=STEP_TITLES.get(session.step, "Verify this purchase"), content=content,
                      note=NOTE, status=status, step=step, back=back, subtitle="Verification")


def _waiting(intent: OrderIntent | Allowance) -> bool:
    """Whether the cardholder has something to verify: a Gen-1 phase, or a Gen-2 rail."""
    return intent.awaiting_verification if isinstance(intent, Allowance) else intent.phase == "requires-verification"


def _state(intent: OrderIntent | Allowance) -> str:
    """What the page reports as `status`: a Gen-1 phase; a Gen-2 active intent's agentic-token rail, else its status."""
    if isinstance(intent, OrderIntent):
        return intent.phase
    rail = intent.rail("agentic-token")
    return rail.status if rail is not None and intent.status == "active" else intent.status


def _not_waiting(intent: OrderIntent | Allowance) -> Html:
    if isinstance(intent, OrderIntent):
        return para("This intent is not waiting for verification: its phase is ", code(intent.phase), ".")
    rail = intent.rail("agentic-token")
    if rail is None:
        return para("This intent has no agentic-token rail (the card's network has none): there is nothing to verify.")
    return para("This intent is not waiting for verification: its agentic-token rail is ", code(rail.status), ".")


def _stays(intent: OrderIntent | Allowance) -> str:
    if isinstance(intent, OrderIntent):
        return "the intent stays in requires-verification"
    return "the agentic-token rail stays pending_verification"


def _phase_outcome(intent: OrderIntent | Allowance) -> Outcome | None:
    if isinstance(intent, Allowance):
        state = _state(intent)
        if intent.status != "active":
            return Outcome("failed", f"Order intent {intent.status}", "It can no longer be verified.", state)
        if state == "active" and intent.rail("agentic-token") is not None:
            return Outcome("succeeded", "Allowance verified", "The agentic-token rail is active: the agent may ask for its credentials.",
                           state)
        return None
    if intent.phase == "active":
        return Outcome("succeeded", "Purchase verified", "The order intent is active: the agent may ask for credentials.", intent.phase)
    if intent.phase in ("expired", "revoked"):
        return Outcome("failed", f"Order intent {intent.phase}", "It can no longer be verified.", intent.phase)
    return None


def _rows(service: CrossmintService, project: str, user: str, intent: OrderIntent | Allowance) -> list[tuple[str, str | None]]:
    if isinstance(intent, Allowance):
        return _allowance_rows(service, project, user, intent)
    mandates = {m.get("type"): m for m in intent.mandates if isinstance(m, dict)}
    limit = mandates.get("maxAmount") or {}
    details = limit.get("details") or {}
    amount = amount_text(limit.get("value"), details.get("currency"))
    period = details.get("period")
    agent = service.agent_of(project, user, intent)
    method = service.payment_method_of(project, user, intent)
    return [
        ("Amount", f"up to {amount}" + (f" per {period.removesuffix('ly')}" if isinstance(period, str) else "") if amount else None),
        ("For", (mandates.get("description") or mandates.get("prompt") or {}).get("value")),
        ("Merchant", "decided when the agent asks for credentials"),
        ("Agent", str(agent.metadata.get("name")) if agent is not None else intent.agent_id),
        ("Card", card_text(method.brand, method.last4) if method is not None else None),
        ("Order intent", intent.id),
        ("Phase", intent.phase),
        ("Expires", intent.expires_at),
    ]


def _allowance_rows(service: CrossmintService, project: str, user: str, allowance: Allowance) -> list[tuple[str, str | None]]:
    method = service.payment_method_of(project, user, allowance)
    merchant = allowance.merchant["name"] if allowance.merchant else "decided when the agent asks for credentials"
    available = amount_text(str(allowance.available), allowance.currency)
    return [
        ("Amount", f"up to {amount_text(str(allowance.total), allowance.currency)} ({available} available)"),
        ("For", allowance.description),
        ("Merchant", merchant),
        ("Card", card_text(method.brand, method.last4) if method is not None else card_text(allowance.brand, allowance.card_last4)),
        ("Order intent", allowance.id),
        ("Allowance", allowance.allowance_id),
        ("Status", _state(allowance) if allowance.status == "active" else allowance.status),
        ("Expires", allowance.expires_at),
    ]


def _hint(intent: OrderIntent | Allowance) -> Html:
    session = intent.session
    assert session is not None
    if isinstance(intent, Allowance):
        return hint(
            para("Each button is one step of the ceremony of the allowance ", code(intent.allowance_id), " (Basis Theory's ",
                 code("verifyAllowance"), "); once verified, the agentic-token rail becomes ", code("active"), " (",
                 code("order-intents.verified"), ") and ", code("verificationConfig"), " disappears. This card's flow is ",
                 code(session.flow), " (", code(session.label), "; docs/crossmint.md, Gen-2 magic cards)."),
            *ceremony_hint(session),
            para(tag("strong", "Fail verification"), " sends ", code("order-intents.verification-failed"), "; the rail stays ",
                 code("pending_verification"), ". ", tag("strong", "Cancel"), " sends nothing."),
        )
    return hint(
        para("Each button is one step of the ceremony of the intent's instruction ", code(intent.bt_instruction_id),
             ", as the control plane's instruction verify takes it; a verified intent becomes ", code("active"), " (",
             code("order-intents.activated"), "). This card's flow is ", code(session.flow), " (", code(session.label),
             "; docs/crossmint.md, Magic cards)."),
        *ceremony_hint(session),
        para(tag("strong", "Fail verification"), " sends ", code("order-intents.verification-failed"), "; the intent stays in ",
             code("requires-verification"), ". ", tag("strong", "Cancel"), " sends nothing."),
    )


def describe(service: CrossmintService, reference: str) -> Subject | None:
    """An order intent (by its id, or its instruction's), for the passkey and Mastercard pages."""
    owner = service.owner_of(reference)
    if owner is None:
        return None
    project, user, intent_id = owner
    intent = service.intent(project, user, intent_id)
    rows = tuple((label, value) for label, value in _rows(service, project, user, intent) if value)
    if isinstance(intent, Allowance):
        then = (f"the ceremony's next step (AUTHENTICATE_PASSKEY) on {VERIFICATION_PAGE.format(id=intent.id)}, or "
                f"POST /_sandbox/crossmint/allowances/{intent.allowance_id}/verify (Basis Theory's verifyAllowance is not public)")
        return Subject(PROVIDER, LABEL, "Allowance", rows, then)
    then = (f"POST /agentic/agents/{intent.bt_agent_id}/instructions/{intent.bt_instruction_id}/verify/passkey, with the "
            f"verificationConfig's publicApiKey as BT-API-KEY")
    return Subject(PROVIDER, LABEL, "Order intent", rows, then)
