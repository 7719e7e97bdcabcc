"""Basis Theory AI's routes, at the paths of https://api.basistheory.ai."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.store import Page
from sandbox.providers.basistheory_ai.auth import require_subject, subject
from sandbox.providers.basistheory_ai.models import CreatePaymentMethod, CreatePurchaseIntent, PageQuery, Verify
from sandbox.providers.basistheory_ai.service import BasisTheoryAiService


def page_headers(query: PageQuery, page: Page, total: int) -> dict[str, str]:
    """The provider's paging headers beside a bare JSON array."""
    return {
        "X-Total-Count": str(total),
        "X-Limit": str(query.limit),
        "X-Offset": str(query.offset),
        "X-Has-Next": "true" if page.has_more else "false",
        "X-Has-Previous": "true" if query.offset > 0 else "false",
    }


def routes(api: ProviderApi, service: BasisTheoryAiService) -> list[web.RouteDef]:
    def project(call: Call) -> str:
        return call.space.tenant

    def entity(call: Call) -> str:
        return subject(call.request)

    def create_payment_method(call: Call) -> Reply:
        body = call.parse(CreatePaymentMethod)
        require_subject(call.request, body.entityId)
        return Reply(service.create_payment_method(project(call), body).to_wire(), 201)

    def listing(fetch):
        """A list route: a bare array of the entity's objects with the paging headers."""

        def handler(call: Call) -> Reply:
            query = call.query(PageQuery)
            page, total = fetch(project(call), entity(call), query.offset, query.limit)
            return Reply([obj.to_wire() for obj in page.items], headers=page_headers(query, page, total))

        return handler

    def reading(fetch):
        def handler(call: Call) -> Reply:
            return Reply(fetch(project(call), entity(call), call.param("id")).to_wire())

        return handler

    def delete_payment_method(call: Call) -> Reply:
        service.delete_payment_method(project(call), entity(call), call.param("id"))
        return Reply(None, 204)

    def create_intent(call: Call) -> Reply:
        body = call.parse(CreatePurchaseIntent)
        require_subject(call.request, body.entityId)
        return Reply(service.create_intent(project(call), body).to_wire(), 201)

    def verify(call: Call) -> Reply:
        body = call.parse(Verify)
        return Reply(service.verify(project(call), entity(call), call.param("id"), body, call.links_base()))

    base = "/projects/{projectId}"
    return [
        api.route("POST", base + "/payment-methods", create_payment_method, idempotent=True),
        api.route("GET", base + "/payment-methods", listing(service.payment_methods)),
        api.route("GET", base + "/payment-methods/{id}", reading(service.payment_method)),
        api.route("DELETE", base + "/payment-methods/{id}", delete_payment_method),
        # The seed creates at the singular path; the provider's playground and newer docs use the plural.
        api.route("POST", base + "/purchase-intent", create_intent, idempotent=True),
        api.route("POST", base + "/purchase-intents", create_intent, idempotent=True),
        api.route("GET", base + "/purchase-intents", listing(service.intents)),
        api.route("GET", base + "/purchase-intents/{id}", reading(service.intent)),
        api.route("GET", base + "/purchase-intent/{id}", reading(service.intent)),
        api.route("POST", base + "/purchase-intents/{id}/verify", verify),
    ]
