"""Issue 13, "State and the outbox": one provider, tenant or receiver cannot disturb another's.

- Id streams belong to a provider and a tenant: a reset scoped to one provider never restarts
  another's, the sandbox's own streams (webhook endpoints, deliveries, scenarios) are out of
  reach of any tenant name, and each provider's ids repeat with the seed whatever the others do.
- A hanging receiver holds only its own endpoint's slots: a healthy one gets every event at once.
- Crossmint's unpaged lists are complete, and a JWT cannot act for the key's default user.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
from aiohttp import web
from sandbox.core.runtime import RUNTIME, Runtime
from sandbox.providers.crossmint.agents import Agents
from sandbox.providers.crossmint.auth import DEFAULT_USER
from sandbox.providers.crossmint.models import AgentBody
from sandbox.providers.crossmint.records import Records

from tests.bt import Bt
from tests.cm import Cm
from tests.conftest import Api

BT_PROJECT = "550e8400-e29b-41d4-a716-446655440000"  # tests.bt's project, also a valid Crossmint project


def runtime(api: Api) -> Runtime:
    return api.client.server.app[RUNTIME]


def user_jwt(sub: str) -> str:
    return jwt.encode({"sub": sub}, "not-checked", algorithm="HS256")


# -- id streams ---------------------------------------------------------------------------


async def test_a_reset_scoped_to_dino_does_not_restart_crossmint_ids(api):
    cm = Cm(api.client, key="sk_staging_shared")
    first = await cm.ok("POST", "/agents", {"metadata": {"name": "First"}}, 201)
    status, body = await api.control("POST", "/_sandbox/reset", {"provider": "dino", "tenant": "shared"})
    assert status == 200, body
    second = await cm.ok("POST", "/agents", {"metadata": {"name": "Second"}}, 201)
    assert second["agentId"] != first["agentId"]
    assert (await cm.ok("GET", f"/agents/{first['agentId']}"))["metadata"]["name"] == "First"  # not replaced
    assert len(await cm.ok("GET", "/agents")) == 2


async def test_a_reset_scoped_to_a_provider_restarts_its_ids_only(api):
    cm = Cm(api.client)
    first = await cm.agent()
    dino = await api.create()
    status, _ = await api.control("POST", "/_sandbox/reset", {"provider": "crossmint"})
    assert status == 200
    assert await cm.agent() == first  # Crossmint starts again from the seed ...
    assert (await api.create())["id"] != dino["id"]  # ... and Dino goes on
    assert (await api.get(dino["id"]))[0] == 200


async def test_the_sandboxs_own_streams_cannot_be_reset(api):
    status, body = await api.control("POST", "/_sandbox/reset", {"tenant": "_webhooks"})
    assert status == 400 and body["error"]["details"]["field"] == "tenant", body
    first = (await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://a.test/h"}))[1]
    # Even below the control plane, no tenant name reaches them: a tenant called `_webhooks` is a tenant.
    rt = runtime(api)
    rt.reset(tenant="_webhooks")
    rt.reset(provider="dino", tenant="_webhooks")
    rt.reset()
    second = (await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://a.test/h"}))[1]
    assert second["id"] != first["id"] and second["secret"] != first["secret"]


async def test_a_crossmint_project_named_like_an_internal_stream_draws_its_own_ids(api):
    before = (await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://a.test/h"}))[1]
    cm = Cm(api.client, key="sk_staging__webhooks")  # project `_webhooks`
    await cm.intent()
    after = (await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://a.test/h"}))[1]
    fresh = await _endpoint_ids_of_a_fresh_sandbox(api)
    assert [before["id"], after["id"]] == fresh


async def _endpoint_ids_of_a_fresh_sandbox(api: Api) -> list[str]:
    from sandbox.app import create_app
    from sandbox.config import Settings

    rt = runtime(api)
    other = create_app(Settings(seed=rt.settings.seed, clock="2026-01-01T00:00:00.000Z"))[RUNTIME]
    return [other.endpoints.add("dino", "http://a.test/h", "now").id for _ in range(2)]


async def bt_transcript(api: Api) -> list[Any]:
    bt = Bt(api.client)
    intent = await bt.intent("4000056655665556")
    method = await bt.payment_method()
    return [intent["id"], intent["paymentMethodId"], method["id"]]


async def test_basis_theory_ai_ids_do_not_depend_on_crossmint_traffic(make_api):
    alone = await bt_transcript(await make_api(seed=11))
    crowded_api = await make_api(seed=11)
    cm = Cm(crowded_api.client, key=f"sk_staging_{BT_PROJECT}")  # the same tenant name on another provider
    await cm.intent()
    assert await bt_transcript(crowded_api) == alone


async def dino_transcript(api: Api) -> list[Any]:
    intent = await api.issued_intent()
    return [intent["id"], intent["payment_credential"], [e["id"] for e in await api.events(provider="dino")]]


async def test_each_providers_ids_repeat_whatever_the_others_do(make_api):
    """Every provider, the same tenant name everywhere: its ids are those it has alone."""
    shared = "key_test_shared"  # a BT platform key, a Crossmint project and a BT AI project at once

    async def platform(api: Api) -> list[str]:
        card = {"type": "card", "data": {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}}
        async with api.client.post("/tokens", json=card, headers={"BT-API-KEY": shared}) as resp:
            assert resp.status == 201
            return [(await resp.json())["id"]]

    async def crossmint(api: Api) -> list[str]:
        intent = await Cm(api.client, key=f"sk_staging_{shared}").intent()
        return [intent["orderIntentId"], intent["agentId"], intent["payment"]["paymentMethodId"]]

    async def bt(api: Api) -> list[str]:
        bt = Bt(api.client, project=shared)
        intent = await bt.intent()
        return [intent["id"], intent["paymentMethodId"]]

    flows = {"btplatform": platform, "crossmint": crossmint, "basistheory": bt}
    for name, flow in flows.items():
        alone = await flow(await make_api(seed=3))
        crowded = await make_api(seed=3)
        for other, other_flow in flows.items():
            if other != name:
                await other_flow(crowded)
        assert await flow(crowded) == alone, name


# -- a hanging receiver ----------------------------------------------------------------------


class Receivers:
    def __init__(self, expected: int) -> None:
        self.gate = asyncio.Event()
        self.hanging_now = self.hanging_most = self.hanging_total = 0
        self.healthy: list[str] = []
        self.expected = expected
        self.all_healthy = asyncio.Event()

    async def hang(self, request: web.Request) -> web.Response:
        await request.read()
        self.hanging_total += 1
        self.hanging_now += 1
        self.hanging_most = max(self.hanging_most, self.hanging_now)
        try:
            await self.gate.wait()
        finally:
            self.hanging_now -= 1
        return web.Response(text="late")

    async def ok(self, request: web.Request) -> web.Response:
        self.healthy.append((await request.json())["id"])
        if len(self.healthy) == self.expected:
            self.all_healthy.set()
        return web.Response(text="ok")


async def test_a_hanging_receiver_does_not_delay_another_endpoint(make_api, aiohttp_server):
    healthy_events = 300
    receivers = Receivers(healthy_events)
    app = web.Application()
    app.router.add_post("/hang", receivers.hang)
    app.router.add_post("/ok", receivers.ok)
    server = await aiohttp_server(app)
    # A hanging attempt lasts up to the webhook timeout; the healthy receiver must not wait for it.
    timeout = 8.0
    api = await make_api(webhook_timeout_seconds=timeout)
    slow, fast = api.as_key("din_test_slow"), api.as_key("din_test_fast")
    for key, path in ((slow.key, "/hang"), (fast.key, "/ok")):
        status, body = await api.control(
            "POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": str(server.make_url(path)), "tenant": key},
        )
        assert status == 201, body
    for _ in range(40):  # 40 deliveries for the hanging receiver, queued first
        await slow.create()
    started = asyncio.get_running_loop().time()
    for _ in range(healthy_events):
        await fast.create()
    try:
        await asyncio.wait_for(receivers.all_healthy.wait(), timeout / 2)
    finally:
        held = receivers.hanging_now
        receivers.gate.set()  # the hanging receiver answers at last
    assert len(receivers.healthy) == healthy_events
    assert asyncio.get_running_loop().time() - started < timeout / 2
    assert held == 4  # the hanging endpoint holds its own 4 slots, no more
    status, body = await api.control("POST", "/_sandbox/webhooks/flush?timeout=30")
    assert (status, body) == (200, {"flushed": True, "pending": 0}), body
    assert receivers.hanging_total == 40 and receivers.hanging_most == 4


# -- Crossmint ----------------------------------------------------------------------------------


async def test_crossmint_lists_are_complete(api):
    rt = runtime(api)
    agents = Agents(Records(rt))
    sub = "lister"
    for n in range(10_001):
        agents.create("demo", sub, AgentBody.model_validate({"metadata": {"name": f"a{n}"}}))
    listed = await Cm(api.client, jwt=user_jwt(sub)).ok("GET", "/agents")
    assert len(listed) == 10_001
    assert [a["metadata"]["name"] for a in listed[:2]] == ["a10000", "a9999"]  # newest first


async def test_a_jwt_cannot_act_for_the_keys_default_user(api):
    key_only = Cm(api.client)
    agent = await key_only.agent("Mine")
    for sub in {"default-user", DEFAULT_USER} - {""}:  # a JWT's sub is never empty
        intruder = Cm(api.client, jwt=user_jwt(sub))
        assert await intruder.ok("GET", "/agents") == []
        status, _, _ = await intruder.request("GET", f"/agents/{agent}")
        assert status == 404
    # Key-only callers keep their objects.
    assert [a["agentId"] for a in await key_only.ok("GET", "/agents")] == [agent]


async def test_crossmint_order_intents_list_in_full_with_their_filter(api):
    cm = Cm(api.client)
    agent = await cm.agent()
    method = await cm.enrolled()
    made = [(await cm.intent(method, agent))["orderIntentId"] for _ in range(3)]
    listed = await cm.ok("GET", f"/order-intents?agentId={agent}")
    assert [i["orderIntentId"] for i in listed] == made[::-1]


# -- scenario files -------------------------------------------------------------------------------


async def test_the_control_plane_refuses_an_infinite_number_with_its_line(api):
    text = (
        "name: s\nrules:\n  - provider: dino\n    on: authorize\n"
        "    when: {request.expected_total_cents: {gt: .inf}}\n    then: {status: declined}\n"
    )
    async with api.client.post("/_sandbox/scenarios", data=text, headers={"Content-Type": "application/yaml"}) as resp:
        body = await resp.json()
    assert resp.status == 400, body
    (field,) = body["error"]["details"]["errors"]
    assert field["field"] == "rules.0.when.request.expected_total_cents.gt" and "(line 5)" in field["message"], body
    assert (await api.control("GET", "/_sandbox/scenarios"))[1]["data"] == []


async def platform_webhook(api, key: str) -> dict:
    async with api.client.post(
        "/webhooks", json={"name": "w", "url": "http://hooks.example/x", "events": ["token.created"]}, headers={"BT-API-KEY": key},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def secret_of(api, webhook_id: str) -> str:
    status, endpoint = await api.control("GET", f"/_sandbox/webhook-endpoints/{webhook_id}")
    assert status == 200
    return endpoint["secret"]


async def test_a_platform_webhooks_id_and_secret_depend_on_its_tenant_only(make_api):
    alone = await make_api()
    first = await platform_webhook(alone, "key_test_a")
    shared = await make_api()
    await platform_webhook(shared, "key_test_b")  # another tenant first
    again = await platform_webhook(shared, "key_test_a")
    assert again["id"] == first["id"]
    assert await secret_of(shared, again["id"]) == await secret_of(alone, first["id"])
    await shared.control("POST", "/_sandbox/reset", {"tenant": "key_test_a"})
    status, _ = await shared.control("GET", f"/_sandbox/webhook-endpoints/{again['id']}")
    assert status == 404  # the tenant's own object, forgotten by its reset
    assert (await platform_webhook(shared, "key_test_a"))["id"] == first["id"]  # and its ids start again
