"""Crossmint order intents: the seed, the expiresAt pattern, phases and wrong-phase calls."""

import pytest

from tests.cm import MAX

# The seed's request body, verbatim (placeholders included).
SEED = {
    "agentId": "<string>",
    "payment": {"paymentMethodId": "<string>"},
    "mandates": [{"type": "maxAmount", "value": "<string>", "details": {"currency": "usd", "period": "weekly"}}],
    "expiresAt": "2023-11-07T05:31:56Z",
}


async def test_the_seed_body_verbatim_names_what_is_wrong(cm):
    status, body, _ = await cm.request("POST", "/order-intents", SEED)
    assert status == 400
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert any(m.startswith("mandates.0.value ") for m in body["message"])


async def test_the_seed_request_with_real_ids_gives_the_seed_response(cm):
    await cm.control("/_sandbox/clock", {"now": "2023-11-01T00:00:00Z"})
    agent, method = await cm.agent(), await cm.enrolled()
    seed = {**SEED, "agentId": agent, "payment": {"paymentMethodId": method}}
    seed["mandates"] = [{**SEED["mandates"][0], "value": "100.00"}]
    status, body, _ = await cm.request("POST", "/order-intents", seed)
    assert status == 201
    assert body["orderIntentId"].startswith("oi_") and len(body["orderIntentId"]) == 39
    assert (body["agentId"], body["phase"], body["payment"]) == (agent, "requires-verification", {"paymentMethodId": method})
    assert body["mandates"] == seed["mandates"]
    config = body["verificationConfig"]
    assert set(config) == {"environment", "publicApiKey", "agentId", "instructionId"}
    assert config["agentId"].startswith("agt_bt") and len(config["agentId"]) == 36 and config["agentId"] != agent
    assert config["instructionId"].startswith("ins_bt") and len(config["instructionId"]) == 36
    assert config["publicApiKey"].startswith("key_test_")


@pytest.mark.parametrize(
    "value, ok",
    [
        ("2028-02-29T00:00:00Z", True), ("2027-02-29T00:00:00Z", False), ("2000-02-29T12:00:00Z", True),
        ("2100-02-29T12:00:00Z", False), ("2400-02-29T12:00:00Z", True), ("2027-02-28T23:59:59Z", True),
        ("2027-04-31T00:00:00Z", False), ("2027-04-30T00:00:00Z", True), ("2027-01-01T00:00:00", False),
        ("2027-01-01T00:00:00+00:00", False), ("2027-01-01T00:00:00.123456789Z", True), ("2027-01-01T00:00Z", True),
        ("2027-01-01T24:00:00Z", False), ("2027-01-01 00:00:00Z", False), ("2027-1-01T00:00:00Z", False),
    ],
)
async def test_expires_at_follows_the_seed_pattern(cm, value, ok):
    await cm.control("/_sandbox/clock", {"now": "1999-01-01T00:00:00Z"})  # every instant above is in the future
    agent, method = await cm.agent(), await cm.enrolled()
    body = {"agentId": agent, "payment": {"paymentMethodId": method}, "mandates": [MAX], "expiresAt": value}
    status, resp, _ = await cm.request("POST", "/order-intents", body)
    if ok:
        assert status == 201, resp
        assert resp["expiresAt"] == value
    else:
        assert status == 400 and any(m.startswith("expiresAt ") for m in resp["message"])


async def test_a_past_expiry_is_refused(cm):
    status, body, _ = await cm.request("POST", "/order-intents", {**SEED, "agentId": await cm.agent(), "mandates": [MAX]})
    assert status == 400 and body["message"] == ["expiresAt must be in the future"]


@pytest.mark.parametrize(
    "mandate, field",
    [
        ({"type": "maxAmount", "value": "1.234", "details": {"currency": "usd"}}, "mandates.0.value"),
        ({"type": "maxAmount", "value": "10", "details": {"currency": "USD"}}, "mandates.0.details.currency"),
        ({"type": "maxAmount", "value": "10", "details": {"currency": "usd", "period": "daily"}}, "mandates.0.details.period"),
        ({"type": "maxAmount", "value": "10"}, "mandates.0.details"),
        ({"type": "consumer", "details": {"email": "jane..doe@example.com"}}, "mandates.0.details.email"),
        ({"type": "description"}, "mandates.0.value"),
        ({"type": "merchant", "value": "x"}, "mandates.0.type"),
    ],
)
async def test_mandates_are_validated_one_by_one(cm, mandate, field):
    body = {"agentId": await cm.agent(), "payment": {"paymentMethodId": "pm_x"}, "mandates": [mandate]}
    status, resp, _ = await cm.request("POST", "/order-intents", body)
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"]), resp


async def test_unknown_agent_is_404(cm):
    status, body, _ = await cm.request(
        "POST", "/order-intents", {"agentId": "nope", "payment": {"paymentMethodId": "pm_x"}, "mandates": [MAX]}
    )
    assert status == 404 and body["statusCode"] == 404


async def test_unknown_or_unenrolled_cards_require_a_payment_method(cm):
    for method in ("pm_unknown", await cm.payment_method()):
        intent = await cm.intent(method=method)
        assert intent["phase"] == "requires-payment-method" and "verificationConfig" not in intent


async def test_enrolling_later_moves_the_intent_on(cm):
    method = await cm.payment_method()
    intent = await cm.intent(method=method)
    enrollment = await cm.ok("POST", f"/payment-methods/{method}/agentic-enrollment", {}, 201)
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "requires-payment-method"
    await cm.control(f"/_sandbox/crossmint/enrollments/{enrollment['enrollmentId']}/complete")
    read = await cm.read(intent["orderIntentId"])
    assert read["phase"] == "requires-verification" and "verificationConfig" in read
    assert await cm.events(intent["orderIntentId"]) == ["order-intents.created", "order-intents.verification-required"]


async def test_a_no_ceremony_card_is_active_at_once(cm):
    intent = await cm.intent(method=await cm.enrolled("4242424242424242"))
    assert intent["phase"] == "active" and "verificationConfig" not in intent


async def test_the_control_shortcut_verifies(cm):
    intent = await cm.active_intent()
    assert "verificationConfig" not in intent
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.activated"


async def test_a_failed_verification_leaves_the_intent_waiting(cm):
    intent = await cm.intent()
    status, body = await cm.control(f"/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verify", {"outcome": "failure"})
    assert (status, body["phase"]) == (200, "requires-verification")
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.verification-failed"


async def verify(cm, instruction, action, **payload):
    async with cm.client.post(
        f"/_sandbox/basistheory/instructions/{instruction}/verify", json={"action": action, "payload": payload}
    ) as resp:
        return resp.status, await resp.json()


async def test_the_instruction_verifies_through_the_basis_theory_machine(cm):
    intent = await cm.intent()
    instruction = intent["verificationConfig"]["instructionId"]
    status, answer = await verify(cm, instruction, "AUTHENTICATE_PASSKEY")
    assert status == 409 and answer["error"]["details"]["expectedActions"] == ["START"]
    status, answer = await verify(cm, instruction, "START")
    assert (status, answer["status"], answer["data"]["orderIntentId"]) == (200, "PASSKEY_READY", intent["orderIntentId"])
    status, answer = await verify(cm, instruction, "AUTHENTICATE_PASSKEY", assuranceData={})
    assert (status, answer["status"]) == (200, "VERIFIED")
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "active"
    status, answer = await verify(cm, instruction, "START")
    assert status == 409 and "active" in answer["error"]["message"]


async def test_mastercard_verifies_through_the_mastercard_flow(cm):
    intent = await cm.intent(method=await cm.enrolled("5186161910000103"))
    instruction = intent["verificationConfig"]["instructionId"]
    assert (await verify(cm, instruction, "START"))[1]["status"] == "PASSKEY_READY"
    assert (await verify(cm, instruction, "MASTERCARD_AUTH_COMPLETE"))[1]["status"] == "VERIFIED"


async def test_a_rejected_card_fails_verification_and_may_try_again(cm):
    intent = await cm.intent(method=await cm.enrolled("4330251207506660"))
    instruction = intent["verificationConfig"]["instructionId"]
    for _ in range(2):
        status, answer = await verify(cm, instruction, "START")
        assert (status, answer["status"]) == (200, "ERROR")
        assert (await cm.read(intent["orderIntentId"]))["phase"] == "requires-verification"


async def test_unknown_instruction_is_404(cm):
    assert (await verify(cm, "ins_btnope", "START"))[0] == 404


async def test_intents_expire_with_the_clock(cm):
    intent = await cm.active_intent(expiresAt="2026-01-01T01:00:00Z")
    await cm.control("/_sandbox/clock/advance", {"seconds": 3600})
    read = await cm.read(intent["orderIntentId"])
    assert read["phase"] == "expired"
    status, body, _ = await cm.credentials(intent["orderIntentId"])
    assert status == 409 and "'expired'" in body["message"]


async def test_revoke(cm):
    intent = await cm.active_intent()
    status, body, _ = await cm.request("DELETE", f"/order-intents/{intent['orderIntentId']}")
    assert (status, body) == (204, "")
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "revoked"
    status, body, _ = await cm.request("DELETE", f"/order-intents/{intent['orderIntentId']}")
    assert status == 409 and "'revoked'" in body["message"] and body["phase"] == "revoked"
    status, _, _ = await cm.credentials(intent["orderIntentId"])
    assert status == 409
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.revoked"


async def test_requires_verification_can_be_revoked_but_not_requires_payment_method(cm):
    waiting = await cm.intent()
    status, _, _ = await cm.request("DELETE", f"/order-intents/{waiting['orderIntentId']}")
    assert status == 204
    unpaid = await cm.intent(method="pm_unknown")
    status, body, _ = await cm.request("DELETE", f"/order-intents/{unpaid['orderIntentId']}")
    assert status == 409 and "requires-payment-method" in body["message"]


@pytest.mark.parametrize("path", ["credentials", "verify"])
async def test_wrong_phase_calls_name_the_phase(cm, path):
    if path == "credentials":
        intent = await cm.intent()
        status, body, _ = await cm.credentials(intent["orderIntentId"])
        assert status == 409 and "'requires-verification'" in body["message"]
    else:
        intent = await cm.active_intent()
        status, body = await cm.control(f"/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verify")
        assert status == 409 and "'active'" in body["error"]["message"]


async def test_list_is_a_bare_array_filterable_by_agent(cm):
    first, second = await cm.agent("A"), await cm.agent("B")
    method = await cm.enrolled()
    mine = await cm.intent(method=method, agent=first)
    await cm.intent(method=method, agent=second)
    everything = await cm.ok("GET", "/order-intents")
    assert isinstance(everything, list) and len(everything) == 2
    filtered = await cm.ok("GET", f"/order-intents?agentId={first}")
    assert [i["orderIntentId"] for i in filtered] == [mine["orderIntentId"]]


async def test_a_dated_version_segment_serves_the_same_routes(cm):
    intent = await cm.intent()
    dated = cm.as_(version="2025-06-09")
    assert (await dated.read(intent["orderIntentId"]))["orderIntentId"] == intent["orderIntentId"]
    for version in ("v2", "\u0662\u0660\u0662\u0665-\u0660\u0666-\u0660\u0669"):  # Arabic-Indic digits are no date
        status, body, _ = await cm.as_(version=version).request("GET", "/order-intents")
        assert status == 404 and body["statusCode"] == 404, version


async def test_moving_on_is_stamped_when_the_enrollment_completed(cm):
    method = await cm.payment_method()
    await cm.ok("POST", f"/payment-methods/{method}/agentic-enrollment", {}, 201)  # completes by itself after 60 s
    intent = await cm.intent(method=method)
    await cm.control("/_sandbox/clock/advance", {"seconds": 300})
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "requires-verification"
    async with cm.client.get(f"/_sandbox/events?object_id={intent['orderIntentId']}") as resp:
        stamps = [(e["type"], e["occurred_at"]) for e in (await resp.json())["data"]]
    assert stamps == [("order-intents.created", "2026-01-01T00:00:00.000Z"),
                      ("order-intents.verification-required", "2026-01-01T00:01:00.000Z")]


async def test_after_a_failed_verification_only_start_is_expected(cm):
    intent = await cm.intent(method=await cm.enrolled("4330251207506660"))
    instruction = intent["verificationConfig"]["instructionId"]
    await verify(cm, instruction, "START")
    status, body = await verify(cm, instruction, "AUTHENTICATE_PASSKEY")
    assert status == 409 and body["error"]["details"]["expectedActions"] == ["START"]
