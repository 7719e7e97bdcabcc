"""Scenario rules in a running sandbox: scripted Dino decisions and HTTP faults."""

import aiohttp
import pytest

from tests.conftest import OTHER_KEY, intent_body

NEEDS_APPROVAL = """
name: wait-for-operator
rules:
  - provider: dino
    on: authorize
    when: {request.expected_total_cents: {gte: 1000}, purchase_intent.currency: usd}
    then: {status: needs_approval, after: {seconds: 300, status: declined}}
"""


async def load(api, text, tenant=None, content_type="application/yaml"):
    path = "/_sandbox/scenarios" + (f"?tenant={tenant}" if tenant else "")
    async with api.client.post(path, data=text.encode(), headers={"Content-Type": content_type}) as resp:
        return resp.status, await resp.json()


async def test_a_rule_decides_and_its_timed_decision_follows_the_clock(api):
    status, loaded = await load(api, NEEDS_APPROVAL)
    assert status == 201 and loaded["id"].startswith("scn_") and loaded["rules"][0]["fired"] == 0
    intent = await api.create()
    _, body, _ = await api.authorize(intent["id"], expected_total_cents=1500)  # magic values alone would approve
    assert body["status"] == "needs_approval"
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 299})
    assert (await api.get(intent["id"]))[1]["status"] == "needs_approval"
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 1})
    read = (await api.get(intent["id"]))[1]
    assert (read["status"], read["decision_reason"], read["decided_at"]) == ("declined", "Declined by operator", "2026-01-01T00:05:00.000Z")
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == "purchase_intent.declined"
    _, listing = await api.control("GET", "/_sandbox/scenarios")
    assert listing["data"][0]["rules"][0]["fired"] == 1


async def test_conditions_that_do_not_hold_leave_the_magic_values_in_charge(api):
    await load(api, NEEDS_APPROVAL)
    intent = await api.create()
    _, body, _ = await api.authorize(intent["id"], expected_total_cents=999)
    assert body["status"] == "approved"


async def test_rules_for_one_tenant_leave_others_alone(api):
    await load(api, NEEDS_APPROVAL, tenant=OTHER_KEY)
    mine = await api.create()
    assert (await api.authorize(mine["id"], expected_total_cents=1500))[1]["status"] == "approved"
    bob = api.as_key(OTHER_KEY)
    theirs = await bob.create()
    assert (await bob.authorize(theirs["id"], expected_total_cents=1500))[1]["status"] == "needs_approval"


async def test_times_limits_a_rule_and_unloading_removes_it(api):
    status, loaded = await load(api, """
name: twice
rules:
  - {provider: dino, on: authorize, then: {status: declined, decision_reason: Scripted decline}, times: 2}
""")
    outcomes = []
    for _ in range(3):
        intent = await api.create()
        outcomes.append((await api.authorize(intent["id"]))[1]["decision_reason"])
    assert outcomes == ["Scripted decline", "Scripted decline", "Purchase intent approved"]
    status, _ = await api.control("DELETE", f"/_sandbox/scenarios/{loaded['id']}")
    assert status == 204
    _, listing = await api.control("GET", "/_sandbox/scenarios")
    assert listing["data"] == []


FAULTS = """
name: flaky
rules:
  - on: request
    when: {method: POST, path: {regex: "^/v1/purchase-intents$"}}
    then: {fault: {status: 503}}
    times: 2
"""


async def test_http_faults_in_the_providers_shape_then_normal_service(api):
    await load(api, FAULTS)
    for _ in range(2):
        status, body, _ = await api.request("POST", "/v1/purchase-intents", intent_body())
        assert status == 503 and body["error"]["code"] == "internal_error"
    status, _, _ = await api.request("POST", "/v1/purchase-intents", intent_body())
    assert status == 201
    assert (await api.request("GET", "/v1/purchase-intents"))[0] == 200
    assert len(await api.events(type="purchase_intent.created")) == 1  # faults never reach the provider


async def test_a_dropped_connection(api):
    await load(api, "name: drop\nrules:\n  - {on: request, when: {method: GET}, then: {fault: {drop: true}}, times: 1}\n")
    with pytest.raises(aiohttp.ClientError):
        await api.request("GET", "/v1/purchase-intents")
    assert (await api.request("GET", "/v1/purchase-intents"))[0] == 200


async def test_latency_and_a_custom_body(api):
    await load(api, "name: slow\nrules:\n"
                    '  - {on: request, then: {fault: {latency_ms: 20, status: 429, body: {"error": "slow down"}}}, times: 1}\n')
    status, body, _ = await api.request("GET", "/v1/purchase-intents")
    assert (status, body) == (429, {"error": "slow down"})


async def test_json_scenarios_and_bad_ones(api):
    status, _ = await load(api, '{"name": "j", "rules": [{"on": "request", "then": {"fault": {"status": 500}}, "times": 1}]}',
                           content_type="application/json")
    assert status == 201
    status, body = await load(api, "name: bad\nrules:\n  - {provider: dino, on: authorize, then: {status: maybe}}\n")
    assert status == 400 and "line 3" in body["error"]["details"]["errors"][0]["message"]
    status, body = await load(api, "x", content_type="application/xml")
    assert status == 415


async def test_scenario_files_at_start(make_api, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(NEEDS_APPROVAL)
    api = await make_api(scenarios=[str(path)])
    intent = await api.create()
    assert (await api.authorize(intent["id"], expected_total_cents=1500))[1]["status"] == "needs_approval"


async def test_basis_theory_status_and_challenge_by_rule(make_api):
    from tests.bt import PROJECT, Bt

    api = await make_api()
    bt = Bt(api.client)
    await load(api, """
name: bt
rules:
  - provider: basistheory
    on: create_purchase_intent
    when: {payment_method.brand: visa, request.mandates.0.value: "1.00"}
    then: {status: verify, challenge: frictionless}
  - provider: basistheory
    on: create_purchase_intent
    when: {payment_method.brand: discover}
    then: {status: pending, pending_seconds: 10}
  - {provider: basistheory, on: create_purchase_intent, when: {payment_method.brand: mastercard}, then: {declined: true}}
""", tenant=PROJECT)
    small = [{"type": "maxAmount", "value": "1.00", "details": {"currency": "840"}}]
    intent = await bt.intent("4000000000000002", mandates=small)  # the OTP card, made frictionless by the rule
    assert intent["status"] == "verify"
    assert (await bt.verify(intent["id"], "START"))[1]["status"] == "VERIFIED"
    assert (await bt.intent("4000000000000002"))["status"] == "verify"  # the rule's condition does not hold
    pending = await bt.intent("6011111111111117")
    assert pending["status"] == "pending"
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 10})
    assert (await bt.get(pending["id"]))["status"] == "active"
    method = await bt.payment_method("5555555555554444")
    status, body, _ = await bt.request("POST", "/purchase-intents", bt.intent_body(method["id"]))
    assert (status, body["error"]["type"]) == (402, "card_declined")


async def test_crossmint_phase_by_rule(make_api):
    from tests.cm import Cm

    api = await make_api()
    cm = Cm(api.client)
    await load(api, """
name: cm
rules:
  - {provider: crossmint, on: create_order_intent, when: {request.mandates.0.value: "1.00"}, then: {phase: active}}
  - {provider: crossmint, on: create_order_intent, then: {phase: requires-verification, challenge: fails}}
""")
    cheap = [{"type": "maxAmount", "value": "1.00", "details": {"currency": "usd"}}]
    assert (await cm.intent(method="pm_unknown", mandates=cheap))["phase"] == "active"
    scripted = await cm.intent(method="pm_unknown")
    assert scripted["phase"] == "requires-verification"
    instruction = scripted["verificationConfig"]["instructionId"]
    async with cm.client.post(f"/_sandbox/basistheory/instructions/{instruction}/verify", json={"action": "START"}) as resp:
        assert (await resp.json())["status"] == "ERROR"


async def test_webhook_deliveries_scripted_to_fail_twice(make_api):
    api = await make_api(webhook_retry_schedule=(0.1, 0.2))
    await load(api, """
name: receiver-down
rules:
  - {provider: dino, on: deliver, when: {event.type: purchase_intent.created}, then: {delivery: {status: 500}}, times: 2}
""")
    await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://127.0.0.1:9/never-called"})
    intent = await api.create()
    for delay in (0.001, 0.1, 0.2):
        await api.control("POST", "/_sandbox/clock/advance", {"seconds": delay})
        await api.control("POST", "/_sandbox/webhooks/flush")
    _, log = await api.control("GET", f"/_sandbox/webhook-deliveries?object_id={intent['id']}")
    (delivery,) = log["data"]
    codes = [(a["status_code"], a["response_body"]) for a in delivery["attempts"]]
    assert codes[:2] == [(500, "scripted by a sandbox scenario")] * 2
    assert codes[2][0] is None  # the third attempt really POSTs, and nothing listens there


async def test_a_scripted_410_disables_the_endpoint(make_api):
    api = await make_api()
    await load(api, "name: gone\nrules:\n  - {provider: dino, on: deliver, then: {delivery: {status: 410}}}\n")
    _, endpoint = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://127.0.0.1:9/h"})
    await api.create()
    await api.control("POST", "/_sandbox/webhooks/flush")
    _, read = await api.control("GET", f"/_sandbox/webhook-endpoints/{endpoint['id']}")
    assert read["enabled"] is False


async def test_dino_execution_outcome_by_rule(api):
    await load(api, "name: x\nrules:\n  - {provider: dino, on: execute, when: {purchase_intent.approved_amount_cents: {gt: 1000}}, "
                    "then: {status: failed, failure_reason: card_declined}}\n")
    intent = await api.issued_intent()  # approved for 4599
    status, body = await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/execute")
    assert (status, body["status"], body["failure_reason"]) == (200, "failed", "card_declined")


async def test_probability_faults_repeat_with_the_seed(make_api):
    text = "name: p\nrules:\n  - {on: request, when: {method: GET}, then: {fault: {status: 503}}, probability: 0.5}\n"
    runs = []
    for _ in range(2):
        api = await make_api(seed=21)
        await load(api, text)
        runs.append([(await api.request("GET", "/v1/purchase-intents"))[0] for _ in range(20)])
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])


def test_the_json_schema_is_printed():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sandbox", "scenarios", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(out.stdout)
    assert {"name", "rules", "steps"} <= set(schema["properties"]) and len(schema["properties"]["steps"]["items"]["oneOf"]) == 3


async def test_an_otp_rule_accepts_or_rejects_whatever_is_typed(make_api):
    from tests.bt import Bt

    api = await make_api()
    bt = Bt(api.client)
    await load(api, "name: otp\nrules:\n"
                    "  - {provider: basistheory, on: validate_otp, when: {payload.otpCode: '999999'}, then: {result: accept}}\n"
                    "  - {provider: basistheory, on: validate_otp, when: {payload.otpCode: '123456'}, then: {result: reject}}\n")
    intent = await bt.intent("4000000000000002")
    await bt.verify(intent["id"], "START")
    await bt.verify(intent["id"], "SELECT_OTP", methodId="otp-sms")
    assert (await bt.verify(intent["id"], "VALIDATE_OTP", otpCode="123456"))[1]["status"] == "ERROR"
    assert (await bt.verify(intent["id"], "VALIDATE_OTP", otpCode="999999"))[1]["status"] == "CREATE_PASSKEY"


async def test_a_credentials_rule_refuses(make_api):
    from tests.cm import Cm

    api = await make_api()
    cm = Cm(api.client)
    await load(api, "name: c\nrules:\n  - {provider: crossmint, on: issue_credentials, when: {request.merchant.countryCode: FR}, "
                    "then: {refuse: {status: 403, code: MERCHANT_NOT_ALLOWED, message: Merchant not allowed}}}\n")
    intent = await cm.active_intent()
    status, body, _ = await cm.credentials(
        intent["orderIntentId"], merchant={"name": "Shop", "url": "https://shop.fr", "countryCode": "FR"}
    )
    assert (status, body["code"], body["message"]) == (403, "MERCHANT_NOT_ALLOWED", "Merchant not allowed")
    assert (await cm.credentials(intent["orderIntentId"]))[0] == 201


HALF = "name: half\nrules:\n  - {provider: dino, on: authorize, probability: 0.5, then: {status: declined}}\n"


async def decisions(api, key: str, count: int) -> list[str]:
    tenant = api.as_key(key)
    statuses = []
    for _ in range(count):
        intent = await tenant.create()
        statuses.append((await tenant.authorize(intent["id"]))[1]["status"])
    return statuses


async def test_a_tenants_probabilities_do_not_depend_on_other_tenants(make_api):
    alone = await make_api()
    await load(alone, HALF)
    expected = await decisions(alone, "din_test_alice", 8)
    assert set(expected) == {"approved", "declined"}  # the rule fires sometimes
    shared = await make_api()
    await load(shared, HALF)
    got = []
    for _ in range(8):
        await decisions(shared, "din_test_bob", 3)  # another tenant draws in between
        got += await decisions(shared, "din_test_alice", 1)
    assert got == expected
    await shared.control("POST", "/_sandbox/reset", {"tenant": "din_test_alice"})
    assert await decisions(shared, "din_test_alice", 8) == expected  # a reset restarts them
