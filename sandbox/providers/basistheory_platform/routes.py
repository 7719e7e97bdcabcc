"""The Basis Theory platform routes the official SDK calls (api.basistheory.com paths)."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.openapi import ARRAY, ApiInfo, ResponseDoc, api_key_scheme
from sandbox.providers.basistheory_platform import token_search, tokens
from sandbox.providers.basistheory_platform.models import (
    AgentCreate,
    AgentUpdate,
    CredentialsCreate,
    EnrollmentCreate,
    InstructionCreate,
    InstructionUpdate,
    PageQuery,
    TokenCreate,
    TokenListQuery,
    TokenListV2Query,
    TokenSearch,
    TokenSearchV2,
    TokenUpdate,
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

MERGE_PATCH = "application/merge-patch+json"
PATCH_MEDIA = (MERGE_PATCH, "application/json")


def merge_patch_only(call: Call) -> None:
    """A token update is a merge patch, sent as one or as plain JSON; another JSON media type (a JSON
    Patch, `application/json-patch+json`, whose body means something else) is a 415."""
    media = call.request.content_type
    if call.request.body_exists and media not in PATCH_MEDIA:
        raise SandboxError(ErrorKind.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {MERGE_PATCH} or application/json, not {media}",
                           details={"content_type": media})


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

    def update_token(call: Call) -> Reply:
        merge_patch_only(call)
        return Reply(tokens.update(service.ctx, t(call), call.param("id"), call.parse(TokenUpdate, empty_ok=True)).to_wire())

    def list_tokens(call: Call) -> Reply:
        query = call.query(TokenListQuery)
        filters = tokens.v1_filters(call.request.query.items())
        return Reply(tokens.offset_page(service.ctx, t(call), filters, query.page, query.size))

    def search_tokens(call: Call) -> Reply:
        body = call.parse(TokenSearch, empty_ok=True)
        return Reply(tokens.offset_page(service.ctx, t(call), token_search.parse(body.query), body.page, body.size))

    def list_tokens_v2(call: Call) -> Reply:
        query = call.query(TokenListV2Query)
        filters = tokens.v2_filters(call.request.query.items())
        return Reply(tokens.cursor_page(service.ctx, t(call), filters, query.size, query.start))

    def search_tokens_v2(call: Call) -> Reply:
        body = call.parse(TokenSearchV2, empty_ok=True)
        return Reply(tokens.cursor_page(service.ctx, t(call), token_search.parse(body.query), body.size, body.start))

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
        return Reply(service.read_instruction(t(call), call.param("agent_id"), call.param("id")))

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

    api.describe(INFO)
    agents, enrollments = "/agentic/agents", "/agentic/enrollments"
    instructions = agents + "/{agent_id}/instructions"
    deleted = {204: "Deleted"}
    step = "The enrollment's verification is not at this step"
    return [
        api.route("GET", "/ping", ping, summary="Check the key", responses={200: "{}"}),
        # before /webhooks/{id}
        api.route("GET", "/webhooks/event-types", event_types, summary="The event types a webhook may subscribe to",
                  responses={200: ResponseDoc("The event types (a bare array of strings)", schema=ARRAY)}),
        api.route("POST", "/webhooks", create_webhook, body=WebhookBody, summary="Create a webhook", responses={201: "The webhook"}),
        api.route("GET", "/webhooks", list_webhooks, summary="List the tenant's webhooks", responses={200: "{data, pagination}"}),
        api.route("GET", "/webhooks/{id}", get_webhook, summary="Retrieve a webhook", responses={200: "The webhook"}),
        api.route("PUT", "/webhooks/{id}", put_webhook, body=WebhookBody, summary="Replace a webhook", responses={200: "The webhook"}),
        api.route("DELETE", "/webhooks/{id}", delete_webhook, summary="Delete a webhook", responses=deleted),
        api.route("POST", "/3ds/sessions", create_session, body=SessionCreate, summary="Create a 3-D Secure session",
                  responses={201: "The session (with redirect_url when authentication_request and callback_urls were sent)",
                             400: "No token, the token was not found, or only one of authentication_request and callback_urls"}),
        api.route("POST", "/3ds/sessions/{id}/authenticate", authenticate_session, idempotent=True, body=Authenticate,
                  summary="Authenticate a 3-D Secure session (frictionless, or a challenge)", responses={200: "The authentication"}),
        api.route("GET", "/3ds/sessions/{id}/challenge-result", challenge_result, summary="The outcome of a session's challenge",
                  responses={200: "The authentication", 404: "The session was not authenticated yet"}),
        api.route("GET", "/3ds/sessions/{id}", get_session, summary="Retrieve a 3-D Secure session", responses={200: "The session"}),
        api.route("POST", "/tokens", create_token, body=TokenCreate, summary="Create a card token", responses={201: "The token (masked)"}),
        api.route("GET", "/tokens", list_tokens, query=TokenListQuery, summary="List card tokens (v1: offset pages)",
                  responses={200: "{pagination: {total_items, page_number, page_size, total_pages}, data}"}),
        # Searches are reads: a BT-IDEMPOTENCY-KEY there is ignored (the SDKs' pagers send the first page's
        # key again with each page's `start`, which a kept key would refuse as another body).
        api.route("POST", "/tokens/search", search_tokens, idempotent=False, body=TokenSearch, empty_ok=True,
                  summary="Search card tokens (v1: offset pages)", responses={
            200: "{pagination: {total_items, page_number, page_size, total_pages}, data}",
            400: "The query is outside the search language, or page or size out of range",
        }),
        api.route("GET", "/tokens/{id}", get_token, summary="Retrieve a card token", responses={200: "The token (masked)"}),
        api.route("PATCH", "/tokens/{id}", update_token, body=TokenUpdate, body_media=PATCH_MEDIA,
                  empty_ok=True, summary="Update a card token (a JSON merge patch)",
                  responses={200: "The token (masked)", 400: "The merged card is not a valid card"}),
        api.route("DELETE", "/tokens/{id}", delete_token, summary="Delete a card token", responses=deleted),
        api.route("GET", "/v2/tokens", list_tokens_v2, query=TokenListV2Query, summary="List card tokens (v2: cursor pages)",
                  responses={200: "{pagination: {page_size, next}, data}; next is null on the last page",
                             400: "start is not a cursor this API gave, or metadata is not a JSON object"}),
        api.route("POST", "/v2/tokens/search", search_tokens_v2, idempotent=False, body=TokenSearchV2, empty_ok=True,
                  summary="Search card tokens (v2: cursor pages)", responses={
            200: "{pagination: {page_size, next}, data}; next is null on the last page",
            400: "The query is outside the search language, start is not a cursor this API gave, or size is out of range",
        }),
        api.route("POST", agents, create_agent, body=AgentCreate, summary="Create an agent", responses={201: "The agent"}),
        api.route("GET", agents + "/{agent_id}", get_agent, summary="Retrieve an agent", responses={200: "The agent"}),
        api.route("PATCH", agents + "/{agent_id}", update_agent, body=AgentUpdate, empty_ok=True, summary="Update an agent",
                  responses={200: "The agent"}),
        api.route("DELETE", agents + "/{agent_id}", delete_agent, summary="Delete an agent", responses=deleted),
        api.route("POST", enrollments, create_enrollment, body=EnrollmentCreate, summary="Enroll a card token", responses={
            201: "The enrollment, in pending_verification", 400: "The token or an agent was not found",
            422: "The card's brand cannot be enrolled",
        }),
        api.route("GET", enrollments, list_enrollments, query=PageQuery, summary="List the tenant's enrollments", responses={
            200: "{data, pagination: {next_cursor, has_more}}", 400: "cursor names no enrollment",
        }),
        api.route("GET", enrollments + "/{id}", get_enrollment, summary="Retrieve an enrollment", responses={200: "The enrollment"}),
        api.route("DELETE", enrollments + "/{id}", delete_enrollment, summary="Delete an enrollment", responses=deleted),
        api.route("POST", enrollments + "/{id}/retry", retry, summary="Retry a failed enrollment",
                  responses={200: "The enrollment", 422: "Only failed enrollments can be retried"}),
        api.route("POST", enrollments + "/{id}/verify", verify("start", VerifyStart, lambda b: None), body=VerifyStart,
                  summary="Start the cardholder's verification of an enrollment", responses={
            200: "The verification's next step", 409: "The enrollment is not pending_verification", 422: step,
        }),
        api.route("POST", enrollments + "/{id}/verify/method", verify("method", VerifyMethod, lambda b: b.method_id), body=VerifyMethod,
                  summary="Choose the OTP method",
                  responses={200: "The verification's next step", 400: "Not an offered method", 422: step}),
        api.route("POST", enrollments + "/{id}/verify/otp", verify("otp", VerifyOtp, lambda b: b.otp_code), body=VerifyOtp,
                  summary="Send the OTP", responses={200: "The verification's next step", 422: step}),
        api.route("POST", enrollments + "/{id}/verify/complete", verify("complete", VerifyComplete, lambda b: None),
                  body=VerifyComplete, empty_ok=True, summary="Complete the verification (passkey or Mastercard)",
                  responses={200: "The verification's outcome", 422: step}),
        api.route("POST", instructions, create_instruction, body=InstructionCreate, summary="Create an instruction for an agent",
                  responses={201: "The instruction", 400: "expires_at is not in the future",
                             422: "The enrollment is missing or not active"}),
        api.route("GET", instructions, list_instructions, query=PageQuery, summary="List an agent's instructions", responses={
            200: "{data, pagination: {next_cursor, has_more}}", 400: "cursor names no instruction",
        }),
        api.route("GET", instructions + "/{id}", get_instruction, summary="Retrieve an instruction", responses={200: "The instruction"}),
        api.route("PATCH", instructions + "/{id}", update_instruction, body=InstructionUpdate, empty_ok=True,
                  summary="Update an instruction (a higher amount needs the cardholder again)",
                  responses={200: "The instruction", 422: "The instruction's status does not allow it"}),
        api.route("DELETE", instructions + "/{id}", delete_instruction, summary="Delete an instruction", responses=deleted),
        api.route("POST", instructions + "/{id}/verify", verify_instruction, body=VerifyStart,
                  summary="Start the cardholder's verification of an instruction",
                  responses={200: "The verification's next step", 422: "The instruction is not pending_verification"}),
        api.route("POST", instructions + "/{id}/verify/passkey", verify_passkey, body=VerifyPasskey,
                  summary="Finish an instruction's verification with the passkey's assurance data",
                  responses={200: "The instruction, approved",
                             422: "The verification was not started or did not succeed"}),
        api.route("POST", instructions + "/{id}/credentials", credentials, body=CredentialsCreate, empty_ok=True,
                  summary="Get a payment credential under an approved instruction", responses={
            201: "The credential", 400: "The merchant is required for card instructions",
            422: "The instruction or enrollment does not allow it, or the amount is above the instruction's",
        }),
    ]


INFO = ApiInfo(
    title="Basis Theory platform (sandbox)",
    description=(
        "Card tokens, agentic enrollments, agents, instructions and credentials, 3-D Secure and webhooks at the paths of "
        "https://api.basistheory.com (as the official SDK calls them), emulated by the sandbox. Errors are RFC 7807 "
        "problem details; a wrong-state call is a 422, as the SDK declares."
    ),
    security={"apiKey": api_key_scheme("BT-API-KEY", "A test key, key_test_<anything>: each key is its own tenant")},
    auth_responses={401: "The key is missing or not a test key"},
)
