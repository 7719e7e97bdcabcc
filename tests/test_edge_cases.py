"""Bad input found by review: each gets a 4xx (or is ignored), never a 500."""

import asyncio

import pytest
from aiohttp import web

from tests.bt import Bt
from tests.cm import MAX
from tests.conftest import intent_body


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_bodies_nested_too_deeply_are_400(api):
    for headers in ({}, {"Idempotency-Key": "deep"}):
        status, body, _ = await api.request("POST", "/v1/purchase-intents", {**intent_body(), "x": nested(300)}, headers=headers)
        assert status == 400 and "nested too deeply" in body["error"]["message"]


async def test_unicode_digits_in_card_numbers_are_400(make_api):
    bt = Bt((await make_api()).client)
    status, body, _ = await bt.request("POST", "/payment-methods", {"entityId": bt.entity, "card": {
        "number": "\u00b2424242424242407", "expirationMonth": "12", "expirationYear": "2030", "cvc": "123"}})
    assert status == 400 and "card.number" in body["error"]["details"]["fields"]


@pytest.mark.parametrize("changes, field", [
    ({"mandates": [{"type": ["x"]}]}, "mandates.0.type"),
    ({"expiresAt": "0000-01-01T00:00:00Z"}, "expiresAt"),
    ({"expiresAt": "\uff12\uff10\uff13\uff10-01-01T00:00:00Z"}, "expiresAt"),
])
async def test_crossmint_odd_values_are_400(cm, changes, field):
    body = {"agentId": await cm.agent(), "payment": {"paymentMethodId": "pm_x"}, "mandates": [MAX], **changes}
    status, resp, _ = await cm.request("POST", "/order-intents", body)
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"])


async def test_the_clock_stays_inside_datetimes_range(api):
    status, body = await api.control("POST", "/_sandbox/clock", {"now": "9999-12-31T23:00:00-12:00"})
    assert status == 400 and body["error"]["details"]["field"] == "now"
    await api.control("POST", "/_sandbox/clock", {"now": "8999-12-31T00:00:00Z"})
    status, body = await api.control("POST", "/_sandbox/clock/advance", {"seconds": 10 * 86400})
    assert status == 400 and body["error"]["details"]["field"] == "seconds"
    assert (await api.control("GET", "/_sandbox/health"))[0] == 200


@pytest.mark.parametrize("text, content_type", [
    (b"name: \xff\xfe\n", "application/yaml"),
    (b"name: x\n", "application/yaml; charset=nope"),
    (b"name: s\nrules:\n  - {on: request, then: {fault: {status: 503, body: !!set {a, b}}}}\n", "application/yaml"),
    (b"name: s\nrules:\n  - {on: request, then: {fault: {status: 503, body: {1: x}}}}\n", "application/yaml"),
    (b"a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nname: bomb\n", "application/yaml"),
])
async def test_bad_scenario_uploads_are_400_and_load_nothing(api, text, content_type):
    async with api.client.post("/_sandbox/scenarios", data=text, headers={"Content-Type": content_type}) as resp:
        assert resp.status in (400, 415), await resp.text()
    status, listing = await api.control("GET", "/_sandbox/scenarios")
    assert status == 200 and listing["data"] == []


async def test_tenant_scoped_faults_and_header_names_without_case(api):
    text = b"name: f\nrules:\n  - {on: request, when: {headers.X-Fail: 'yes'}, then: {fault: {status: 418}}}\n"
    async with api.client.post(
        "/_sandbox/scenarios?tenant=din_test_alice", data=text, headers={"Content-Type": "application/yaml"}
    ) as resp:
        assert resp.status == 201
    assert (await api.request("GET", "/v1/purchase-intents", headers={"x-fail": "yes"}))[0] == 418
    assert (await api.as_key("din_test_bob").request("GET", "/v1/purchase-intents", headers={"X-FAIL": "yes"}))[0] == 200


async def test_odd_retry_after_values(aiohttp_server, make_api):
    answers = [(503, {"Retry-After": "99999999999999"}), (503, {"Retry-After": "\u00b2"})]

    async def handle(request):
        status, headers = answers.pop(0) if answers else (200, {})
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/h", handle)
    server = await aiohttp_server(app)
    api = await make_api()
    await api.control(
        "POST",
        "/_sandbox/webhook-endpoints",
        {"provider": "dino", "url": str(server.make_url("/h")), "events": ["purchase_intent.created"]},
    )
    await api.create()
    await api.control("POST", "/_sandbox/webhooks/flush")
    status, log = await api.control("GET", "/_sandbox/webhook-deliveries")
    assert status == 200
    (delivery,) = log["data"]
    assert delivery["next_attempt_at"] == "2026-01-08T00:00:00.000Z"  # capped at a week
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 7 * 86400})
    await api.control("POST", "/_sandbox/webhooks/flush")
    status, delivery = await api.control("GET", f"/_sandbox/webhook-deliveries/{delivery['id']}")
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2]  # the odd header is ignored, once
    assert delivery["next_attempt_at"] == "2026-01-08T00:05:00.000Z"  # the schedule's second delay


async def test_a_resend_during_an_attempt_runs_right_after_it(aiohttp_server, make_api):
    gate, arrived = asyncio.Event(), asyncio.Event()
    calls = []

    async def handle(request):
        calls.append(1)
        arrived.set()
        if len(calls) == 1:
            await gate.wait()
        return web.Response(status=503 if len(calls) == 1 else 200)

    app = web.Application()
    app.router.add_post("/h", handle)
    server = await aiohttp_server(app)
    api = await make_api()
    await api.control(
        "POST",
        "/_sandbox/webhook-endpoints",
        {"provider": "dino", "url": str(server.make_url("/h")), "events": ["purchase_intent.created"]},
    )
    await api.create()
    await asyncio.wait_for(arrived.wait(), 5)  # the first attempt is now in flight
    _, log = await api.control("GET", "/_sandbox/webhook-deliveries")
    status, _ = await api.control("POST", f"/_sandbox/webhook-deliveries/{log['data'][0]['id']}/resend")
    assert status == 202
    gate.set()
    await api.control("POST", "/_sandbox/webhooks/flush")
    await api.control("POST", "/_sandbox/webhooks/flush")
    _, delivery = await api.control("GET", f"/_sandbox/webhook-deliveries/{log['data'][0]['id']}")
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200] and delivery["status"] == "delivered"


async def test_errors_are_recorded_too(api):
    await api.control("POST", "/_sandbox/recording", {"enabled": True})
    await api.request("GET", "/v1/purchase-intents/pi_missing")
    async with api.client.get("/_sandbox/recording") as resp:
        text = await resp.text()
    assert "pi_missing" in text and "status: 404" in text


def test_yaml_dates_stay_strings():
    from sandbox.app import catalog
    from sandbox.core.scenarios.loader import parse

    loaded = parse("name: d\nsteps:\n  - request: {method: POST, path: /x, body: {day: 2026-01-01}}\n", catalog())
    assert loaded.steps[0].request.body == {"day": "2026-01-01"}
