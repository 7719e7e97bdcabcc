"""Basis Theory AI's routes, at the paths of https://api.basistheory.ai."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.openapi import ARRAY, ApiInfo, ResponseDoc, bearer_scheme
from sandbox.core.store import Page
from sandbox.providers.basistheory_ai.auth import require_subject, subject
from sandbox.providers.basistheory_ai.models import CreatePaymentMethod, CreatePurchaseIntent, PageQuery, Verify
from sandbox.providers.basistheory_ai.service import BasisTheoryAiService

PAGE_HEADERS = {
    "X-Total-Count": "How many there are in all", "X-Limit": "The limit applied", "X-Offset": "The offset applied",
    "X-Has-Next": "true when a later page exists", "X-Has-Previous": "true when an earlier page exists",
}


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

    api.describe(INFO)
    base = "/projects/{projectId}"
    listed = lambda what: ResponseDoc(f"The entity's {what} (a bare array); paging in the headers", schema=ARRAY, headers=PAGE_HEADERS)
    create = {201: "The purchase intent: active (with its card), pending or verify", 402: "The card issuer declined"}
    return [
        api.route("POST", base + "/payment-methods", create_payment_method, idempotent=True, body=CreatePaymentMethod,
                  summary="Create a card payment method for the token's entity", responses={201: "The payment method"}),
        api.route("GET", base + "/payment-methods", listing(service.payment_methods), query=PageQuery,
                  summary="List the entity's payment methods", responses={200: listed("payment methods")}),
        api.route("GET", base + "/payment-methods/{id}", reading(service.payment_method),
                  summary="Retrieve a payment method", responses={200: "The payment method"}),
        api.route("DELETE", base + "/payment-methods/{id}", delete_payment_method,
                  summary="Delete a payment method (its live purchase intents are invalidated)", responses={204: "Deleted"}),
        # The seed creates at the singular path; the provider's playground and newer docs use the plural.
        api.route("POST", base + "/purchase-intent", create_intent, idempotent=True, body=CreatePurchaseIntent,
                  summary="Create a purchase intent (the seed's singular path)", responses=create),
        api.route("POST", base + "/purchase-intents", create_intent, idempotent=True, body=CreatePurchaseIntent,
                  summary="Create a purchase intent", responses=create),
        api.route("GET", base + "/purchase-intents", listing(service.intents), query=PageQuery,
                  summary="List the entity's purchase intents", responses={200: listed("purchase intents")}),
        api.route("GET", base + "/purchase-intents/{id}", reading(service.intent), summary="Retrieve a purchase intent",
                  responses={200: "The purchase intent (with its card once active)"}),
        api.route("GET", base + "/purchase-intent/{id}", reading(service.intent),
                  summary="Retrieve a purchase intent (the singular path)", responses={200: "The purchase intent"}),
        api.route("POST", base + "/purchase-intents/{id}/verify", verify, body=Verify,
                  summary="One step of the cardholder's verification (START, SELECT_OTP, VALIDATE_OTP, …)", responses={
            200: "The step's answer: the next action, or the verified or failed outcome",
            400: "The step's payload is wrong", 409: "The intent is not in verify, or the step is out of order",
        }),
    ]


INFO = ApiInfo(
    title="Basis Theory AI (sandbox)",
    description=(
        "Agentic payment methods and purchase intents at the paths of https://api.basistheory.ai, emulated by the "
        "sandbox. The token's iss must be the project in the path, and its sub is the entity the request acts for."
    ),
    security={"jwt": bearer_scheme("A JWT with iss = the project and sub = the entity (its signature is checked only when "
                                   "the sandbox is given a JWKS or public key)", "JWT")},
    auth_responses={401: "The token is missing, invalid or expired, or has no sub",
                    403: "The token's iss is not the project in the path, or entityId is not its sub"},
)
