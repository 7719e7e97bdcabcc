"""Webhook endpoints and the delivery log, under /_sandbox/."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from sandbox.control.errors import known_provider
from sandbox.control.models import DeliveryQuery, EndpointBody, EndpointPatch, Flush, Rotate
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, from_validation
from sandbox.core.http import json_response
from sandbox.core.openapi import ResponseDoc
from sandbox.core.persistence import outside_turn
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
        known_provider(rt, body.provider)
        options = body.model_dump(exclude={"provider", "url"}, exclude_none=True)
        return show(rt.endpoints.add(body.provider, body.url, iso(rt.clock.now()), **options), 201)

    def list_endpoints(call: Call) -> Reply:
        now = rt.clock.timestamp()
        return Reply({"object": "list", "data": [e.to_wire(now) for e in rt.endpoints.all()]})

    def update(call: Call) -> Reply:
        found, changes = endpoint(call), call.parse(EndpointPatch).model_dump(exclude_unset=True)
        if "url" in changes:
            rt.endpoints.check_url(changes["url"])  # never the sandbox itself; the allow-list when set
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
        known_provider(rt, query.provider)
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
    one, listed = "The endpoint (with its secret)", "{object: list, data}"
    return [
        api.route("POST", base, create, body=EndpointBody, summary="Register a webhook endpoint for a provider's events",
                  responses={201: one, 400: "An unknown provider, a bad URL or secret"}),
        api.route("GET", base, list_endpoints, summary="List the webhook endpoints", responses={200: listed}),
        api.route("GET", base + "/{id}", lambda call: show(endpoint(call)), summary="Retrieve a webhook endpoint", responses={200: one}),
        api.route("PATCH", base + "/{id}", update, body=EndpointPatch, summary="Change a webhook endpoint", responses={200: one}),
        api.route("DELETE", base + "/{id}", delete, summary="Remove a webhook endpoint", responses={204: "Removed"}),
        api.route("POST", base + "/{id}/rotate-secret", rotate, body=Rotate, empty_ok=True,
                  summary="Rotate an endpoint's secret (the old one keeps signing for an overlap)", responses={200: one}),
        api.route("GET", log, deliveries, query=DeliveryQuery, summary="The webhook delivery log (every attempt)",
                  responses={200: listed}),
        api.route("GET", log + "/{id}", delivery, summary="One delivery and its attempts", responses={200: "The delivery"}),
        api.route("POST", log + "/{id}/resend", resend, summary="Send a delivery again", responses={202: "The delivery, pending"}),
        api.document("POST", "/_sandbox/webhooks/flush", _flush(api), query=Flush, checked_query=True,
                     summary="Wait until every due delivery was attempted (or the timeout)", responses={
            200: ResponseDoc("{flushed: true, pending}", schema=FLUSHED),
            400: "timeout is not a number of seconds in (0, 120]",
            504: ResponseDoc("The timeout passed first: {flushed: false, pending}", schema=FLUSHED),
        }),
    ]


FLUSHED = {
    "type": "object", "properties": {"flushed": {"type": "boolean"}, "pending": {"type": "integer"}}, "required": ["flushed", "pending"],
}


def _flush(api: ProviderApi):
    """Waits (asynchronously, so it is not a plain handler) until every due delivery was attempted."""

    @outside_turn  # it waits for deliveries, which take turns of their own
    async def flush(request: web.Request) -> web.Response:
        try:
            timeout = Flush.model_validate(dict(request.query)).timeout
        except ValidationError as exc:
            raise from_validation(exc) from None
        done = await api.runtime.outbox.flush(timeout)
        pending = len(api.runtime.outbox.query(status="pending"))
        return json_response({"flushed": done, "pending": pending}, 200 if done else 504)

    return flush
