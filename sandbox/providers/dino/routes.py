"""Dino's public routes, at the paths of https://api.dino.id."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
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

    base = "/v1/purchase-intents"
    return [
        api.route("POST", base, create, idempotent=True),
        api.route("GET", base, list_intents),
        api.route("GET", base + "/{id}", retrieve),
        api.route("POST", base + "/{id}/authorize", authorize, idempotent=True),
        api.route("POST", base + "/{id}/issue-payment-credential", issue, idempotent=True),
        api.route("GET", "/v1/balance", balance),
        api.route("POST", "/v1/sandbox/faucet", faucet, idempotent=True),
    ]
