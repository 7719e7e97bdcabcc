"""Dino's human and merchant sides, which the sandbox plays: operator decisions, checkout."""

from __future__ import annotations

from aiohttp import web

from sandbox.control.models import Decision, Execute
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import invalid_field
from sandbox.providers.dino.auth import KEY
from sandbox.providers.dino.service import DinoService


def routes(api: ProviderApi) -> list[web.RouteDef]:
    service = DinoService(api.runtime)

    def decide(approve: bool):
        def handler(call: Call) -> Reply:
            reason = call.parse(Decision, empty_ok=True).reason
            return Reply(service.decide(call.param("id"), approve, reason).to_wire())

        return handler

    def execute(call: Call) -> Reply:
        body = call.parse(Execute, empty_ok=True)
        intent = service.execute(call.param("id"), body.outcome, body.merchant, body.amount_cents, body.failure_reason)
        return Reply(intent.to_wire())

    def revoke_key(call: Call) -> Reply:
        key = call.param("key")
        match = KEY.fullmatch(key)
        if match is None or match.group(1) != "test":
            raise invalid_field("key", "must be a Dino test key such as din_test_…")
        service.revoke_key(key)
        return Reply({"key": key, "revoked": True})

    base = "/_sandbox/dino/purchase-intents/{id}"
    return [
        api.route("POST", base + "/approve", decide(True)),
        api.route("POST", base + "/deny", decide(False)),
        api.route("POST", base + "/execute", execute),
        api.route("POST", "/_sandbox/dino/api-keys/{key}/revoke", revoke_key),
    ]
