"""Dino's human and merchant sides, which the sandbox plays: the operator's decisions (API and
the approval page behind `approval_url`), the merchant's checkout, revoking a key."""

from __future__ import annotations

from html import escape

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import SandboxError, invalid_field
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import render_page
from sandbox.providers.dino.auth import KEY
from sandbox.providers.dino.models import ApprovalForm, Decision, Execute
from sandbox.providers.dino.service import DinoService

NOTE = "Dino sandbox: this page stands in for the approval screen of app.dino.id."
APPROVALS = "/_sandbox/dino/approvals/{id}"


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


def approval_page_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    def approval_page(intent_id: str, notice: str = "", status: int = 200) -> web.Response:
        try:
            _, intent = service.find(intent_id)
        except SandboxError as error:
            return render_page("Purchase intent not found", f"<p>{escape(error.message)}</p>", 404, note=NOTE)
        wire = intent.to_wire()
        rows = "".join(
            f"<dt>{escape(label)}</dt><dd>{escape('—' if wire[key] is None else str(wire[key]))}</dd>"
            for label, key in (
                ("Intent", "id"), ("Status", "status"), ("Product", "product_url"), ("Merchant", "merchant_name"),
                ("Expected total (cents)", "expected_total_cents"), ("Maximum total (cents)", "max_total_cents"),
                ("Currency", "currency"), ("Reason", "reason"), ("Decision", "decision_reason"),
            )
        )
        form = ""
        if intent.status == "needs_approval":
            form = (
                f'<form method="post" action="/_sandbox/dino/approvals/{escape(intent.id)}">'
                '<button name="decision" value="approve">Approve</button>'
                '<button name="decision" value="deny">Deny</button></form>'
            )
        notice_html = f"<p><strong>{escape(notice)}</strong></p>" if notice else ""
        return render_page("Approve purchase", f"{notice_html}<dl>{rows}</dl>{form}", status, note=NOTE)

    async def show(request: web.Request) -> web.Response:
        return approval_page(request.match_info["id"])

    async def submit(request: web.Request) -> web.Response:
        intent_id = request.match_info["id"]
        try:
            decision = (await request.post()).get("decision")
        except (ValueError, LookupError):  # an unknown charset, a multipart body without a boundary
            return render_page("Bad request", "<p>The form could not be read.</p>", 400, note=NOTE)
        if decision not in ("approve", "deny"):
            return render_page("Bad request", "<p>Choose approve or deny.</p>", 400, note=NOTE)
        try:
            service.decide(intent_id, decision == "approve", None)
        except SandboxError as error:
            return approval_page(intent_id, error.message, 409)
        raise web.HTTPSeeOther(f"/_sandbox/dino/approvals/{intent_id}")

    page = ResponseDoc("The approval page", media_type="text/html")
    return [
        api.document("GET", APPROVALS, show, tags=("dino",), summary="The approval page behind approval_url (for a human)", responses={
            200: page, 404: ResponseDoc("No such intent (a page)", media_type="text/html"),
        }),
        api.document("POST", APPROVALS, submit, tags=("dino",), summary="The approval page's form: approve or deny",
                     body=ApprovalForm, body_media="application/x-www-form-urlencoded", responses={
            303: ResponseDoc("Decided: back to the page", media_type=None),
            400: ResponseDoc("Neither approve nor deny was chosen (a page)", media_type="text/html"),
            404: ResponseDoc("No such intent (a page)", media_type="text/html"),
            409: ResponseDoc("The intent is no longer waiting for a decision (the page, with the reason)", media_type="text/html"),
        }),
    ]
