"""Dino's public routes, at the paths of https://api.dino.id."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.openapi import ApiInfo, bearer_scheme
from sandbox.providers.dino.models import Authorize, CreatePurchaseIntent, Faucet, IssueCredential, ListQuery
from sandbox.providers.dino.service import DinoService


def routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    def create(call: Call) -> Reply:
        intent = service.create(call.space.tenant, call.parse(CreatePurchaseIntent))
        return Reply(intent.to_wire(), 201)

    def list_intents(call: Call) -> Reply:
        page = service.page(call.space.tenant, call.query(ListQuery))
        data = [intent.to_wire() for intent in page.items]
        cursor = data[-1]["id"] if page.has_more else None
        return Reply({"object": "list", "data": data, "has_more": page.has_more, "next_cursor": cursor})

    def retrieve(call: Call) -> Reply:
        return Reply(service.get(call.space.tenant, call.param("id")).to_wire())

    def authorize(call: Call) -> Reply:
        body = call.parse(Authorize, empty_ok=True)
        return Reply(service.authorize(call.space.tenant, call.param("id"), body, call.links_base()).to_wire())

    def issue(call: Call) -> Reply:
        body = call.parse(IssueCredential, empty_ok=True)
        return Reply(service.issue_credential(call.space.tenant, call.param("id"), body).to_wire())

    def balance(call: Call) -> Reply:
        return Reply(service.wallet(call.space.tenant).to_wire())

    def faucet(call: Call) -> Reply:
        return Reply(service.fund(call.space.tenant, call.parse(Faucet).amount_cents).to_wire())

    api.describe(INFO)
    base = "/v1/purchase-intents"
    wrong_state = "The intent's status does not allow this step"
    return [
        api.route("POST", base, create, idempotent=True, body=CreatePurchaseIntent,
                  summary="Create a purchase intent", responses={201: "The purchase intent, in intent_created"}),
        api.route("GET", base, list_intents, query=ListQuery, summary="List purchase intents, newest first", responses={
            200: "A page: {object: list, data, has_more, next_cursor}", 400: "starting_after names no intent of this key",
        }),
        api.route("GET", base + "/{id}", retrieve, summary="Retrieve a purchase intent", responses={200: "The purchase intent"}),
        api.route("POST", base + "/{id}/authorize", authorize, idempotent=True, body=Authorize, empty_ok=True,
                  summary="Ask to authorize a purchase intent", responses={
            200: "The intent: approved, needs_approval (with approval_url) or declined", 409: wrong_state,
        }),
        api.route("POST", base + "/{id}/issue-payment-credential", issue, idempotent=True, body=IssueCredential, empty_ok=True,
                  summary="Issue the one-time payment credential of an approved intent", responses={
            200: "The intent, in payment_credential_issued", 400: "merchant_lock is not the authorized merchant",
            402: "The wallet holds too little (top up, then retry with the same key)", 409: wrong_state,
        }),
        api.route("GET", "/v1/balance", balance, summary="The key's test-USD wallet", responses={200: "The balance"}),
        api.route("POST", "/v1/sandbox/faucet", faucet, idempotent=True, body=Faucet,
                  summary="Add test USD to the key's wallet", responses={200: "The balance"}),
    ]


INFO = ApiInfo(
    title="Dino (sandbox)",
    description="Governed purchase intents for AI agents, as https://api.dino.id serves them, emulated by the sandbox.",
    security={"bearer": bearer_scheme("A test key, din_test_<anything>: each key is its own tenant with its own wallet")},
    auth_responses={401: "The key is missing, malformed or a live key", 403: "The key was revoked"},
)
