"""Dino's human and merchant sides, which the sandbox plays: the operator's decisions (API and
the approval page behind `approval_url`, in the look of `sandbox.core.pages`), the merchant's
checkout, revoking a key."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import (
    Html,
    Outcome,
    ReturnQuery,
    ReturnTo,
    Step,
    actions,
    alert,
    amount_text,
    button,
    code,
    form,
    hint,
    human_page,
    para,
    read_form,
    summary,
    tag,
    text_field,
    text_of,
)
from sandbox.providers.dino.auth import KEY
from sandbox.providers.dino.machine import TRANSITIONS, Action
from sandbox.providers.dino.models import ApprovalForm, Decision, Execute, PurchaseIntent
from sandbox.providers.dino.service import DinoService

NOTE = "Dino sandbox: this page stands in for the approval screen of app.dino.id."
APPROVALS = "/_sandbox/dino/approvals/{id}"
# Where an approved intent may be by now: the approval succeeded, whatever the checkout did after.
APPROVED = ("approved", "payment_credential_issued", "execution_started", "completed", "failed")


def routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    return operator_routes(api, service) + approval_page_routes(api, service)


def operator_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    def decide(approve: bool):
        def handler(call: Call) -> Reply:
            reason = call.parse(Decision, empty_ok=True).reason
            return Reply(service.decide(call.param("id"), approve, reason).to_wire())

        return handler

    def execute(call: Call) -> Reply:
        body = call.parse(Execute, empty_ok=True)
        intent = service.execute(call.param("id"), body.outcome, body.merchant, body.amount_cents, body.failure_reason)
        return Reply(intent.to_wire())

    def revoke_key(call: Call) -> Reply:
        key = call.param("key")
        match = KEY.fullmatch(key)
        if match is None or match.group(1) != "test":
            raise invalid_field("key", "must be a Dino test key such as din_test_…")
        service.revoke_key(key)
        return Reply({"key": key, "revoked": True})

    base = "/_sandbox/dino/purchase-intents/{id}"
    tags = ("dino",)
    wrong_state = "The intent's status does not allow this step"
    return [
        api.route("POST", base + "/approve", decide(True), body=Decision, empty_ok=True, tags=tags,
                  summary="Approve an intent that needs approval (the operator)",
                  responses={200: "The intent, approved", 409: wrong_state}),
        api.route("POST", base + "/deny", decide(False), body=Decision, empty_ok=True, tags=tags,
                  summary="Deny an intent that needs approval (the operator)",
                  responses={200: "The intent, declined", 409: wrong_state}),
        api.route("POST", base + "/execute", execute, body=Execute, empty_ok=True, tags=tags,
                  summary="Check out with the issued credential (the merchant): start, then complete or fail",
                  responses={200: "The intent: execution_started, completed or failed", 409: wrong_state + ", or the credential expired"}),
        api.route("POST", "/_sandbox/dino/api-keys/{key}/revoke", revoke_key, tags=tags, summary="Revoke a test key",
                  responses={200: "{key, revoked: true}", 400: "Not a din_test_ key"}),
    ]


class ApprovalPageForm(ApprovalForm):
    """The approval page's form (documentation: the page reads it as a form, not JSON)."""

    reason: Annotated[str, Field(max_length=500)] | None = None
    return_url: str | None = None


def approval_page_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    def approval_page(request: web.Request, intent_id: str, back: ReturnTo, notice: str = "", status: int = 200,
                      reason: str = "") -> web.Response:
        try:
            _, intent = service.find(intent_id)
        except SandboxError as error:
            return human_page(request, provider="Dino", title="Purchase intent not found", content=para(error.message), note=NOTE,
                              status=404, subtitle="Approval", back=back)
        outcome = _outcome(intent)
        content: list[object] = [alert(notice) if notice else None, summary(_rows(intent))]
        if intent.status == "needs_approval":
            content += [_form(request.path, back, reason), _hint(intent)]
        elif outcome is None:
            content.append(hint(para("This intent is not waiting for approval: it is ", code(intent.status), ".")))
        waiting = intent.status == "needs_approval"
        title = "Purchase approval" if outcome else ("Approve this purchase?" if waiting else "Nothing to approve")
        return human_page(request, provider="Dino", title=title, content=content, note=NOTE, status=status, subtitle="Approval",
                          step=Step("dino", "approval", intent.id), outcome=outcome, back=back)

    async def show(request: web.Request) -> web.Response:
        return approval_page(request, request.match_info["id"], ReturnTo.from_request(request))

    async def submit(request: web.Request) -> web.StreamResponse:
        intent_id = request.match_info["id"]
        posted = await read_form(request)
        if posted is None:
            return approval_page(request, intent_id, ReturnTo.from_request(request), "The form could not be read.", 400)
        back = ReturnTo.from_request(request, posted.get("return_url"))
        decision, reason = posted.get("decision"), text_of(posted, "reason")
        if decision not in ("approve", "deny"):
            return approval_page(request, intent_id, back, "Choose Approve or Deny.", 400, reason or "")
        if reason is not None and len(reason) > 500:
            return approval_page(request, intent_id, back, "The reason is at most 500 characters.", 400, reason)
        try:
            service.decide(intent_id, decision == "approve", reason)
        except SandboxError as error:
            status = 404 if error.kind is ErrorKind.NOT_FOUND else 409
            return approval_page(request, intent_id, back, error.message, status)
        raise back.see_other(f"/_sandbox/dino/approvals/{intent_id}")

    page = ResponseDoc("The approval page", media_type="text/html")
    missing = ResponseDoc("No such intent (a page)", media_type="text/html")
    return [
        api.document("GET", APPROVALS, show, tags=("dino",), query=ReturnQuery,
                     summary="The approval page behind approval_url (for a human)", responses={200: page, 404: missing}),
        api.document("POST", APPROVALS, submit, tags=("dino",), summary="The approval page's form: approve or deny, with a reason",
                     body=ApprovalPageForm, body_media="application/x-www-form-urlencoded", responses={
            303: ResponseDoc("Decided: back to the page, which shows the outcome", media_type=None),
            400: ResponseDoc("The form could not be read, chose neither approve nor deny, or its reason is too long (the page, "
                             "saying so)", media_type="text/html"),
            404: missing,
            409: ResponseDoc("The intent is no longer waiting for a decision (the page, with the reason)", media_type="text/html"),
        }),
    ]


def _outcome(intent: PurchaseIntent) -> Outcome | None:
    """How the approval ended, once it has: approved (whatever came after) or declined."""
    if intent.status == "declined":
        return Outcome("failed", "Purchase declined", intent.decision_reason or "", intent.status)
    if intent.status in APPROVED:
        return Outcome("succeeded", "Purchase approved", intent.decision_reason or "", intent.status)
    return None


def _rows(intent: PurchaseIntent) -> list[tuple[str, object]]:
    wire = intent.to_wire()
    buyer = wire["buyer"]
    expected, maximum = wire["expected_total_cents"], wire["max_total_cents"]
    amount = amount_text(expected if expected is not None else maximum, wire["currency"], minor_units=2)
    return [
        ("Amount", f"{amount} (at most {amount_text(maximum, wire['currency'], minor_units=2)})" if expected is not None else amount),
        ("Merchant", wire["merchant_name"]),
        ("Product", wire["product_url"]),
        ("Quantity", wire["quantity"]),
        ("Paid with", "The tenant's Dino wallet (test USD)"),
        ("Buyer", f"{buyer.get('first_name', '')} {buyer.get('last_name', '')} <{buyer.get('email', '')}>".strip()),
        ("Agent's reason", wire["reason"]),
        ("Needs approval because" if intent.status == "needs_approval" else "Decision", wire["decision_reason"]),
        ("Intent", code(intent.id)),
        ("Status", code(intent.status)),
    ]


def _hint(intent: PurchaseIntent) -> Html:
    approve, deny = TRANSITIONS[Action.OPERATOR_APPROVE], TRANSITIONS[Action.OPERATOR_DENY]
    return hint(
        para(tag("strong", "Approve"), " moves the intent to ", code(approve.target), " and sends ", code(approve.event or ""),
             "; ", tag("strong", "Deny"), " moves it to ", code(deny.target), " and sends ", code(deny.event or ""),
             ", to the tenant's webhook endpoints."),
        para("The reason becomes the intent's ", code("decision_reason"), " (else ", code("Approved by operator"), " or ",
             code("Declined by operator"), "). A program decides with ",
             code(f"POST /_sandbox/dino/purchase-intents/{intent.id}/approve"), " or ", code(".../deny"), "."),
    )


def _form(action: str, back: ReturnTo, reason: str) -> Html:
    reason_field = text_field("reason", "Reason (optional)", value=reason, maxlength="500", multiline=True,
                              help="Shown to the agent as the intent's decision_reason. It applies to Approve and to Deny.")
    buttons = actions(button("Approve", "approve", name="decision"), button("Deny", "deny", name="decision", kind="danger"))
    return form(action, reason_field, buttons, back=back, label="Decision")
