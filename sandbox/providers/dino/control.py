"""Dino's human and merchant sides, which the sandbox plays: the operator's decisions on purchase
intents and spend requests (API and the approval page behind `approval_url`, in the look of
`sandbox.core.pages`), the merchant's checkout, a key's budget policy, revoking a key."""

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
from sandbox.providers.dino.machine import SPEND_TRANSITIONS, TRANSITIONS, Action, SpendAction
from sandbox.providers.dino.models import ApprovalForm, Decision, Execute, PolicyUpdate, PurchaseIntent, SpendRequest
from sandbox.providers.dino.service import DinoService
from sandbox.providers.dino.spend import APPROVED_BY_OPERATOR, DECLINED_BY_OPERATOR

NOTE = "Dino sandbox: this page stands in for the approval screen of app.dino.id."
APPROVALS = "/_sandbox/dino/approvals/{id}"
# Where an approved intent may be by now: the approval succeeded, whatever the checkout did after.
APPROVED = ("approved", "payment_credential_issued", "execution_started", "completed", "failed")


def routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    return operator_routes(api, service) + spend_operator_routes(api, service) + approval_page_routes(api, service)


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
        key = _test_key(call)
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


def _test_key(call: Call) -> str:
    key = call.param("key")
    match = KEY.fullmatch(key)
    if match is None or match.group(1) != "test":
        raise invalid_field("key", "must be a Dino test key such as din_test_…")
    return key


def spend_operator_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    """The operator's approve, decline and cancel of a spend request waiting for approval, and a
    key's account and budget policy."""
    spend = service.spend

    def decide(approve: bool):
        def handler(call: Call) -> Reply:
            reason = call.parse(Decision, empty_ok=True).reason
            return Reply(spend.decide(call.param("id"), approve, reason).to_wire())

        return handler

    def cancel(call: Call) -> Reply:
        return Reply(spend.cancel(call.param("id"), call.parse(Decision, empty_ok=True).reason).to_wire())

    def policy(call: Call) -> Reply:
        return Reply(spend.account(_test_key(call)).to_wire())

    def set_policy(call: Call) -> Reply:
        key = _test_key(call)
        return Reply(spend.update_policy(key, call.parse(PolicyUpdate, empty_ok=True)).to_wire())

    base = "/_sandbox/dino/spend-requests/{id}"
    tags = ("dino",)
    waiting = "The spend request is not waiting for approval"
    account = "The key's agent account: its budget policy and what remains of it"
    return [
        api.route("POST", base + "/approve", decide(True), body=Decision, empty_ok=True, tags=tags,
                  summary="Approve a spend request waiting for approval (the operator)",
                  responses={200: "The spend request, approved", 409: waiting}),
        api.route("POST", base + "/decline", decide(False), body=Decision, empty_ok=True, tags=tags,
                  summary="Decline a spend request waiting for approval (the operator)",
                  responses={200: "The spend request, declined", 409: waiting}),
        api.route("POST", base + "/cancel", cancel, body=Decision, empty_ok=True, tags=tags,
                  summary="Cancel a spend request waiting for approval (the operator)",
                  responses={200: "The spend request, cancelled", 409: waiting}),
        api.route("GET", "/_sandbox/dino/api-keys/{key}/policy", policy, tags=tags,
                  summary="A test key's agent account and budget policy", responses={200: account, 400: "Not a din_test_ key"}),
        api.route("POST", "/_sandbox/dino/api-keys/{key}/policy", set_policy, body=PolicyUpdate, empty_ok=True, tags=tags,
                  summary="Change a test key's budget policy (omitted fields keep their value)",
                  responses={200: account, 400: "Not a din_test_ key, or a field is invalid"}),
    ]


class ApprovalPageForm(ApprovalForm):
    """The approval page's form (documentation: the page reads it as a form, not JSON)."""

    reason: Annotated[str, Field(max_length=500)] | None = None
    return_url: str | None = None


def approval_page_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    """One page for whatever waits for approval: a purchase intent or a spend request (by its id)."""

    def find(obj_id: str) -> PurchaseIntent | SpendRequest:
        return service.spend.find(obj_id)[1] if service.spend.holds(obj_id) else service.find(obj_id)[1]

    def decide(obj_id: str, approve: bool, reason: str | None) -> None:
        if service.spend.holds(obj_id):
            service.spend.decide(obj_id, approve, reason)
        else:
            service.decide(obj_id, approve, reason)

    def approval_page(request: web.Request, obj_id: str, back: ReturnTo, notice: str = "", status: int = 200,
                      reason: str = "") -> web.Response:
        try:
            obj = find(obj_id)
        except SandboxError as error:
            what = "Spend request" if obj_id.startswith("req_") else "Purchase intent"
            return human_page(request, provider="Dino", title=f"{what} not found", content=para(error.message), note=NOTE,
                              status=404, subtitle="Approval", back=back)
        spend = isinstance(obj, SpendRequest)
        outcome = _spend_outcome(obj) if isinstance(obj, SpendRequest) else _outcome(obj)
        rows = _spend_rows(obj) if isinstance(obj, SpendRequest) else _rows(obj)
        content: list[object] = [alert(notice) if notice else None, summary(rows)]
        waiting = obj.status == "needs_approval"
        if waiting:
            content += [_form(request.path, back, reason, "Decline" if spend else "Deny"),
                        _spend_hint(obj) if isinstance(obj, SpendRequest) else _hint(obj)]
        elif outcome is None:
            content.append(hint(para(f"This {'spend request' if spend else 'intent'} is not waiting for approval: it is ",
                                     code(obj.status), ".")))
        noun = "spend" if spend else "purchase"
        title = f"{noun.capitalize()} approval" if outcome else (f"Approve this {noun}?" if waiting else "Nothing to approve")
        return human_page(request, provider="Dino", title=title, content=content, note=NOTE, status=status, subtitle="Approval",
                          step=Step("dino", "approval", obj.id), outcome=outcome, back=back)

    async def show(request: web.Request) -> web.Response:
        return approval_page(request, request.match_info["id"], ReturnTo.from_request(request))

    async def submit(request: web.Request) -> web.StreamResponse:
        obj_id = request.match_info["id"]
        posted = await read_form(request)
        if posted is None:
            return approval_page(request, obj_id, ReturnTo.from_request(request), "The form could not be read.", 400)
        back = ReturnTo.from_request(request, posted.get("return_url"))
        decision, reason = posted.get("decision"), text_of(posted, "reason")
        if decision not in ("approve", "deny"):
            return approval_page(request, obj_id, back, "Choose Approve or Deny.", 400, reason or "")
        if reason is not None and len(reason) > 500:
            return approval_page(request, obj_id, back, "The reason is at most 500 characters.", 400, reason)
        try:
            decide(obj_id, decision == "approve", reason)
        except SandboxError as error:
            status = 404 if error.kind is ErrorKind.NOT_FOUND else 409
            return approval_page(request, obj_id, back, error.message, status)
        raise back.see_other(f"/_sandbox/dino/approvals/{obj_id}")

    page = ResponseDoc("The approval page", media_type="text/html")
    missing = ResponseDoc("No such intent or spend request (a page)", media_type="text/html")
    return [
        api.document("GET", APPROVALS, show, tags=("dino",), query=ReturnQuery,
                     summary="The approval page behind approval_url (for a human): a purchase intent or a spend request",
                     responses={200: page, 404: missing}),
        api.document("POST", APPROVALS, submit, tags=("dino",),
                     summary="The approval page's form: approve or deny (decline), with a reason",
                     body=ApprovalPageForm, body_media="application/x-www-form-urlencoded", responses={
            303: ResponseDoc("Decided: back to the page, which shows the outcome", media_type=None),
            400: ResponseDoc("The form could not be read, chose neither approve nor deny, or its reason is too long (the page, "
                             "saying so)", media_type="text/html"),
            404: missing,
            409: ResponseDoc("The intent or spend request is no longer waiting for a decision (the page, with the reason)",
                             media_type="text/html"),
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


def _form(action: str, back: ReturnTo, reason: str, deny: str = "Deny") -> Html:
    reason_field = text_field("reason", "Reason (optional)", value=reason, maxlength="500", multiline=True,
                              help=f"Shown to the agent as the decision_reason. It applies to Approve and to {deny}.")
    buttons = actions(button("Approve", "approve", name="decision"), button(deny, "deny", name="decision", kind="danger"))
    return form(action, reason_field, buttons, back=back, label="Decision")


def _spend_outcome(spend: SpendRequest) -> Outcome | None:
    """How the wait for approval ended: approved, declined, or cancelled (by the operator or expiry)."""
    if spend.status == "approved":
        return Outcome("succeeded", "Spend approved", spend.decision_reason or "", spend.status)
    if spend.status == "declined":
        return Outcome("failed", "Spend declined", spend.decision_reason or "", spend.status)
    if spend.status == "cancelled":
        return Outcome("cancelled", "Spend request cancelled", spend.decision_reason or "", spend.status)
    return None


def _spend_rows(spend: SpendRequest) -> list[tuple[str, object]]:
    wire = spend.to_wire()
    money = lambda cents: amount_text(cents, wire["currency"], minor_units=2)  # noqa: E731
    rows: list[tuple[str, object]] = [
        ("Amount", money(wire["amount_cents"])),
        ("Merchant", wire["merchant_name"]),
        ("Agent's reason", wire["reason"]),
        ("Budget left", f"{money(wire['remaining_budget_cents'])} this {_PERIOD_WORD.get(wire['budget_period'], 'period')}, "
                        f"{money(wire['remaining_monthly_budget_cents'])} this month"),
        ("Needs approval because" if spend.status == "needs_approval" else "Decision", wire["decision_reason"]),
    ]
    if wire["expires_at"]:
        rows.append(("Cancelled unless decided by", wire["expires_at"]))
    return rows + [("Spend request", code(spend.id)), ("Status", code(spend.status))]


_PERIOD_WORD = {"daily": "day", "weekly": "week", "monthly": "month"}


def _spend_hint(spend: SpendRequest) -> Html:
    approve, decline = SPEND_TRANSITIONS[SpendAction.OPERATOR_APPROVE], SPEND_TRANSITIONS[SpendAction.OPERATOR_DECLINE]
    return hint(
        para(tag("strong", "Approve"), " moves the spend request to ", code(approve.target), " (its amount then counts against "
             "the budget) and sends ", code(approve.event or ""), "; ", tag("strong", "Decline"), " moves it to ",
             code(decline.target), " and sends ", code(decline.event or ""), ", to the tenant's webhook endpoints."),
        para("The reason becomes its ", code("decision_reason"), " (else ", code(APPROVED_BY_OPERATOR), " or ",
             code(DECLINED_BY_OPERATOR), "). A program decides with ",
             code(f"POST /_sandbox/dino/spend-requests/{spend.id}/approve"), ", ", code(".../decline"), " or ", code(".../cancel"), "."),
    )
