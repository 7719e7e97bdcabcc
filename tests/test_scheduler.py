"""Time that moves by itself: due transitions fire, with their events and webhooks, without a read."""

from __future__ import annotations

import time

import standardwebhooks

from tests.bt import Bt
from tests.test_webhooks import dino_recipe, flush, register, sandbox  # noqa: F401  (fixtures)


async def advance(api, seconds: float) -> None:
    status, _ = await api.control("POST", "/_sandbox/clock/advance", {"seconds": seconds})
    assert status == 200


async def test_a_pending_intent_is_announced_active_after_an_advance_with_no_read(sandbox, receiver):  # noqa: F811
    endpoint = await register(sandbox, "basistheory", receiver.url)
    bt = Bt(sandbox.client)
    intent = await bt.intent("378282246310005")  # the Amex magic card: pending for 60 s
    assert intent["status"] == "pending"
    await advance(sandbox, 61)
    await flush(sandbox)
    verifier = standardwebhooks.Webhook(endpoint["secret"])
    events = [verifier.verify(body, headers) for headers, body in receiver.requests]
    _, log = await sandbox.control("GET", "/_sandbox/webhook-deliveries")  # said if this fails (seen once in CI, on SQLite)
    assert [e["type"] for e in events] == ["purchase_intent.created", "purchase_intent.activated"], log
    assert events[1]["timestamp"] == "2026-01-01T00:01:00Z"  # stamped with the due moment, not the advance
    assert events[1]["data"]["status"] == "active"


async def test_expiry_fires_in_due_order_after_activation(sandbox):  # noqa: F811
    bt = Bt(sandbox.client)
    intent = await bt.intent("378282246310005")
    await advance(sandbox, 2 * 86400)  # past activation (60 s) and the 24-hour expiry at once
    types = [e["type"] for e in await sandbox.events(provider="basistheory", object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.activated", "purchase_intent.expired"]


async def test_a_timed_operator_decision_fires_unread(api):
    scenario = (
        "name: later\nrules:\n  - {provider: dino, on: authorize, "
        "then: {status: needs_approval, after: {seconds: 30, status: approved}}}\n"
    )
    async with api.client.post("/_sandbox/scenarios", data=scenario, headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 201
    intent = await api.create()
    status, body, _ = await api.authorize(intent["id"])
    assert body["status"] == "needs_approval"
    await advance(api, 29)
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == "purchase_intent.needs_approval"
    await advance(api, 2)
    events = await api.events(object_id=intent["id"])
    assert events[-1]["type"] == "purchase_intent.authorized"
    assert events[-1]["occurred_at"] == "2026-01-01T00:00:30.000Z"


async def test_an_unused_expired_credential_gives_its_reserve_back(api):
    await api.issued_intent()  # reserves 4599 for 900 s
    status, wallet, _ = await api.request("GET", "/v1/balance")
    assert (wallet["available_cents"], wallet["reserved_cents"]) == (1_000_000 - 4599, 4599)
    await advance(api, 901)
    status, wallet, _ = await api.request("GET", "/v1/balance")
    assert (wallet["available_cents"], wallet["reserved_cents"]) == (1_000_000, 0)


async def test_timers_of_a_reset_tenant_are_dropped(api):
    bt_api = Bt(api.client)
    intent = await bt_api.intent("378282246310005")
    status, _ = await api.control("POST", "/_sandbox/reset", {"provider": "basistheory"})
    assert status == 200
    await advance(api, 120)
    assert await api.events(object_id=intent["id"]) == []


async def test_a_crossmint_enrollment_completes_and_its_intent_moves_on_unread(cm):
    method = await cm.payment_method("4000000000000002")  # enrollment pending for 60 s
    enrollment = await cm.ok("POST", f"/payment-methods/{method}/agentic-enrollment", {"email": "jane@example.com"}, 201)
    assert enrollment["status"] == "pending"
    intent = await cm.intent(method=method)
    assert intent["phase"] == "requires-payment-method"
    await cm.control("/_sandbox/clock/advance", {"seconds": 61})
    assert await cm.events(method) == [
        "payment-methods.agentic-enrollment.pending", "payment-methods.agentic-enrollment.active",
    ]
    assert await cm.events(intent["orderIntentId"]) == ["order-intents.created", "order-intents.verification-required"]


async def test_a_crossmint_order_intent_expires_unread(cm):
    intent = await cm.intent(expiresAt="2026-01-01T01:00:00Z")
    await cm.control("/_sandbox/clock/advance", {"seconds": 3601})
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.expired"


async def test_two_moments_passed_by_one_advance_fire_as_they_would_one_by_one(cm):
    method = await cm.payment_method("4000000000000002")  # enrollment completes at 00:01
    await cm.ok("POST", f"/payment-methods/{method}/agentic-enrollment", {"email": "jane@example.com"}, 201)
    intent = await cm.intent(method=method, expiresAt="2026-01-01T01:00:00Z")
    await cm.control("/_sandbox/clock/advance", {"seconds": 3601})
    assert await cm.events(intent["orderIntentId"]) == [
        "order-intents.created", "order-intents.verification-required", "order-intents.expired",
    ]


async def test_on_a_running_clock_a_timer_fires_at_its_real_moment_with_no_read(api, receiver):
    """The background path: no advance, no read; the decision's webhook arrives when its moment comes."""
    endpoint = await register(api, "dino", receiver.url)
    scenario = (
        "name: soon\nrules:\n  - {provider: dino, on: authorize, "
        "then: {status: needs_approval, after: {seconds: 0.5, status: approved}}}\n"
    )
    async with api.client.post("/_sandbox/scenarios", data=scenario, headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 201
    status, clock = await api.control("POST", "/_sandbox/clock", {"frozen": False})
    assert (status, clock["frozen"]) == (200, False)
    intent = await api.create()
    status, body, _ = await api.authorize(intent["id"])
    asked = time.monotonic()
    assert body["status"] == "needs_approval"
    await receiver.wait_for(3)
    waited = time.monotonic() - asked
    payloads = [dino_recipe(endpoint["secret"], headers, body) for headers, body in receiver.requests]
    assert [p["type"] for p in payloads] == [
        "purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized",
    ]
    assert payloads[-1]["data"]["purchase_intent"]["status"] == "approved"
    assert 0.4 < waited < 5, waited  # at its moment: not at once, and without anyone asking
