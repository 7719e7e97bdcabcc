"""Dino's public routes, at the paths of https://api.dino.id."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.openapi import ApiInfo, bearer_scheme
from sandbox.providers.dino.machine import CHECKOUT_INTENT, PURCHASE_INTENT
from sandbox.providers.dino.models import (
    Authorize,
    CreatePurchaseIntent,
    CreateSpendRequest,
    Faucet,
    IssueCredential,
    ListQuery,
    SpendListQuery,
)
from sandbox.providers.dino.service import DinoService

WRONG_STATE = "The intent's status does not allow this step"


def routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    api.describe(INFO)
    return (
        intent_routes(api, service, "/v1/purchase-intents", PURCHASE_INTENT, "/issue-payment-credential")
        + intent_routes(api, service, "/v1/checkout/intents", CHECKOUT_INTENT, "/issue-credential")
        + wallet_routes(api, service) + spend_routes(api, service) + account_routes(api, service)
    )


def intent_routes(api: ProviderApi, service: DinoService, base: str, noun: str, issue_path: str) -> list[web.RouteDef]:
    """Purchase intents, and the same intents under Dino's newer checkout paths: one object, whose
    errors name it as the path does."""

    def create(call: Call) -> Reply:
        intent = service.create(call.space.tenant, call.parse(CreatePurchaseIntent))
        return Reply(intent.to_wire(), 201)

    def list_intents(call: Call) -> Reply:
        page = service.page(call.space.tenant, call.query(ListQuery), noun)
        data = [intent.to_wire() for intent in page.items]
        cursor = data[-1]["id"] if page.has_more else None
        return Reply({"object": "list", "data": data, "has_more": page.has_more, "next_cursor": cursor})

    def retrieve(call: Call) -> Reply:
        return Reply(service.get(call.space.tenant, call.param("id"), noun).to_wire())

    def authorize(call: Call) -> Reply:
        body = call.parse(Authorize, empty_ok=True)
        return Reply(service.authorize(call.space.tenant, call.param("id"), body, call.links_base(), noun).to_wire())

    def issue(call: Call) -> Reply:
        body = call.parse(IssueCredential, empty_ok=True)
        return Reply(service.issue_credential(call.space.tenant, call.param("id"), body, noun).to_wire())

    alias = f" (the same objects as {'/v1/purchase-intents' if noun == CHECKOUT_INTENT else '/v1/checkout/intents'})"
    return [
        api.route("POST", base, create, idempotent=True, body=CreatePurchaseIntent,
                  summary=f"Create a {noun}{alias}", responses={201: f"The {noun}, in intent_created"}),
        api.route("GET", base, list_intents, query=ListQuery, summary=f"List {noun}s, newest first", responses={
            200: "A page: {object: list, data, has_more, next_cursor}", 400: "starting_after names no intent of this key",
        }),
        api.route("GET", base + "/{id}", retrieve, summary=f"Retrieve a {noun}", responses={200: f"The {noun}"}),
        api.route("POST", base + "/{id}/authorize", authorize, idempotent=True, body=Authorize, empty_ok=True,
                  summary=f"Ask to authorize a {noun}", responses={
            200: "The intent: approved, needs_approval (with approval_url) or declined", 409: WRONG_STATE,
        }),
        api.route("POST", base + "/{id}" + issue_path, issue, idempotent=True, body=IssueCredential, empty_ok=True,
                  summary="Issue the one-time payment credential of an approved intent", responses={
            200: "The intent, in payment_credential_issued", 400: "merchant_lock is not the authorized merchant",
            402: "The wallet holds too little (top up, then retry with the same key)", 409: WRONG_STATE,
        }),
    ]


def wallet_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    def balance(call: Call) -> Reply:
        return Reply(service.wallet(call.space.tenant).to_wire())

    def faucet(call: Call) -> Reply:
        return Reply(service.fund(call.space.tenant, call.parse(Faucet).amount_cents).to_wire())

    return [
        api.route("GET", "/v1/balance", balance, summary="The key's test-USD wallet", responses={200: "The balance"}),
        api.route("POST", "/v1/sandbox/faucet", faucet, idempotent=True, body=Faucet,
                  summary="Add test USD to the key's wallet", responses={200: "The balance"}),
    ]


def spend_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    """Spend requests, at their current paths and at the legacy `/v1/spend` ones."""
    spend = service.spend

    def create(call: Call) -> Reply:
        return Reply(spend.create(call.space.tenant, call.parse(CreateSpendRequest), call.links_base()), 201)

    def list_requests(call: Call) -> Reply:
        page = spend.page(call.space.tenant, call.query(SpendListQuery))
        data = [request.to_wire() for request in page.items]
        cursor = data[-1]["id"] if page.has_more else None
        return Reply({"object": "list", "data": data, "has_more": page.has_more, "next_cursor": cursor})

    def retrieve(call: Call) -> Reply:
        return Reply(spend.get(call.space.tenant, call.param("id")).to_wire())

    created = {
        201: "The spend request, decided: approved, declined or needs_approval (with approval_url)",
        409: "idempotency_key (the body field) was used with another request",
    }
    routes = []
    for base, legacy in (("/v1/spend-requests", ""), ("/v1/spend", " (legacy path)")):
        routes += [
            api.route("POST", base, create, idempotent=True, body=CreateSpendRequest,
                      summary=f"Request spend against the key's budget{legacy}", responses=created),
            api.route("GET", base + "/{id}", retrieve, summary=f"Retrieve a spend request{legacy}",
                      responses={200: "The spend request"}),
        ]
    routes.append(api.route("GET", "/v1/spend-requests", list_requests, query=SpendListQuery,
                            summary="List spend requests, newest first (a sandbox extra)", responses={
        200: "A page: {object: list, data, has_more, next_cursor}", 400: "starting_after names no spend request of this key",
    }))
    return routes


def account_routes(api: ProviderApi, service: DinoService) -> list[web.RouteDef]:
    """The agent account the key spends from: the only one in its scope."""

    def list_accounts(call: Call) -> Reply:
        account = service.spend.account(call.space.tenant)
        return Reply({"object": "list", "data": [account.to_wire()], "has_more": False, "next_cursor": None})

    def retrieve(call: Call) -> Reply:
        return Reply(service.spend.get_account(call.space.tenant, call.param("id")).to_wire())

    return [
        api.route("GET", "/v1/accounts", list_accounts, summary="The key's agent account, as a list of one",
                  responses={200: "{object: list, data: [account], has_more: false, next_cursor: null}"}),
        api.route("GET", "/v1/accounts/{id}", retrieve, summary="Retrieve the key's agent account",
                  responses={200: "The account with its budget policy and what remains of it"}),
    ]


INFO = ApiInfo(
    title="Dino (sandbox)",
    description="Governed spend for AI agents (spend requests, purchase and checkout intents, accounts), as https://api.dino.id "
                "serves them, emulated by the sandbox.",
    security={"bearer": bearer_scheme("A test key, din_test_<anything>: each key is its own tenant with its own wallet")},
    auth_responses={401: "The key is missing, malformed or a live key", 403: "The key was revoked"},
)
