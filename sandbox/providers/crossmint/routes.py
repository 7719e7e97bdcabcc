"""Crossmint's agentic routes under /api/unstable (or a dated version segment)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from sandbox.core.api import Call, InThread, ProviderApi, Reply
from sandbox.core.errors import invalid_field
from sandbox.core.openapi import ARRAY, ApiInfo, ResponseDoc, api_key_scheme, bearer_scheme
from sandbox.providers.crossmint.auth import user
from sandbox.providers.crossmint.models import (
    RAIL_REQUESTS,
    RAILS,
    AgentBody,
    AllowanceBody,
    CredentialsBody,
    CredentialsRequest,
    EnrollmentBody,
    OrderIntentBody,
    OrderIntentCreate,
    PageQuery,
    PaymentMethodBody,
    RailRequest,
    RegistrationBody,
    is_gen2_create,
    is_gen2_credentials,
)
from sandbox.providers.crossmint.records import Frozen
from sandbox.providers.crossmint.service import CrossmintService

BASE = r"/api/{version:unstable|[0-9]{4}-[0-9]{2}-[0-9]{2}}"  # ASCII digits only (`\d` matches any script's)


class IntentFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")
    agentId: str | None = None


def routes(api: ProviderApi, service: CrossmintService) -> list[web.RouteDef]:
    def who(call: Call) -> tuple[str, str]:
        return call.space.tenant, user(call.request)

    # agents
    def create_agent(call: Call) -> Reply:
        return Reply(service.create_agent(*who(call), call.parse(AgentBody)).to_wire(), 201)

    def list_agents(call: Call) -> Reply:
        return listed(service.agents(*who(call)))

    def get_agent(call: Call) -> Reply:
        return Reply(service.agent(*who(call), call.param("id")).to_wire())

    def update_agent(call: Call) -> Reply:
        return Reply(service.update_agent(*who(call), call.param("id"), call.parse(AgentBody)).to_wire())

    def delete_agent(call: Call) -> Reply:
        service.delete_agent(*who(call), call.param("id"))
        return Reply(None, 204)

    # payment methods
    def create_payment_method(call: Call) -> Reply:
        return Reply(service.create_payment_method(*who(call), call.parse(PaymentMethodBody)).to_wire(), 201)

    def list_payment_methods(call: Call) -> Reply:
        query = call.query(PageQuery)
        page = service.payment_methods(*who(call), query.limit, query.cursor)
        body: dict = {"data": [method.to_wire() for method in page.items]}
        if page.has_more:
            body["nextCursor"] = page.items[-1].id
        return Reply(body)

    def get_payment_method(call: Call) -> Reply:
        return Reply(service.payment_method(*who(call), call.param("id")).to_wire())

    def delete_payment_method(call: Call) -> Reply:
        service.delete_payment_method(*who(call), call.param("id"))
        return Reply(None, 204)

    def enroll(call: Call) -> Reply:
        body = call.parse(EnrollmentBody, empty_ok=True)
        return Reply(service.enroll(*who(call), call.param("id"), body).to_wire(), 201)

    def get_enrollment(call: Call) -> Reply:
        return Reply(service.enrollment(*who(call), call.param("id")).to_wire())

    def register(call: Call) -> Reply:
        body = call.parse(RegistrationBody, empty_ok=True)
        return Reply(service.register(*who(call), call.param("id"), body).to_wire())

    def get_registration(call: Call) -> Reply:
        return Reply(service.registration(*who(call), call.param("id")).to_wire())

    # order intents: the body decides the generation (Gen-2: paymentMethodId + amount; Gen-1: agentId + mandates)
    def create_intent(call: Call) -> Reply:
        body = call.parse(AllowanceBody) if is_gen2_create(call.body) else call.parse(OrderIntentBody)
        return Reply(service.create_intent(*who(call), body).to_wire(), 201)

    def list_intents(call: Call) -> Reply:
        agent_id = call.query(IntentFilter).agentId
        return listed(service.intents(*who(call), agent_id))

    def get_intent(call: Call) -> Reply:
        return Reply(service.intent(*who(call), call.param("id")).to_wire())

    def revoke(call: Call) -> Reply:
        service.revoke(*who(call), call.param("id"))
        return Reply(None, 204)

    def credentials(call: Call) -> Reply:
        body: CredentialsBody | RailRequest
        if is_gen2_credentials(call.body):
            rail = call.body["rail"]
            model = RAIL_REQUESTS.get(rail) if isinstance(rail, str) else None
            if model is None:
                raise invalid_field("rail", f"must be one of the following values: {', '.join(RAILS)}")
            body = call.parse(model)
        else:
            body = call.parse(CredentialsBody)
        return Reply(service.credentials(*who(call), call.param("id"), body), 201)

    api.describe(INFO)
    agents, methods, intents = BASE + "/agents", BASE + "/payment-methods", BASE + "/order-intents"
    deleted = "Deleted"
    return [
        api.route("POST", agents, create_agent, idempotent=True, body=AgentBody, summary="Create an agent",
                  responses={201: "The agent: {agentId, metadata}"}),
        api.route("GET", agents, list_agents, summary="List the user's agents",
                  responses={200: ResponseDoc("The agents (a bare array)", schema=ARRAY)}),
        api.route("GET", agents + "/{id}", get_agent, summary="Retrieve an agent", responses={200: "The agent"}),
        api.route("PATCH", agents + "/{id}", update_agent, body=AgentBody, summary="Replace an agent's metadata",
                  responses={200: "The agent"}),
        api.route("DELETE", agents + "/{id}", delete_agent, summary="Delete an agent (its order intents stop working)",
                  responses={204: deleted}),
        api.route("POST", methods, create_payment_method, idempotent=True, body=PaymentMethodBody,
                  summary="Add a card (the sandbox's stand-in for Crossmint's hosted card collection)",
                  responses={201: "The payment method"}),
        api.route("GET", methods, list_payment_methods, query=PageQuery, summary="List the user's payment methods",
                  responses={200: "{data, nextCursor (when there are more)}", 400: "cursor names no payment method"}),
        api.route("GET", methods + "/{id}", get_payment_method, summary="Retrieve a payment method", responses={200: "The payment method"}),
        api.route("DELETE", methods + "/{id}", delete_payment_method, summary="Delete a payment method", responses={204: deleted}),
        api.route("POST", methods + "/{id}/agentic-enrollment", enroll, idempotent=True, body=EnrollmentBody, empty_ok=True,
                  summary="Enroll a card for agentic payments (a pending or active enrollment is reused)", responses={
            201: "The enrollment: pending (with verificationConfig), active or failed",
            422: "The card is not eligible (CARD_NOT_ELIGIBLE)",
        }),
        api.route("GET", methods + "/{id}/agentic-enrollment", get_enrollment, summary="A payment method's enrollment",
                  responses={200: "The enrollment"}),
        api.route("PUT", methods + "/{id}/order-intent-registration", register, body=RegistrationBody, empty_ok=True,
                  summary="Register a card for Gen-2 order intents (idempotent; never prompts the cardholder)",
                  responses={200: "The registration: {paymentMethodId, rails}"}),
        api.route("GET", methods + "/{id}/order-intent-registration", get_registration, summary="A payment method's registration",
                  responses={200: "The registration", 404: "The card was never registered (or no such payment method)"}),
        api.route("POST", intents, create_intent, idempotent=True, body=OrderIntentCreate,
                  summary="Create an order intent: Gen-1 (agentId, payment, mandates) or Gen-2 (paymentMethodId, amount, description, "
                          "expiresAt, merchant?)",
                  responses={201: "The order intent, in the shape of its generation",
                             400: "A field is wrong, or (Gen-2) the card is not registered",
                             404: "agentId names no agent of this user (Gen-1), or paymentMethodId no payment method (Gen-2)"}),
        api.route("GET", intents, list_intents, query=IntentFilter, summary="List the user's order intents",
                  responses={200: ResponseDoc("The order intents (a bare array)", schema=ARRAY)}),
        api.route("GET", intents + "/{id}", get_intent, summary="Retrieve an order intent", responses={200: "The order intent"}),
        api.route("DELETE", intents + "/{id}", revoke, summary="Revoke (Gen-1) or cancel (Gen-2) an order intent",
                  responses={204: "Revoked or cancelled", 409: "The order intent's phase or status does not allow it"}),
        api.route("POST", intents + "/{id}/credentials", credentials, idempotent=True, body=CredentialsRequest,
                  summary="Get a payment credential: Gen-1 {merchant, products?} within the mandates, Gen-2 by rail within the amount",
                  responses={
            201: "The credential: Gen-1 {card, expiresAt}; Gen-2 {id, rail, provider?, amount, credential, expiresAt}",
            400: "A field is wrong, or the body's generation is not the order intent's",
            409: "The order intent is not active, its agent was deleted (Gen-1), or the rail cannot mint (Gen-2)",
            422: "The purchase breaks a mandate (Gen-1), or the amount, currency or merchant does not fit the allowance (Gen-2)",
        }),
    ]


def listed(objects: Sequence[Any]) -> Reply:
    """A bare array, unpaged (Crossmint does not page agents or order intents): a project may hold
    tens of thousands, so they are rendered in a worker thread, from copies frozen here on the loop
    (records.py) that no request changes while the thread reads them. 80 000 Gen-2 order intents
    took the loop over 2 s to render."""
    frozen = Frozen(objects)
    return Reply(InThread(lambda: _array(frozen.thaw())))


RENDER_CHUNK = 512  # objects written per orjson call: it holds the GIL (and so the loop) until it returns


def _array(objects: list[Any]) -> orjson.Fragment:
    """The objects' wire forms as one JSON array, the same bytes as `orjson.dumps` of the list,
    written a chunk at a time so that the loop gets the GIL between chunks."""
    chunks = (orjson.dumps([obj.to_wire() for obj in objects[i:i + RENDER_CHUNK]])[1:-1] for i in range(0, len(objects), RENDER_CHUNK))
    return orjson.Fragment(b"[" + b",".join(chunks) + b"]")


INFO = ApiInfo(
    title="Crossmint (sandbox)",
    description=(
        "Crossmint's agentic payments (agents, payment methods, agentic enrollment, order-intent registration, order intents "
        "of both generations and their credentials) under /api/unstable or a dated version, emulated by the sandbox. "
        "The key names the project (the tenant); objects belong to a user: "
        "the sub of an optional `Authorization: Bearer <JWT>` (its signature is not checked), else the key's default user."
    ),
    security={
        "apiKey": api_key_scheme("X-API-KEY", "A staging (or development) key: ck_staging_<project> or sk_staging_<project>"),
        "userJwt": bearer_scheme("Optional: the user's JWT; its sub owns the objects", "JWT"),
    },
    requirements=(("apiKey",), ("apiKey", "userJwt")),
    auth_responses={401: "The key is missing, malformed or a production key, or the JWT is invalid or expired"},
)
