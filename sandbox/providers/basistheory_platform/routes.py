"""The Basis Theory platform routes the official SDK calls (api.basistheory.com paths)."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.providers.basistheory_platform.models import (
    AgentCreate,
    AgentUpdate,
    CredentialsCreate,
    EnrollmentCreate,
    InstructionCreate,
    InstructionUpdate,
    PageQuery,
    TokenCreate,
    VerifyComplete,
    VerifyMethod,
    VerifyOtp,
    VerifyPasskey,
    VerifyStart,
)
from sandbox.providers.basistheory_platform.service import BasisTheoryPlatformService
from sandbox.providers.basistheory_platform.threeds import Authenticate, SessionCreate, ThreeDs
from sandbox.providers.basistheory_platform.webhooks import EVENT_TYPES, WebhookBody
from sandbox.providers.basistheory_platform.webhooks import to_wire as webhook_wire


def listing(page) -> dict:
    """The agentic list shape; the last page has `next_cursor: null`, which stops the SDK's pager."""
    data = [obj.to_wire() for obj in page.items]
    cursor = page.items[-1].id if page.has_more else None
    return {"data": data, "pagination": {"next_cursor": cursor, "has_more": page.has_more}}


def routes(api: ProviderApi, service: BasisTheoryPlatformService, threeds: ThreeDs) -> list[web.RouteDef]:
    def t(call: Call) -> str:
        return call.space.tenant

    def gone(call: Call) -> Reply:
        return Reply(None, 204)

    # tokens
    def create_token(call: Call) -> Reply:
        return Reply(service.create_token(t(call), call.parse(TokenCreate)).to_wire(), 201)

    def get_token(call: Call) -> Reply:
        return Reply(service.token(t(call), call.param("id")).to_wire())

    def delete_token(call: Call) -> Reply:
        service.delete_token(t(call), call.param("id"))
        return gone(call)

    # agents
    def create_agent(call: Call) -> Reply:
        return Reply(service.create_agent(t(call), call.parse(AgentCreate)).to_wire(), 201)

    def get_agent(call: Call) -> Reply:
        return Reply(service.agent(t(call), call.param("agent_id")).to_wire())

    def update_agent(call: Call) -> Reply:
        return Reply(service.update_agent(t(call), call.param("agent_id"), call.parse(AgentUpdate, empty_ok=True)).to_wire())

    def delete_agent(call: Call) -> Reply:
        service.delete_agent(t(call), call.param("agent_id"))
        return gone(call)

    # enrollments
    def create_enrollment(call: Call) -> Reply:
        return Reply(service.create_enrollment(t(call), call.parse(EnrollmentCreate)).to_wire(), 201)

    def list_enrollments(call: Call) -> Reply:
        query = call.query(PageQuery)
        return Reply(listing(service.page(t(call), "enrollment", query.limit, query.cursor)))

    def get_enrollment(call: Call) -> Reply:
        return Reply(service.enrollment(t(call), call.param("id")).to_wire())

    def delete_enrollment(call: Call) -> Reply:
        service.delete_enrollment(t(call), call.param("id"))
        return gone(call)

    def retry(call: Call) -> Reply:
        return Reply(service.retry_enrollment(t(call), call.param("id")).to_wire())

    def verify(action: str, model, value_of):
        def handler(call: Call) -> Reply:
            value = value_of(call.parse(model, empty_ok=model is VerifyComplete))
            return Reply(service.verify_enrollment(t(call), call.param("id"), action, value, call.links_base()))

        return handler

    # instructions
    def create_instruction(call: Call) -> Reply:
        return Reply(service.create_instruction(t(call), call.param("agent_id"), call.parse(InstructionCreate)).to_wire(), 201)

    def list_instructions(call: Call) -> Reply:
        query = call.query(PageQuery)
        return Reply(listing(service.instructions(t(call), call.param("agent_id"), query.limit, query.cursor, query.enrollment_id)))

    def get_instruction(call: Call) -> Reply:
        return Reply(service.instruction(t(call), call.param("agent_id"), call.param("id")).to_wire())

    def update_instruction(call: Call) -> Reply:
        body = call.parse(InstructionUpdate, empty_ok=True)
        return Reply(service.update_instruction(t(call), call.param("agent_id"), call.param("id"), body).to_wire())

    def delete_instruction(call: Call) -> Reply:
        service.delete_instruction(t(call), call.param("agent_id"), call.param("id"))
        return gone(call)

    def verify_instruction(call: Call) -> Reply:
        call.parse(VerifyStart)
        return Reply(service.verify_instruction(t(call), call.param("agent_id"), call.param("id"), call.links_base()))

    def verify_passkey(call: Call) -> Reply:
        call.parse(VerifyPasskey)
        verified = service.verify_passkey(t(call), call.param("agent_id"), call.param("id"))
        return Reply(verified if isinstance(verified, dict) else verified.to_wire())

    def credentials(call: Call) -> Reply:
        body = call.parse(CredentialsCreate, empty_ok=True)
        return Reply(service.credentials(t(call), call.param("agent_id"), call.param("id"), body), 201)

    hooks = service.hooks

    def ping(call: Call) -> Reply:
        return Reply({})

    def create_webhook(call: Call) -> Reply:
        return Reply(webhook_wire(hooks.create(t(call), call.parse(WebhookBody))), 201)

    def list_webhooks(call: Call) -> Reply:
        data = [webhook_wire(e) for e in hooks.all(t(call))]
        return Reply({"data": data, "pagination": {"page_size": len(data), "next": None}})

    def get_webhook(call: Call) -> Reply:
        return Reply(webhook_wire(hooks.get(t(call), call.param("id"))))

    def put_webhook(call: Call) -> Reply:
        return Reply(webhook_wire(hooks.replace(t(call), call.param("id"), call.parse(WebhookBody))))

    def delete_webhook(call: Call) -> Reply:
        hooks.delete(t(call), call.param("id"))
        return gone(call)

    def event_types(call: Call) -> Reply:
        return Reply(EVENT_TYPES)

    def create_session(call: Call) -> Reply:
        return Reply(threeds.create(t(call), call.parse(SessionCreate), call.links_base()), 201)

    def authenticate_session(call: Call) -> Reply:
        return Reply(threeds.authenticate(t(call), call.param("id"), call.parse(Authenticate), call.links_base()))

    def challenge_result(call: Call) -> Reply:
        return Reply(threeds.challenge_result(t(call), call.param("id")))

    def get_session(call: Call) -> Reply:
        return Reply(threeds.session(t(call), call.param("id")).to_wire())

    agents, enrollments = "/agentic/agents", "/agentic/enrollments"
    instructions = agents + "/{agent_id}/instructions"
    return [
        api.route("GET", "/ping", ping),
        api.route("GET", "/webhooks/event-types", event_types),  # before /webhooks/{id}
        api.route("POST", "/webhooks", create_webhook),
        api.route("GET", "/webhooks", list_webhooks),
        api.route("GET", "/webhooks/{id}", get_webhook),
        api.route("PUT", "/webhooks/{id}", put_webhook),
        api.route("DELETE", "/webhooks/{id}", delete_webhook),
        api.route("POST", "/3ds/sessions", create_session),
        api.route("POST", "/3ds/sessions/{id}/authenticate", authenticate_session, idempotent=True),
        api.route("GET", "/3ds/sessions/{id}/challenge-result", challenge_result),
        api.route("GET", "/3ds/sessions/{id}", get_session),
        api.route("POST", "/tokens", create_token),
        api.route("GET", "/tokens/{id}", get_token),
        api.route("DELETE", "/tokens/{id}", delete_token),
        api.route("POST", agents, create_agent),
        api.route("GET", agents + "/{agent_id}", get_agent),
        api.route("PATCH", agents + "/{agent_id}", update_agent),
        api.route("DELETE", agents + "/{agent_id}", delete_agent),
        api.route("POST", enrollments, create_enrollment),
        api.route("GET", enrollments, list_enrollments),
        api.route("GET", enrollments + "/{id}", get_enrollment),
        api.route("DELETE", enrollments + "/{id}", delete_enrollment),
        api.route("POST", enrollments + "/{id}/retry", retry),
        api.route("POST", enrollments + "/{id}/verify", verify("start", VerifyStart, lambda b: None)),
        api.route("POST", enrollments + "/{id}/verify/method", verify("method", VerifyMethod, lambda b: b.method_id)),
        api.route("POST", enrollments + "/{id}/verify/otp", verify("otp", VerifyOtp, lambda b: b.otp_code)),
        api.route("POST", enrollments + "/{id}/verify/complete", verify("complete", VerifyComplete, lambda b: None)),
        api.route("POST", instructions, create_instruction),
        api.route("GET", instructions, list_instructions),
        api.route("GET", instructions + "/{id}", get_instruction),
        api.route("PATCH", instructions + "/{id}", update_instruction),
        api.route("DELETE", instructions + "/{id}", delete_instruction),
        api.route("POST", instructions + "/{id}/verify", verify_instruction),
        api.route("POST", instructions + "/{id}/verify/passkey", verify_passkey),
        api.route("POST", instructions + "/{id}/credentials", credentials),
    ]
