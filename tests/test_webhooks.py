"""Signed webhooks to a real receiver, verified with each provider's official verifier."""

import asyncio
import hashlib
import hmac
import json
import time

import pytest
import standardwebhooks
from sandbox.core.runtime import RUNTIME
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from tests.bt import Bt
from tests.cm import Cm

SCHEDULE = (0.1, 0.2, 0.5)


@pytest.fixture
async def sandbox(make_api):
    return await make_api(webhook_retry_schedule=SCHEDULE, webhook_timeout_seconds=1.0)


async def register(api, provider, url, **options):
    status, body = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": provider, "url": url, **options})
    assert status == 201, body
    return body


async def flush(api):
    status, body = await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    assert status == 200 and body["flushed"] is True, body


async def deliveries(api, **query):
    status, body = await api.control("GET", "/_sandbox/webhook-deliveries?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert status == 200
    return body["data"]


def dino_recipe(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> dict:
    """The verification recipe of docs/webhooks.md, written independently of the sandbox's signer."""
    parts = dict(item.split("=", 1) for item in headers["Dino-Signature"].split(",") if item.startswith("t="))
    signatures = [item[3:] for item in headers["Dino-Signature"].split(",") if item.startswith("v1=")]
    t = int(parts["t"])
    assert abs(time.time() - t) <= tolerance
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert any(hmac.compare_digest(expected, s) for s in signatures)
    assert hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(), headers["X-Dino-Signature-Sha256"])
    return json.loads(body)


async def test_dino_events_arrive_in_order_signed(sandbox, receiver):
    endpoint = await register(sandbox, "dino", receiver.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["id"].startswith("ep_")
    intent = await sandbox.issued_intent()
    await sandbox.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/execute")
    await flush(sandbox)
    payloads = [dino_recipe(endpoint["secret"], headers, body) for headers, body in receiver.requests]
    assert [p["type"] for p in payloads] == [
        "purchase_intent.created", "purchase_intent.authorized", "purchase_intent.execution_started", "purchase_intent.completed",
    ]
    for (headers, _), payload in zip(receiver.requests, payloads, strict=True):
        assert headers["Dino-Event-Id"] == payload["id"] and headers["Dino-Event-Type"] == payload["type"]
        assert headers["Dino-Delivery-Attempt"] == "1" and headers["Dino-Request-Id"] == payload["request_id"]
        assert payload["data"]["purchase_intent"]["id"] == intent["id"]
    assert payloads[-1]["data"]["purchase_intent"]["status"] == "completed"


async def test_crossmint_events_verify_with_svix(sandbox, receiver):
    endpoint = await register(sandbox, "crossmint", receiver.url)
    cm = Cm(sandbox.client)
    intent = await cm.active_intent()
    await flush(sandbox)
    events = []
    for headers, body in receiver.requests:
        SvixWebhook(endpoint["secret"]).verify(body, headers)
        events.append(json.loads(body))
    assert all(set(e) == {"type", "payload"} for e in events)
    mine = [e["type"] for e in events if e["payload"].get("orderIntentId") == intent["orderIntentId"]]
    assert mine == ["order-intents.created", "order-intents.verification-required", "order-intents.activated"]
    assert "payment-methods.agentic-enrollment.pending" in [e["type"] for e in events]
    assert all(h["svix-id"].startswith("evt_") for h, _ in receiver.requests)


async def test_basis_theory_events_verify_with_standard_webhooks(sandbox, receiver):
    endpoint = await register(sandbox, "basistheory", receiver.url)
    bt = Bt(sandbox.client)
    intent = await bt.intent("4000056655665556")
    await bt.verify(intent["id"], "START")
    await flush(sandbox)
    verifier = standardwebhooks.Webhook(endpoint["secret"])
    events = [verifier.verify(body, headers) for headers, body in receiver.requests]
    assert [e["type"] for e in events] == ["purchase_intent.created", "purchase_intent.verified"]
    assert all("card" not in e["data"] for e in events)


async def test_a_failing_receiver_gets_retries_of_one_event_id(sandbox, receiver):
    receiver.script = [500, 502]
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    intent = await sandbox.create()
    await flush(sandbox)
    assert len(receiver.requests) == 1
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["status"] == "pending" and delivery["attempts"][0]["status_code"] == 500
    assert delivery["next_attempt_at"] == "2026-01-01T00:00:00.100Z"
    await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": 0.1})
    await flush(sandbox)
    await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": 0.2})
    await flush(sandbox)
    assert len(receiver.requests) == 3
    assert len({h["Dino-Event-Id"] for h, _ in receiver.requests}) == 1
    assert [h["Dino-Delivery-Attempt"] for h, _ in receiver.requests] == ["1", "2", "3"]
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 502, 200]
    assert delivery["attempts"][0]["response_body"] == "nope" and delivery["attempts"][0]["latency_ms"] >= 0


async def test_retries_give_up_after_the_schedule(sandbox, receiver):
    receiver.script = [500] * 10
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    intent = await sandbox.create()
    for delay in (0, *SCHEDULE):
        await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": delay or 0.001})
        await flush(sandbox)
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 1 + len(SCHEDULE)


async def test_retry_after_is_honoured(sandbox, receiver):
    receiver.script = [(503, {"Retry-After": "120"})]
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    intent = await sandbox.create()
    await flush(sandbox)
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["next_attempt_at"] == "2026-01-01T00:02:00.000Z"


async def test_410_disables_the_endpoint(sandbox, receiver):
    receiver.script = [410]
    endpoint = await register(sandbox, "dino", receiver.url)
    await sandbox.create()
    await flush(sandbox)
    status, read = await sandbox.control("GET", f"/_sandbox/webhook-endpoints/{endpoint['id']}")
    assert read["enabled"] is False and "410" in read["disabled_reason"]
    await sandbox.create()
    await flush(sandbox)
    assert len(receiver.requests) == 1
    status, read = await sandbox.control("PATCH", f"/_sandbox/webhook-endpoints/{endpoint['id']}", {"enabled": True})
    assert read["enabled"] is True and read["disabled_reason"] is None


async def test_rotation_signs_with_both_secrets_for_the_overlap(sandbox, receiver):
    endpoint = await register(sandbox, "crossmint", receiver.url)
    old = endpoint["secret"]
    status, rotated = await sandbox.control("POST", f"/_sandbox/webhook-endpoints/{endpoint['id']}/rotate-secret", {"overlap_seconds": 60})
    new = rotated["secret"]
    assert status == 200 and new != old and rotated["previous_secrets"][0]["secret"] == old
    cm = Cm(sandbox.client)
    await cm.agent()
    await cm.payment_method()
    await cm.ok("POST", "/order-intents", {"agentId": await cm.agent(), "payment": {"paymentMethodId": "pm_x"}, "mandates": []}, 201)
    await flush(sandbox)
    headers, body = receiver.requests[-1]
    SvixWebhook(old).verify(body, headers)
    SvixWebhook(new).verify(body, headers)
    await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": 61})
    await cm.ok("POST", "/order-intents", {"agentId": await cm.agent(), "payment": {"paymentMethodId": "pm_x"}, "mandates": []}, 201)
    await flush(sandbox)
    headers, body = receiver.requests[-1]
    SvixWebhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        SvixWebhook(old).verify(body, headers)


async def test_filters_by_event_type_pattern_and_tenant(sandbox, receiver):
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.auth*"], tenant="din_test_alice")
    bob = sandbox.as_key("din_test_bob")
    await bob.approved_intent()
    mine = await sandbox.approved_intent()
    await flush(sandbox)
    assert [h["Dino-Event-Type"] for h, _ in receiver.requests] == ["purchase_intent.authorized"]
    assert mine["id"] in receiver.requests[0][1].decode()


async def test_events_of_one_object_wait_for_the_earlier_ones(sandbox, receiver):
    receiver.script = [500]
    await register(sandbox, "dino", receiver.url)
    intent = await sandbox.create()
    await sandbox.authorize(intent["id"])
    await flush(sandbox)
    assert [h["Dino-Event-Type"] for h, _ in receiver.requests] == ["purchase_intent.created"]
    await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": 0.1})
    await flush(sandbox)
    await flush(sandbox)
    assert [h["Dino-Event-Type"] for h, _ in receiver.requests] == [
        "purchase_intent.created", "purchase_intent.created", "purchase_intent.authorized",
    ]


async def test_a_hanging_receiver_never_blocks_the_api(sandbox, receiver):
    receiver.gate = asyncio.Event()
    await register(sandbox, "dino", receiver.url)
    for _ in range(3):
        await asyncio.wait_for(sandbox.create(), timeout=5)  # would deadlock if the API waited
    status, _ = await asyncio.wait_for(sandbox.control("GET", "/_sandbox/health"), timeout=5)
    assert status == 200
    receiver.gate.set()
    await flush(sandbox)


async def test_a_slow_receiver_times_out_and_is_retried(make_api, receiver):
    sandbox = await make_api(webhook_retry_schedule=SCHEDULE, webhook_timeout_seconds=0.2)
    receiver.gate = asyncio.Event()
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    intent = await sandbox.create()
    await flush(sandbox)
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["attempts"][0]["error"] == "timed out" and delivery["status"] == "pending"
    receiver.gate.set()


async def test_a_receiver_that_is_down(sandbox):
    await register(sandbox, "dino", "http://127.0.0.1:9/hooks", events=["purchase_intent.created"])
    intent = await sandbox.create()
    await flush(sandbox)
    (delivery,) = await deliveries(sandbox, object_id=intent["id"])
    assert delivery["attempts"][0]["status_code"] is None and delivery["attempts"][0]["error"]


async def test_resend_attempts_the_same_event_again(sandbox, receiver):
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    intent = await sandbox.create()
    await flush(sandbox)
    (delivery,) = await deliveries(sandbox, object_id=intent["id"], status="delivered")
    status, body = await sandbox.control("POST", f"/_sandbox/webhook-deliveries/{delivery['id']}/resend")
    assert status == 202
    await flush(sandbox)
    assert [h["Dino-Delivery-Attempt"] for h, _ in receiver.requests] == ["1", "2"]
    assert receiver.requests[0][0]["Dino-Event-Id"] == receiver.requests[1][0]["Dino-Event-Id"]
    status, body = await sandbox.control("GET", f"/_sandbox/webhook-deliveries/{delivery['id']}")
    assert status == 200 and len(body["attempts"]) == 2


async def test_delivery_log_filters(sandbox, receiver):
    await register(sandbox, "dino", receiver.url)
    first = await sandbox.approved_intent()
    await sandbox.create()
    await flush(sandbox)
    assert len(await deliveries(sandbox)) == 3  # created + authorized, created
    assert len(await deliveries(sandbox, event_type="purchase_intent.authorized")) == 1
    assert {d["object_id"] for d in await deliveries(sandbox, object_id=first["id"])} == {first["id"]}
    assert await deliveries(sandbox, status="failed") == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"provider": "stripe", "url": "http://x.test/h"}, "provider"),
        ({"provider": "dino", "url": "not a url"}, "url"),
        ({"provider": "dino", "url": "http://x.test/h", "secret": "plain"}, "secret"),
        ({"provider": "dino", "url": "http://x.test/h", "events": []}, "events"),
        ({"url": "http://x.test/h"}, "provider"),
    ],
)
async def test_endpoint_validation(sandbox, body, field):
    status, resp = await sandbox.control("POST", "/_sandbox/webhook-endpoints", body)
    assert status == 400 and resp["error"]["details"]["field"] == field


async def test_endpoint_crud(sandbox):
    secret = "whsec_" + "A" * 32
    created = await register(sandbox, "basistheory", "http://x.test/h", secret=secret, description="ci")
    assert created["secret"] == secret
    status, listing = await sandbox.control("GET", "/_sandbox/webhook-endpoints")
    assert [e["id"] for e in listing["data"]] == [created["id"]]
    status, updated = await sandbox.control("PATCH", f"/_sandbox/webhook-endpoints/{created['id']}", {"events": ["purchase_intent.*"]})
    assert updated["events"] == ["purchase_intent.*"]
    status, _ = await sandbox.control("DELETE", f"/_sandbox/webhook-endpoints/{created['id']}")
    assert status == 204
    status, body = await sandbox.control("GET", f"/_sandbox/webhook-endpoints/{created['id']}")
    assert status == 404


async def test_secrets_are_deterministic_from_the_seed(make_api):
    first = await register(await make_api(seed=5), "dino", "http://x.test/h")
    second = await register(await make_api(seed=5), "dino", "http://x.test/h")
    assert (first["id"], first["secret"]) == (second["id"], second["secret"])


async def test_endpoints_from_settings(make_api, receiver):
    sandbox = await make_api(webhooks=[f"dino={receiver.url}"])
    status, listing = await sandbox.control("GET", "/_sandbox/webhook-endpoints")
    (endpoint,) = listing["data"]
    await sandbox.create()
    await flush(sandbox)
    dino_recipe(endpoint["secret"], *receiver.requests[0])


async def test_reset_keeps_endpoints_and_clears_the_log(sandbox, receiver):
    await register(sandbox, "dino", receiver.url)
    await sandbox.create()
    await flush(sandbox)
    await sandbox.control("POST", "/_sandbox/reset")
    assert await deliveries(sandbox) == []
    status, listing = await sandbox.control("GET", "/_sandbox/webhook-endpoints")
    assert len(listing["data"]) == 1
    await sandbox.create()
    await flush(sandbox)
    assert len(receiver.requests) == 2


async def test_the_outbox_is_bounded(sandbox, receiver):
    sandbox.client.app[RUNTIME].outbox.settings.max_pending = 2
    receiver.script = [500] * 10
    await register(sandbox, "dino", receiver.url, events=["purchase_intent.created"])
    for _ in range(3):
        await sandbox.create()
    await flush(sandbox)
    states = sorted(d["status"] for d in await deliveries(sandbox))
    assert states == ["failed", "pending", "pending"]
    (dropped,) = await deliveries(sandbox, status="failed")
    assert dropped["attempts"] == [] and dropped["note"].startswith("not sent: the outbox was full")


async def test_resending_a_queued_delivery_does_not_stall_the_object(sandbox, receiver):
    receiver.script = [500]
    await register(sandbox, "dino", receiver.url)
    intent = await sandbox.create()
    await sandbox.authorize(intent["id"])
    await flush(sandbox)
    queued = (await deliveries(sandbox, event_type="purchase_intent.authorized"))[0]
    assert queued["status"] == "pending" and queued["attempts"] == []
    await sandbox.control("POST", f"/_sandbox/webhook-deliveries/{queued['id']}/resend")
    await flush(sandbox)
    await sandbox.control("POST", "/_sandbox/clock/advance", {"seconds": 0.1})
    await flush(sandbox)
    await sandbox.issue(intent["id"])
    status, _ = await sandbox.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/execute", {"outcome": "started"})
    assert status == 200
    await flush(sandbox)
    states = {d["event_type"]: d["status"] for d in await deliveries(sandbox, object_id=intent["id"])}
    assert states == {
        "purchase_intent.created": "delivered", "purchase_intent.authorized": "delivered",
        "purchase_intent.execution_started": "delivered",
    }


@pytest.mark.parametrize("patch", [{"url": None}, {"enabled": None}])
async def test_patch_refuses_null_url_and_enabled(sandbox, patch):
    endpoint = await register(sandbox, "dino", "http://x.test/h")
    status, body = await sandbox.control("PATCH", f"/_sandbox/webhook-endpoints/{endpoint['id']}", patch)
    assert status == 400 and body["error"]["details"]["field"] in patch


async def test_unpadded_secrets_sign_like_svix_expects(sandbox, receiver):
    secret = "whsec_" + "c2FuZGJveC11bnBhZGRlZC1zZWNyZXQtMTIzNA"  # base64 without its padding
    await register(sandbox, "crossmint", receiver.url, secret=secret)
    await Cm(sandbox.client).agent()
    await Cm(sandbox.client).ok(
        "POST",
        "/order-intents",
        {"agentId": await Cm(sandbox.client).agent(), "payment": {"paymentMethodId": "pm_x"}, "mandates": []},
        201,
    )
    await flush(sandbox)
    headers, body = receiver.requests[-1]
    SvixWebhook(secret).verify(body, headers)
    status, resp = await sandbox.control(
        "POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://x.test", "secret": "whsec_" + "A" * 17}
    )
    assert status == 400 and resp["error"]["details"]["field"] == "secret"


async def test_a_dead_endpoint_with_no_tenant_leaves_room_for_another_tenants_endpoint(sandbox, receiver):
    """An endpoint with no tenant gets every tenant's events. With its receiver dead, they used to fill
    the whole outbox, and another tenant's healthy endpoint then got nothing ("the outbox was full").
    The bounds are made small here; their defaults are in docs/webhooks.md."""
    settings = sandbox.client.app[RUNTIME].outbox.settings
    settings.max_pending_per_endpoint, settings.max_pending_per_endpoint_all_tenants, settings.max_pending = 2, 3, 6
    created = ["purchase_intent.created"]
    dead = await register(sandbox, "dino", receiver.url.replace("/hooks", "/gone"), events=created)  # every answer a 404
    for key in ("din_test_t1", "din_test_t2", "din_test_t3"):
        for _ in range(2):
            await sandbox.as_key(key).create()
    await flush(sandbox)
    assert len(await deliveries(sandbox, endpoint_id=dead["id"], status="pending")) == 3
    dropped = await deliveries(sandbox, endpoint_id=dead["id"], status="failed")
    assert len(dropped) == 3 and all(d["attempts"] == [] for d in dropped)
    assert {d["note"] for d in dropped} == {
        f"not sent: 3 deliveries to endpoint {dead['id']} were already pending, of all its tenants (its receiver is not keeping up)",
    }
    healthy = await register(sandbox, "dino", receiver.url, tenant="din_test_healthy", events=created)
    for _ in range(3):
        await sandbox.as_key("din_test_healthy").create()
    await flush(sandbox)
    assert [d["status"] for d in await deliveries(sandbox, endpoint_id=healthy["id"])] == ["delivered"] * 3
    assert len(receiver.requests) == 3
