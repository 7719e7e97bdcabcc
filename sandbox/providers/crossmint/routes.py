"""Crossmint's agentic routes under /api/unstable (or a dated version segment)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.providers.crossmint.auth import user
from sandbox.providers.crossmint.models import AgentBody, CredentialsBody, EnrollmentBody, OrderIntentBody, PageQuery, PaymentMethodBody
from sandbox.providers.crossmint.service import CrossmintService

BASE = r"/api/{version:unstable|\d{4}-\d{2}-\d{2}}"


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
        return Reply([agent.to_wire() for agent in service.agents(*who(call))])

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

    # order intents
    def create_intent(call: Call) -> Reply:
        return Reply(service.create_intent(*who(call), call.parse(OrderIntentBody)).to_wire(), 201)

    def list_intents(call: Call) -> Reply:
        agent_id = call.query(IntentFilter).agentId
        return Reply([intent.to_wire() for intent in service.intents(*who(call), agent_id)])

    def get_intent(call: Call) -> Reply:
        return Reply(service.intent(*who(call), call.param("id")).to_wire())

    def revoke(call: Call) -> Reply:
        service.revoke(*who(call), call.param("id"))
        return Reply(None, 204)

    def credentials(call: Call) -> Reply:
        return Reply(service.credentials(*who(call), call.param("id"), call.parse(CredentialsBody)), 201)

    agents, methods, intents = BASE + "/agents", BASE + "/payment-methods", BASE + "/order-intents"
    return [
        api.route("POST", agents, create_agent, idempotent=True),
        api.route("GET", agents, list_agents),
        api.route("GET", agents + "/{id}", get_agent),
        api.route("PATCH", agents + "/{id}", update_agent),
        api.route("DELETE", agents + "/{id}", delete_agent),
        api.route("POST", methods, create_payment_method, idempotent=True),
        api.route("GET", methods, list_payment_methods),
        api.route("GET", methods + "/{id}", get_payment_method),
        api.route("DELETE", methods + "/{id}", delete_payment_method),
        api.route("POST", methods + "/{id}/agentic-enrollment", enroll, idempotent=True),
        api.route("GET", methods + "/{id}/agentic-enrollment", get_enrollment),
        api.route("POST", intents, create_intent, idempotent=True),
        api.route("GET", intents, list_intents),
        api.route("GET", intents + "/{id}", get_intent),
        api.route("DELETE", intents + "/{id}", revoke),
        api.route("POST", intents + "/{id}/credentials", credentials, idempotent=True),
    ]
