"""Webhook endpoints and the delivery log, under /_sandbox/."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from sandbox.control.models import DeliveryQuery, EndpointBody, EndpointPatch, Flush, Rotate
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, from_validation, invalid_field
from sandbox.core.http import json_response
from sandbox.core.webhooks.endpoints import Endpoint


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    def endpoint(call: Call) -> Endpoint:
        found = rt.endpoints.get(call.param("id"))
        if found is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"webhook endpoint {call.param('id')} not found")
        return found

    def show(found: Endpoint, status: int = 200) -> Reply:
        return Reply(found.to_wire(rt.clock.timestamp()), status)

    def create(call: Call) -> Reply:
        body = call.parse(EndpointBody)
        if body.provider not in rt.providers:
            raise invalid_field("provider", f"must be one of {', '.join(rt.providers.names)}")
        options = body.model_dump(exclude={"provider", "url"}, exclude_none=True)
        return show(rt.endpoints.add(body.provider, body.url, iso(rt.clock.now()), **options), 201)

    def list_endpoints(call: Call) -> Reply:
        now = rt.clock.timestamp()
        return Reply({"object": "list", "data": [e.to_wire(now) for e in rt.endpoints.all()]})

    def update(call: Call) -> Reply:
        found, changes = endpoint(call), call.parse(EndpointPatch).model_dump(exclude_unset=True)
        for name, value in changes.items():
            setattr(found, name, value)
        if changes.get("enabled"):
            found.disabled_reason = None
        elif changes.get("enabled") is False:
            found.disabled_reason = "disabled through the control plane"
        return show(found)

    def delete(call: Call) -> Reply:
        rt.endpoints.remove(endpoint(call).id)
        return Reply(None, 204)

    def rotate(call: Call) -> Reply:
        found, body = endpoint(call), call.parse(Rotate, empty_ok=True)
        rt.endpoints.rotate(found, rt.clock.timestamp(), body.overlap_seconds, body.secret)
        return show(found)

    def deliveries(call: Call) -> Reply:
        query = call.query(DeliveryQuery)
        found = rt.outbox.query(**query.model_dump(exclude={"limit"}))
        return Reply({"object": "list", "data": [d.to_wire() for d in found[-query.limit:]]})

    def delivery(call: Call) -> Reply:
        found = rt.outbox.get(call.param("id"))
        if found is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"webhook delivery {call.param('id')} not found")
        return Reply(found.to_wire())

    def resend(call: Call) -> Reply:
        found = rt.outbox.resend(call.param("id"))
        if found is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"webhook delivery {call.param('id')} not found")
        return Reply(found.to_wire(), 202)

    base, log = "/_sandbox/webhook-endpoints", "/_sandbox/webhook-deliveries"
    return [
        api.route("POST", base, create),
        api.route("GET", base, list_endpoints),
        api.route("GET", base + "/{id}", lambda call: show(endpoint(call))),
        api.route("PATCH", base + "/{id}", update),
        api.route("DELETE", base + "/{id}", delete),
        api.route("POST", base + "/{id}/rotate-secret", rotate),
        api.route("GET", log, deliveries),
        api.route("GET", log + "/{id}", delivery),
        api.route("POST", log + "/{id}/resend", resend),
        web.post("/_sandbox/webhooks/flush", _flush(api)),
    ]


def _flush(api: ProviderApi):
    """Waits (asynchronously, so it is not a plain handler) until every due delivery was attempted."""

    async def flush(request: web.Request) -> web.Response:
        try:
            timeout = Flush.model_validate(dict(request.query)).timeout
        except ValidationError as exc:
            raise from_validation(exc) from None
        done = await api.runtime.outbox.flush(timeout)
        pending = len(api.runtime.outbox.query(status="pending"))
        return json_response({"flushed": done, "pending": pending}, 200 if done else 504)

    return flush
