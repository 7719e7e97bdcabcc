"""Verification walks for every magic card, in and out of order; the card only once verified."""

import pytest
from yarl import URL

ACTIVE_KEYS = {"id", "entityId", "credentialType", "status", "createdAt", "expiresAt", "paymentMethodId", "projectId", "mandates", "card"}


async def walk(bt, intent_id, steps):
    """Send (action, payload, expected status) steps; returns the last answer."""
    answer = None
    for action, payload, expected in steps:
        status, answer, _ = await bt.verify(intent_id, action, **payload)
        assert status == 200, answer
        assert answer["status"] == expected, answer
    return answer


async def assert_verified(bt, intent):
    read = await bt.get(intent["id"])
    assert read["status"] == "active"
    assert set(read) == ACTIVE_KEYS
    assert read["card"]["number"][0] in "45" and len(read["card"]["number"]) == 16
    return read


async def assert_no_card_anywhere(bt, intent_id):
    assert "card" not in await bt.get(intent_id)
    _, listing, _ = await bt.request("GET", "/purchase-intents")
    assert all("card" not in i for i in listing)


async def test_visa_otp_then_passkey(bt):
    intent = await bt.intent("4000000000000002")
    await assert_no_card_anywhere(bt, intent["id"])
    answer = await walk(bt, intent["id"], [("START", {}, "OTP_REQUIRED")])
    assert answer["data"]["brand"] == "VISA"
    methods = answer["data"]["methods"]
    assert {m["method"] for m in methods} == {"OTPSMS", "OTPEMAIL"} and all(m["identifier"] and m["value"] for m in methods)
    await walk(bt, intent["id"], [("SELECT_OTP", {"methodId": methods[0]["identifier"]}, "OTP_PENDING")])
    await assert_no_card_anywhere(bt, intent["id"])
    answer = await walk(bt, intent["id"], [("VALIDATE_OTP", {"otpCode": "123456"}, "CREATE_PASSKEY")])
    context = answer["data"]["authContext"]
    assert context["identifier"] == intent["id"] and "/_sandbox/basistheory/passkey" in context["endpoint"]
    async with bt.client.get(URL(context["endpoint"]).path_qs) as page:
        assert page.status == 200 and "AUTHENTICATE_PASSKEY" in await page.text()
    await assert_no_card_anywhere(bt, intent["id"])
    await walk(bt, intent["id"], [("AUTHENTICATE_PASSKEY", {"assuranceData": {"fidoAssertionData": {}}}, "VERIFIED")])
    await assert_verified(bt, intent)
    async with bt.client.get(f"/_sandbox/events?object_id={intent['id']}") as resp:
        events = (await resp.json())["data"]
    assert [e["type"] for e in events] == ["purchase_intent.created", "purchase_intent.verified"]
    assert all("card" not in e["payload"]["data"] for e in events)
    assert events[-1]["payload"]["data"]["status"] == "active"


async def test_visa_frictionless(bt):
    intent = await bt.intent("4000056655665556")
    await walk(bt, intent["id"], [("START", {}, "VERIFIED")])
    await assert_verified(bt, intent)


async def test_mastercard_passkey(bt):
    intent = await bt.intent("5555555555554444")
    answer = await walk(bt, intent["id"], [("START", {}, "PASSKEY_READY")])
    assert answer["data"]["brand"] == "MASTERCARD" and answer["data"]["authContext"]["brand"] == "MASTERCARD"
    await walk(bt, intent["id"], [("MASTERCARD_AUTH_COMPLETE", {"assuranceData": {}, "srcCorrelationId": "x"}, "VERIFIED")])
    read = await assert_verified(bt, intent)
    assert read["card"]["number"].startswith("5")


async def test_a_card_whose_verification_fails(bt):
    intent = await bt.intent("4000000000000127")
    answer = await walk(bt, intent["id"], [("START", {}, "ERROR")])
    assert answer["error"]["message"]
    read = await bt.get(intent["id"])
    assert read["status"] == "unavailable" and "card" not in read
    status, body, _ = await bt.verify(intent["id"], "START")
    assert status == 409 and body["error"]["details"]["status"] == "unavailable"


async def test_wrong_otps_count_down_then_fail(bt):
    intent = await bt.intent("4000000000000002")
    await walk(bt, intent["id"], [("START", {}, "OTP_REQUIRED"), ("SELECT_OTP", {"methodId": "otp-email"}, "OTP_PENDING")])
    for remaining in (2, 1):
        answer = await walk(bt, intent["id"], [("VALIDATE_OTP", {"otpCode": "000000"}, "ERROR")])
        assert answer["data"]["attemptsRemaining"] == remaining and str(remaining) in answer["error"]["message"]
        assert (await bt.get(intent["id"]))["status"] == "verify"
    answer = await walk(bt, intent["id"], [("VALIDATE_OTP", {"otpCode": "000000"}, "ERROR")])
    assert answer["data"]["attemptsRemaining"] == 0
    assert (await bt.get(intent["id"]))["status"] == "unavailable"
    async with bt.client.get(f"/_sandbox/events?object_id={intent['id']}") as resp:
        assert (await resp.json())["data"][-1]["type"] == "purchase_intent.verification_failed"


async def test_a_right_code_after_a_wrong_one_still_verifies(bt):
    intent = await bt.intent("4000000000000002")
    await walk(bt, intent["id"], [
        ("START", {}, "OTP_REQUIRED"), ("SELECT_OTP", {"methodId": "otp-sms"}, "OTP_PENDING"),
        ("VALIDATE_OTP", {"otpCode": "654321"}, "ERROR"), ("VALIDATE_OTP", {"otpCode": "123456"}, "CREATE_PASSKEY"),
        ("AUTHENTICATE_PASSKEY", {}, "VERIFIED"),
    ])
    await assert_verified(bt, intent)


@pytest.mark.parametrize(
    "steps, action, expected",
    [
        ([], "SELECT_OTP", ["START"]),
        ([], "VALIDATE_OTP", ["START"]),
        ([("START", {}, "OTP_REQUIRED")], "VALIDATE_OTP", ["SELECT_OTP", "START"]),
        ([("START", {}, "OTP_REQUIRED")], "MASTERCARD_AUTH_COMPLETE", ["SELECT_OTP", "START"]),
        (
            [("START", {}, "OTP_REQUIRED"), ("SELECT_OTP", {"methodId": "otp-sms"}, "OTP_PENDING")],
            "AUTHENTICATE_PASSKEY",
            ["START", "VALIDATE_OTP"],
        ),
    ],
)
async def test_out_of_order_actions_name_the_expected_next(bt, steps, action, expected):
    intent = await bt.intent("4000000000000002")
    await walk(bt, intent["id"], steps)
    status, body, _ = await bt.verify(intent["id"], action)
    assert status == 409
    assert body["error"]["details"]["expectedActions"] == expected
    assert expected[0] in body["error"]["message"]
    assert (await bt.get(intent["id"]))["status"] == "verify"


async def test_start_restarts_an_unfinished_flow(bt):
    intent = await bt.intent("4000000000000002")
    await walk(
        bt,
        intent["id"],
        [("START", {}, "OTP_REQUIRED"), ("SELECT_OTP", {"methodId": "otp-sms"}, "OTP_PENDING"), ("START", {}, "OTP_REQUIRED")],
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "FLY"}, "action"),
        ({}, "action"),
        ({"action": "SELECT_OTP", "payload": {"methodId": "pigeon"}}, "payload.methodId"),
        ({"action": "SELECT_OTP"}, "payload.methodId"),
    ],
)
async def test_bad_verify_bodies_name_the_field(bt, body, field):
    intent = await bt.intent("4000000000000002")
    if body.get("action") == "SELECT_OTP":
        await walk(bt, intent["id"], [("START", {}, "OTP_REQUIRED")])
    status, resp, _ = await bt.request("POST", f"/purchase-intents/{intent['id']}/verify", body)
    assert status == 400 and field in resp["error"]["details"]["fields"]


@pytest.mark.parametrize("code", ["12345", "abcdef", None])
async def test_malformed_otp_codes_are_400_and_cost_no_attempt(bt, code):
    intent = await bt.intent("4000000000000002")
    await walk(bt, intent["id"], [("START", {}, "OTP_REQUIRED"), ("SELECT_OTP", {"methodId": "otp-sms"}, "OTP_PENDING")])
    for _ in range(4):
        status, body, _ = await bt.verify(intent["id"], "VALIDATE_OTP", otpCode=code)
        assert status == 400 and "payload.otpCode" in body["error"]["details"]["fields"]
    await walk(bt, intent["id"], [("VALIDATE_OTP", {"otpCode": "123456"}, "CREATE_PASSKEY")])


@pytest.mark.parametrize("number", ["6011111111111117", "378282246310005"])
async def test_only_intents_in_verify_can_be_verified(bt, number):
    intent = await bt.intent(number)
    status, body, _ = await bt.verify(intent["id"], "START")
    assert status == 409 and body["error"]["details"]["status"] == intent["status"]


async def test_a_verified_intent_refuses_more_actions(bt):
    intent = await bt.intent("4000056655665556")
    await walk(bt, intent["id"], [("START", {}, "VERIFIED")])
    status, _, _ = await bt.verify(intent["id"], "START")
    assert status == 409


async def test_verify_an_unknown_intent_is_404(bt):
    status, body, _ = await bt.verify("26859380-7829-4ee1-8a0a-38927881e7ef", "START")
    assert (status, body["error"]["type"]) == (404, "not_found")


# Mock flows: the React SDK reads a MOCK_* status inside `data` and finishes without the networks' scripts.


def mock_status(answer):
    inner = answer["data"]
    assert answer["status"] == inner["status"] and inner["status"].startswith("MOCK_")
    assert inner["error"] is None and inner["mockCard"]
    return inner["status"], inner["data"]


async def test_mock_visa_otp_verifies_when_it_answers_passkey_create(bt):
    intent = await bt.intent("4000000000003063")
    status, answer, _ = await bt.verify(intent["id"], "START")
    kind, data = mock_status(answer)
    assert kind == "MOCK_OTP_REQUIRED" and data["methods"]
    status, answer, _ = await bt.verify(intent["id"], "SELECT_OTP", methodId=data["methods"][0]["identifier"])
    assert mock_status(answer)[0] == "MOCK_OTP_PENDING"
    status, answer, _ = await bt.verify(intent["id"], "VALIDATE_OTP", otpCode="000000")
    assert answer["status"] == "ERROR"  # the SDK shows the message and keeps the input
    status, answer, _ = await bt.verify(intent["id"], "VALIDATE_OTP", otpCode="123456")
    assert mock_status(answer)[0] == "MOCK_PASSKEY_CREATE"
    await assert_verified(bt, intent)  # the SDK calls nothing more after a mock passkey


async def test_mock_visa_success(bt):
    intent = await bt.intent("4000000000003220")
    _, answer, _ = await bt.verify(intent["id"], "START")
    assert mock_status(answer)[0] == "MOCK_SUCCESS"
    await assert_verified(bt, intent)


async def test_mock_mastercard_popup(bt):
    intent = await bt.intent("5200000000001096")
    _, answer, _ = await bt.verify(intent["id"], "START")
    kind, data = mock_status(answer)
    assert kind == "MOCK_POPUP_REQUIRED" and data["brand"] == "MASTERCARD"
    mock_complete = {
        "authenticationResult": {"type": "mock-popup", "result": "success", "timestamp": "2026-01-01T00:00:00Z"},
        "mockFlow": True,
    }
    status, answer, _ = await bt.verify(intent["id"], "MASTERCARD_AUTH_COMPLETE", **mock_complete)
    assert (status, answer["status"]) == (200, "VERIFIED")
    await assert_verified(bt, intent)
