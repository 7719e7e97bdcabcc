"""Scenario rules for the Basis Theory platform: `on: deliver` scripts its webhook receivers."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

KEY = {"BT-API-KEY": "key_test_x"}
CARD = {"type": "card", "data": {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}}

DOWN_ONCE = """
name: platform-receiver-down-once
rules:
  - provider: btplatform
    on: deliver
    when: {event.type: token.created}
    then: {delivery: {status: 500}}
    times: 1
"""


async def load(api, text: str, tenant: str | None = None):
    path = "/_sandbox/scenarios" + (f"?tenant={tenant}" if tenant else "")
    async with api.client.post(path, data=text.encode(), headers={"Content-Type": "application/yaml"}) as resp:
        return resp.status, await resp.json()


async def token(api, key: dict[str, str] = KEY) -> dict:
    async with api.client.post("/tokens", json=CARD, headers=key) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return body


async def flush(api) -> None:
    status, body = await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    assert (status, body["flushed"]) == (200, True), body


async def deliveries(api, **query: str) -> list[dict]:
    status, body = await api.control("GET", "/_sandbox/webhook-deliveries?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert status == 200, body
    return body["data"]


async def fired(api) -> list[int]:
    status, body = await api.control("GET", "/_sandbox/scenarios")
    assert status == 200
    return [rule["fired"] for scenario in body["data"] for rule in scenario["rules"]]


def verify_bt_signature(public_pem: bytes, headers: dict[str, str], body: bytes) -> None:
    """Basis Theory's scheme: RSA-PSS SHA-256 over the key-sorted JSON body."""
    key = serialization.load_pem_public_key(public_pem)
    stable = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    key.verify(base64.b64decode(headers["BT-SIGNATURE"]), stable, pss, hashes.SHA256())  # raises when it does not verify


async def test_a_deliver_rule_scripts_the_first_attempt_then_the_receiver_answers(api, receiver):
    status, loaded = await load(api, DOWN_ONCE)
    assert status == 201, loaded
    assert loaded["rules"] == [{
        "provider": "btplatform", "on": "deliver", "when": {"event.type": "token.created"},
        "then": {"delivery": {"status": 500}}, "times": 1, "fired": 0,
    }]
    status, endpoint = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "btplatform", "url": receiver.url})
    assert status == 201, endpoint
    made = await token(api)
    await flush(api)

    (delivery,) = await deliveries(api, event_type="token.created")
    assert (delivery["provider"], delivery["endpoint_id"], delivery["object_id"]) == ("btplatform", endpoint["id"], made["id"])
    (attempt,) = delivery["attempts"]
    assert (attempt["status_code"], attempt["response_body"], attempt["error"]) == (500, "scripted by a sandbox scenario", None)
    assert delivery["status"] == "pending" and delivery["next_attempt_at"] == "2026-01-01T00:00:05.000Z"
    assert receiver.requests == []  # the scripted receiver was not called
    assert await fired(api) == [1]

    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 5})
    await flush(api)
    (delivery,) = await deliveries(api, event_type="token.created")
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][1]["response_body"] == "ok"  # the real receiver's answer this time
    assert await fired(api) == [1]  # `times: 1` is used up
    (headers, body) = receiver.requests[0]
    async with api.client.get("/_sandbox/keys/basistheory-webhooks.v1.key") as resp:
        verify_bt_signature(await resp.read(), headers, body)
    assert json.loads(body)["event"]["type"] == "token.created" and json.loads(body)["event"]["id"] == delivery["event_id"]


async def test_the_rule_leaves_other_events_and_other_tenants_alone(api, receiver):
    status, _ = await load(api, DOWN_ONCE.replace("times: 1", "times: 5"), tenant="key_test_x")
    assert status == 201
    status, _ = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "btplatform", "url": receiver.url})
    assert status == 201
    theirs = await token(api, {"BT-API-KEY": "key_test_other"})  # another tenant: not scripted
    async with api.client.delete(f"/tokens/{theirs['id']}", headers={"BT-API-KEY": "key_test_other"}) as resp:
        assert resp.status == 204
    mine = await token(api)
    async with api.client.delete(f"/tokens/{mine['id']}", headers=KEY) as resp:  # token.deleted: the condition does not hold
        assert resp.status == 204
    await flush(api)
    outcome = {(d["object_id"], d["event_type"]): (d["status"], [a["status_code"] for a in d["attempts"]]) for d in await deliveries(api)}
    assert outcome == {
        (theirs["id"], "token.created"): ("delivered", [200]),
        (theirs["id"], "token.deleted"): ("delivered", [200]),
        (mine["id"], "token.created"): ("pending", [500]),
        # Waits behind the scripted failure: one object's events reach one endpoint in order.
        (mine["id"], "token.deleted"): ("pending", []),
    }
    assert await fired(api) == [1]


async def test_it_scripts_endpoints_made_through_the_platform_api_too(api, receiver):
    await load(api, DOWN_ONCE)
    webhook = {"name": "mine", "url": receiver.url, "events": ["token.created"]}
    async with api.client.post("/webhooks", json=webhook, headers=KEY) as resp:
        assert resp.status == 201, await resp.text()
    await token(api)
    await flush(api)
    (delivery,) = await deliveries(api)
    assert [a["status_code"] for a in delivery["attempts"]] == [500] and receiver.requests == []


@pytest.mark.parametrize(("rule", "field", "words"), [
    ("{provider: btplatfrom, on: deliver, then: {delivery: {status: 500}}}", "rules.0.provider", "'btplatform'"),
    ("{provider: btplatform, on: create_token, then: {delivery: {status: 500}}}", "rules.0", "no rules for btplatform/create_token"),
    ("{provider: btplatform, on: deliver, then: {delivery: {status: 700}}}", "rules.0", "then.delivery.status"),
])
async def test_bad_platform_rules_are_a_400_naming_the_field(api, rule, field, words):
    status, body = await load(api, f"name: bad\nrules:\n  - {rule}\n")
    assert status == 400, body
    (error,) = body["error"]["details"]["errors"]
    assert error["field"] == field and words in error["message"] and "(line 3)" in error["message"]
    assert await fired(api) == []  # nothing was loaded
