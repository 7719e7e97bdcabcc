"""Provider-neutral control endpoints: health, reset, clock and the event log."""

from __future__ import annotations

from aiohttp import web

from sandbox import __version__
from sandbox.control.errors import known_provider
from sandbox.control.models import AdvanceClock, EventQuery, Reset, SetClock
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import invalid_field
from sandbox.core.runtime import Runtime


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    def health(call: Call) -> Reply:
        return Reply({
            "status": "ok",
            "version": __version__,
            "providers": rt.providers.names,
            "seed": rt.settings.seed,
            "clock": rt.clock.describe(),
        })

    def reset(call: Call) -> Reply:
        body = call.parse(Reset, empty_ok=True)
        check_scope(rt, body.provider, body.tenant)
        rt.reset(body.provider, body.tenant)
        return Reply({"reset": True, "provider": body.provider, "tenant": body.tenant})

    def clock(call: Call) -> Reply:
        return Reply(rt.clock.describe())

    def set_clock(call: Call) -> Reply:
        body = call.parse(SetClock, empty_ok=True)
        if body.offset_seconds is not None:
            try:
                rt.clock.run_with_offset(body.offset_seconds)
            except ValueError as exc:
                raise invalid_field("offset_seconds", str(exc)) from None
        elif body.now is not None:
            rt.clock.freeze(body.now)
            if body.frozen is False:
                rt.clock.unfreeze()
        elif body.frozen is True:
            rt.clock.freeze()
        elif body.frozen is False:
            rt.clock.unfreeze()
        return Reply(rt.clock.describe())

    def advance(call: Call) -> Reply:
        try:
            rt.clock.advance(call.parse(AdvanceClock).seconds)
        except ValueError as exc:
            raise invalid_field("seconds", str(exc)) from None
        return Reply(rt.clock.describe())

    def events(call: Call) -> Reply:
        query = call.query(EventQuery)
        known_provider(rt, query.provider)
        found = rt.events.query(provider=query.provider, tenant=query.tenant, type=query.type, object_id=query.object_id)
        return Reply({"object": "list", "data": [event.summary() for event in found[-query.limit:]]})

    clock_now = "The clock: {now, frozen, …}"
    return [
        api.route("GET", "/_sandbox/health", health, summary="Health: version, providers, seed and clock", responses={200: "ok"}),
        api.route("POST", "/_sandbox/reset", reset, body=Reset, empty_ok=True,
                  summary="Forget every object (of one provider, of one tenant, or all)",
                  responses={200: "{reset: true, provider, tenant}", 400: "An unknown provider, or a tenant no provider means"}),
        api.route("GET", "/_sandbox/clock", clock, summary="The sandbox clock", responses={200: clock_now}),
        api.route("POST", "/_sandbox/clock", set_clock, body=SetClock, empty_ok=True,
                  summary="Set the clock: freeze it (at an instant), unfreeze it, or run it at an offset",
                  responses={200: clock_now}),
        api.route("POST", "/_sandbox/clock/advance", advance, body=AdvanceClock,
                  summary="Move the clock forward (what falls due happens, webhooks included)", responses={200: clock_now}),
        api.route("GET", "/_sandbox/events", events, query=EventQuery, summary="The events emitted, oldest first",
                  responses={200: "{object: list, data}"}),
    ]


def check_scope(rt: Runtime, provider: str | None, tenant: str | None) -> None:
    """A typo in a reset must be an error, never a reset of nothing."""
    known_provider(rt, provider)
    if tenant is None:
        return
    if not tenant or tenant != tenant.strip():
        raise invalid_field("tenant", "must be a tenant's name as it is sent, without surrounding spaces")
    if tenant.startswith("_"):
        raise invalid_field("tenant", "names starting with _ are the sandbox's own and cannot be reset")
    owners = [rt.providers.get(provider)] if provider is not None else list(rt.providers)
    for owner in owners:
        named = owner.tenant_named(tenant) if owner is not None else tenant
        if owner is not None and named != tenant:
            raise invalid_field("tenant", f"{owner.name}'s tenant for {tenant!r} is {named!r}: send {named!r}")
