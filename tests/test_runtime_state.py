"""What the runtime holds: traffic on every provider grows each collection, and a reset gives it back.

`Runtime.sizes()` names every collection the sandbox keeps. Configuration is what a reset keeps
on purpose: webhook endpoints, loaded scenarios and the providers' instruction resolvers. The id
streams are kept for system objects only (`_webhooks`: endpoint, scenario and delivery ids), so
that a delivery id handed out before a reset is never handed out again.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.runtime import RUNTIME, Runtime

from tests.bt import Bt
from tests.cm import Cm
from tests.conftest import OTHER_KEY, Api, intent_body

PROVIDERS = ("dino", "crossmint", "basistheory", "btplatform")
CONFIGURATION = {"endpoints", "scenarios", "instruction_resolvers"}
GROWS = {
    "spaces", "objects", "object_slots", "object_index", "deliveries", "delivery_chains", "due", "events",
    "idempotency_keys", "id_streams", "timers", "logged_requests", "probability_streams",
}
NOT_RECORDING = {"recorded_steps"}  # the recorder is off in these tests: nothing to record, nothing to reset

# Every receiver answers 500 (scripted: no socket), so every delivery stays pending with a retry due;
# the rules draw from their probability streams (which always say yes), so those exist too.
FAILING_RECEIVERS = "name: receivers-down\nrules:\n" + "".join(
    f"  - {{provider: {name}, on: deliver, probability: 1.0, then: {{delivery: {{status: 500}}}}}}\n" for name in PROVIDERS
)
BT_KEY = {"BT-API-KEY": "key_test_state"}
CARD = {"type": "card", "data": {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}}


def runtime(api: Api) -> Runtime:
    return api.client.server.app[RUNTIME]


async def configure(api: Api) -> None:
    for provider in PROVIDERS:
        status, body = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": provider, "url": "http://receiver.invalid/hooks"})
        assert status == 201, body
    async with api.client.post("/_sandbox/scenarios", data=FAILING_RECEIVERS, headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 201, await resp.text()


async def ok(client, method: str, path: str, json: Any, headers: dict[str, str], status: int = 200) -> dict[str, Any]:
    async with client.request(method, path, json=json, headers=headers) as resp:
        body = await resp.json()
        assert resp.status == status, body
        return body


async def traffic(api: Api) -> dict[str, Any]:
    """A little of everything on each provider, with idempotency keys; returns what was made."""
    made: dict[str, Any] = {}
    # Dino: purchase intents through authorize and credential, one created with an idempotency key.
    made["dino"] = (await api.issued_intent())["id"]
    status, _, _ = await api.request("POST", "/v1/purchase-intents", intent_body(), headers={"Idempotency-Key": "dino-once"})
    assert status == 201
    # … and a spend request, which waits for its 24-hour cancellation (a timer).
    status, spend, _ = await api.request("POST", "/v1/spend-requests", {"amount_cents": 60_000, "currency": "usd",
                                                                        "merchant_name": "AWS", "reason": "GPU runtime"})
    assert (status, spend["status"]) == (201, "needs_approval"), spend
    # Basis Theory AI: payment method, purchase intent, verification.
    bt = Bt(api.client)
    intent = await bt.intent("4000056655665556")  # frictionless: verified by START
    status, answer, _ = await bt.verify(intent["id"], "START")
    assert (status, answer["status"]) == (200, "VERIFIED"), answer
    status, _, _ = await bt.request(
        "POST", "/payment-methods", {"entityId": bt.entity, "card": {"number": "4242424242424242", "expirationMonth": "12",
                                                                   "expirationYear": "2030", "cvc": "123"}},
        headers={"Idempotency-Key": "bt-once"},
    )
    assert status == 201
    made["basistheory"] = intent["id"]
    # Crossmint: an agent (with an idempotency key) and an order intent.
    cm = Cm(api.client)
    status, _, _ = await cm.request("POST", "/agents", {"metadata": {"name": "Once"}}, headers={"Idempotency-Key": "cm-once"})
    assert status == 201
    made["crossmint"] = (await cm.intent())["orderIntentId"]
    allowance = await cm.allowance()  # Gen-2: a registration, an allowance with its rails
    assert allowance["status"] == "active", allowance
    # Basis Theory platform: a token, a 3-D Secure session, its authentication (with an idempotency key).
    token = await ok(api.client, "POST", "/tokens", CARD, BT_KEY, 201)
    session = await ok(api.client, "POST", "/3ds/sessions", {"token_id": token["id"], "device": "browser"}, BT_KEY, 201)
    auth = await ok(
        api.client, "POST", f"/3ds/sessions/{session['id']}/authenticate",
        {"authentication_category": "payment", "authentication_type": "payment-transaction"}, {**BT_KEY, "BT-IDEMPOTENCY-KEY": "3ds-once"},
    )
    assert auth["authentication_status"] == "successful"
    tagged = await ok(api.client, "POST", "/tokens", {**CARD, "metadata": {"order": "A-1"}}, BT_KEY, 201)
    found = await ok(api.client, "POST", "/v2/tokens/search", {"query": "metadata.order:A-1"}, BT_KEY)
    assert [token["id"] for token in found["data"]] == [tagged["id"]]
    made["btplatform"] = token["id"]
    status, body = await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    assert (status, body["flushed"]) == (200, True), body
    return made


async def test_sizes_name_every_collection(api):
    assert set(runtime(api).sizes()) == CONFIGURATION | GROWS | NOT_RECORDING


async def test_traffic_grows_every_collection_and_a_full_reset_gives_it_back(api):
    rt = runtime(api)
    await configure(api)
    before = rt.sizes()
    made = await traffic(api)
    during = rt.sizes()
    assert {key for key in GROWS if during[key] <= before[key]} == set(), (before, during)
    assert {key: during[key] for key in CONFIGURATION | NOT_RECORDING} == {key: before[key] for key in CONFIGURATION | NOT_RECORDING}
    events = await api.events()
    assert {e["provider"] for e in events} == set(PROVIDERS)
    status, listing = await api.control("GET", "/_sandbox/webhook-deliveries?status=pending")
    assert {d["provider"] for d in listing["data"]} == set(PROVIDERS)
    old_deliveries = {d["id"] for d in listing["data"]}

    status, body = await api.control("POST", "/_sandbox/reset", {})
    assert (status, body) == (200, {"reset": True, "provider": None, "tenant": None})
    after = rt.sizes()
    # Every collection is back where it was, but for the delivery id stream, kept on purpose (see below),
    # and the request log, which now holds the reset alone (the configuring requests went with it).
    assert after["logged_requests"] == 1
    assert {**after, "id_streams": after["id_streams"] - 1, "logged_requests": before["logged_requests"]} == before, (before, after)

    assert await api.events() == []
    assert (await api.control("GET", "/_sandbox/webhook-deliveries"))[1]["data"] == []
    assert (await api.get(made["dino"]))[0] == 404
    assert (await Bt(api.client).request("GET", f"/purchase-intents/{made['basistheory']}"))[0] == 404
    assert (await Cm(api.client).request("GET", f"/order-intents/{made['crossmint']}"))[0] == 404
    async with api.client.get(f"/tokens/{made['btplatform']}", headers=BT_KEY) as resp:
        assert resp.status == 404
    # Configuration stays: the endpoints still get (scripted, failing) deliveries.
    assert len((await api.control("GET", "/_sandbox/webhook-endpoints"))[1]["data"]) == len(PROVIDERS)
    assert len((await api.control("GET", "/_sandbox/scenarios"))[1]["data"]) == 1
    # Object ids start again from the seed; delivery ids do not repeat.
    assert (await api.create())["id"] == made["dino"]
    await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    (fresh,) = (await api.control("GET", "/_sandbox/webhook-deliveries"))[1]["data"]
    assert fresh["status"] == "pending" and fresh["id"] not in old_deliveries


async def test_ids_start_again_after_a_reset(api):
    first = await api.create()
    await api.create()
    await api.control("POST", "/_sandbox/reset", {})
    assert (await api.create())["id"] == first["id"]
    assert [e["object_id"] for e in await api.events()] == [first["id"]]


async def test_a_reset_for_one_tenant_leaves_the_others(api):
    rt = runtime(api)
    await configure(api)
    alice, bob = api, api.as_key(OTHER_KEY)
    mine = await alice.create()
    theirs = await bob.create()
    status, kept, _ = await bob.request("POST", "/v1/purchase-intents", intent_body(), headers={"Idempotency-Key": "shared"})
    assert status == 201
    status, _, _ = await alice.request("POST", "/v1/purchase-intents", intent_body(), headers={"Idempotency-Key": "shared"})
    assert status == 201
    order = await Cm(api.client).intent()
    await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    before = rt.sizes()

    status, body = await api.control("POST", "/_sandbox/reset", {"tenant": "din_test_alice"})
    assert (status, body["tenant"]) == (200, "din_test_alice")
    after = rt.sizes()
    for key in ("objects", "events", "deliveries", "idempotency_keys", "id_streams"):
        assert 0 < after[key] < before[key], key  # some gone, some kept
    assert (await alice.get(mine["id"]))[0] == 404
    assert (await bob.get(theirs["id"]))[0] == 200
    assert (await Cm(api.client).request("GET", f"/order-intents/{order['orderIntentId']}"))[0] == 200
    assert {e["tenant"] for e in await api.events()} == {"din_test_bob", "demo"}  # demo: the Crossmint project
    assert {d["tenant"] for d in (await api.control("GET", "/_sandbox/webhook-deliveries"))[1]["data"]} == {"din_test_bob", "demo"}
    # Bob's idempotency key still replays; Alice's was forgotten.
    _, replay, headers = await bob.request("POST", "/v1/purchase-intents", intent_body(), headers={"Idempotency-Key": "shared"})
    assert headers.get("Idempotent-Replayed") == "true" and replay == kept
    _, again, headers = await alice.request("POST", "/v1/purchase-intents", intent_body(), headers={"Idempotency-Key": "shared"})
    assert "Idempotent-Replayed" not in headers
    assert again["id"] == mine["id"]  # Alice's ids start again
    assert (await bob.create())["id"] not in (theirs["id"], replay["id"])  # Bob's go on
