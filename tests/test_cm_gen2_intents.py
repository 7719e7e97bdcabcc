"""Crossmint Gen-2: order-intent registration, amount-based order intents (allowances), their rails,
verification through an allowance, cancellation and expiry; both generations side by side."""

import re

import pytest

from tests.cm import ALLOWANCE, MAX, SHOP

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
AGENTIC_VIC = {"rail": "agentic-token", "provider": "vic", "status": "active", "credentialFormats": ["card"]}
ENCRYPTED = {"rail": "encrypted-card", "status": "active", "credentialFormats": ["card"]}
SPT = {"rail": "spt", "provider": "stripe", "status": "active", "credentialFormats": ["identifier"]}


def registration_path(method: str) -> str:
    return f"/payment-methods/{method}/order-intent-registration"


# -- registration ---------------------------------------------------------------------------


async def test_a_card_never_registered_is_404_then_put_registers_it_once(cm):
    method = await cm.payment_method("4242424242424242")
    status, body, headers = await cm.request("GET", registration_path(method))
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert body == {"statusCode": 404, "error": "Not Found", "message": f"Payment method {method} has no order-intent registration"}
    expected = {"paymentMethodId": method, "rails": [
        {"rail": "agentic-token", "provider": "vic", "status": "enabled"}, {"rail": "spt", "provider": "stripe", "status": "enabled"},
    ]}
    assert await cm.ok("PUT", registration_path(method), {}) == expected
    assert await cm.ok("GET", registration_path(method)) == expected
    assert await cm.ok("PUT", registration_path(method), {"email": "other@example.com", "languageCode": "en-US"}) == expected
    assert await cm.events(method) == ["payment-methods.order-intent-registration.created"]


async def test_put_without_a_body_registers_too(cm):
    method = await cm.payment_method("4242424242424242")
    status, body, _ = await cm.request("PUT", registration_path(method))
    assert status == 200 and body["paymentMethodId"] == method


@pytest.mark.parametrize("number, rails", [
    ("5555555555554444", [{"rail": "agentic-token", "provider": "agentpay", "status": "enabled"}]),
    ("5186160000000001", [{"rail": "agentic-token", "provider": "agentpay", "status": "error", "error": {"code": "CARD_NOT_ELIGIBLE"}}]),
    ("378282246310005", []),  # no agentic-token network for American Express
])
async def test_the_card_decides_the_registered_rails(cm, number, rails):
    method = await cm.payment_method(number)
    body = await cm.ok("PUT", registration_path(method), {"countryCode": "US"})
    assert body["rails"] == [*rails, {"rail": "spt", "provider": "stripe", "status": "enabled"}]


@pytest.mark.parametrize("sent, message", [
    ({"countryCode": "us"}, "countryCode must be upper case"),
    ({"countryCode": "USA"}, "countryCode must be an ISO 3166-1 alpha-2 code such as US"),
    ({"email": "not-an-email"}, "email must be an email"),
    ({"languageCode": "english please"}, None),
    ({"phone": "123"}, "phone unknown field"),
])
async def test_registration_bodies_are_validated_and_nothing_is_stored(cm, sent, message):
    method = await cm.payment_method("4242424242424242")
    status, body, _ = await cm.request("PUT", registration_path(method), sent)
    assert status == 400 and body["error"] == "Bad Request"
    assert (message in body["message"]) if message else body["message"][0].startswith("languageCode ")
    assert (await cm.request("GET", registration_path(method)))[0] == 404


async def test_registration_of_an_unknown_or_another_users_card_is_404(cm):
    method = await cm.payment_method("4242424242424242")
    assert (await cm.request("PUT", registration_path("pm_nope"), {}))[0] == 404
    other = cm.as_(jwt="eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.")
    assert (await other.request("PUT", registration_path(method), {}))[0] == 404


# -- creating, reading, listing ---------------------------------------------------------------


async def test_the_reference_body_creates_a_gen2_order_intent(cm):
    method = await cm.registered("4242424242424242")
    sent = {"paymentMethodId": method, **ALLOWANCE, "merchant": SHOP}
    status, body, _ = await cm.request("POST", "/order-intents", sent)
    assert status == 201, body
    assert re.fullmatch("oi_" + UUID, body["orderIntentId"])
    assert body == {
        "orderIntentId": body["orderIntentId"], "paymentMethodId": method, "status": "active",
        "amount": {"total": "25.00", "spent": "0.00", "reserved": "0.00", "available": "25.00", "currency": "USD"},
        "merchant": SHOP, "description": "Sneakers", "rails": [AGENTIC_VIC, ENCRYPTED, SPT],
        "expiresAt": "2026-09-24T12:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
    }
    assert list(body) == ["orderIntentId", "paymentMethodId", "status", "amount", "merchant", "description", "rails", "expiresAt",
                          "createdAt"]
    assert await cm.read(body["orderIntentId"]) == body
    assert await cm.events(body["orderIntentId"]) == ["order-intents.created"]


async def test_a_visa_card_waits_for_the_allowance_to_be_verified(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"), merchant=None)
    assert "merchant" not in intent
    assert intent["rails"][0] == {**AGENTIC_VIC, "status": "pending_verification"}
    assert intent["rails"][1:] == [ENCRYPTED, SPT]
    config = intent["verificationConfig"]
    assert set(config) == {"environment", "publicApiKey", "allowanceId"} and config["environment"] == "test"
    assert config["publicApiKey"].startswith("key_test_") and re.fullmatch(r"alw_[a-z0-9]{30}", config["allowanceId"])
    assert await cm.events(intent["orderIntentId"]) == ["order-intents.created", "order-intents.verification-required"]


async def test_a_mastercard_waits_on_its_agent_pay_rail(cm):
    intent = await cm.allowance(await cm.registered("5555555555554444"))
    assert intent["rails"][0] == {"rail": "agentic-token", "provider": "agentpay", "status": "pending_verification",
                                  "credentialFormats": ["card"]}


async def test_the_error_card_keeps_its_other_rails(cm):
    intent = await cm.allowance(await cm.registered("5186160000000001"))
    assert intent["rails"] == [
        {"rail": "agentic-token", "provider": "agentpay", "status": "error", "error": {"code": "CARD_NOT_ELIGIBLE"},
         "credentialFormats": ["card"]},
        ENCRYPTED, SPT,
    ]
    assert intent["status"] == "active" and "verificationConfig" not in intent


async def test_a_card_saved_without_cvc_needs_cvc_recollection(cm):
    intent = await cm.allowance(await cm.registered("4242424242424242", cvc=None))
    assert intent["rails"][1] == {**ENCRYPTED, "status": "pending_cvc_recollection"}
    assert "verificationConfig" not in intent  # only pending_verification asks for it


async def test_amex_has_no_agentic_token_rail(cm):
    intent = await cm.allowance(await cm.registered("378282246310005"))
    assert intent["rails"] == [ENCRYPTED, SPT]


async def test_an_unregistered_or_unknown_card_is_refused(cm):
    method = await cm.payment_method("4242424242424242")
    status, body, _ = await cm.request("POST", "/order-intents", {"paymentMethodId": method, **ALLOWANCE})
    assert status == 400
    assert body["message"] == [f"paymentMethodId payment method {method} is not registered for order intents: "
                               f"PUT /payment-methods/{method}/order-intent-registration first"]
    status, body, _ = await cm.request("POST", "/order-intents", {"paymentMethodId": "pm_nope", **ALLOWANCE})
    assert status == 404 and body["message"] == "Payment method pm_nope not found"
    assert (await cm.ok("GET", "/order-intents")) == []


@pytest.mark.parametrize("change, field", [
    ({"amount": {"value": "0", "currency": "USD"}}, "amount.value"),
    ({"amount": {"value": "1.23456", "currency": "USD"}}, "amount.value"),
    ({"amount": {"value": 25, "currency": "USD"}}, "amount.value"),
    ({"amount": {"value": "25.00", "currency": "XYZ"}}, "amount.currency"),
    ({"amount": {"value": "25.00"}}, "amount.currency"),
    ({"description": None}, "description"),
    ({"description": ""}, "description"),
    ({"expiresAt": None}, "expiresAt"),
    ({"expiresAt": "2026-09-24T12:00:00+00:00"}, "expiresAt"),
    ({"expiresAt": "2025-12-31T23:59:59Z"}, "expiresAt"),
    ({"merchant": {**SHOP, "countryCode": "us"}}, "merchant.countryCode"),
    ({"merchant": {**SHOP, "url": "ftp://shop"}}, "merchant.url"),
    ({"merchant": {**SHOP, "categoryCode": "54"}}, "merchant.categoryCode"),
    ({"extra": 1}, "extra"),
    # Digits are ASCII digits: Python's `\d` and Decimal would take "٣" (Arabic-Indic three) as 3.
    ({"amount": {"value": "\u0663", "currency": "USD"}}, "amount.value"),
    ({"amount": {"value": "\uff12\uff15.00", "currency": "USD"}}, "amount.value"),
    ({"amount": {"value": "25.00", "currency": "u\u017fd"}}, "amount.currency"),  # "uſd".upper() == "USD"
    ({"merchant": {**SHOP, "categoryCode": "\u0665\u0664\u0661\u0661"}}, "merchant.categoryCode"),
    ({"merchant": {**SHOP, "acquirerBin": "\u0664\u0662\u0664\u0662\u0664\u0662"}}, "merchant.acquirerBin"),
])
async def test_gen2_bodies_are_validated(cm, change, field):
    body = {"paymentMethodId": await cm.registered(), **ALLOWANCE, "merchant": SHOP, **change}
    status, resp, _ = await cm.request("POST", "/order-intents", {k: v for k, v in body.items() if v is not None})
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"]), resp
    assert (await cm.ok("GET", "/order-intents")) == []


@pytest.mark.parametrize("card, field", [
    ({"expiration": {"month": "12", "year": "\u0662\u0660\u0663\u0660"}}, "card.expiration.year"),
    ({"cvc": "\u0661\u0662\u0663"}, "card.cvc"),
])
async def test_the_saved_cards_digits_are_ascii(cm, card, field):
    """The card an allowance's encrypted-card rail hands out must not carry non-ASCII digits."""
    body = {"number": "4242424242424242", "expiration": {"month": "12", "year": "2030"}, "cvc": "123", **card}
    status, resp, _ = await cm.request("POST", "/payment-methods", {"card": body})
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"]), resp
    assert (await cm.ok("GET", "/payment-methods"))["data"] == []


async def test_the_currency_is_upper_cased_and_four_decimals_are_kept(cm):
    intent = await cm.allowance(amount={"value": "10.1234", "currency": "eur"}, merchant=None)
    assert intent["amount"] == {"total": "10.1234", "spent": "0.00", "reserved": "0.00", "available": "10.1234", "currency": "EUR"}
    assert "merchant" not in intent


async def test_a_body_with_gen1_keys_is_gen1(cm):
    method = await cm.registered()
    status, body, _ = await cm.request("POST", "/order-intents", {"paymentMethodId": method, **ALLOWANCE, "mandates": [MAX]})
    assert status == 400
    assert {"agentId is required", "payment is required", "paymentMethodId unknown field"} <= set(body["message"])


async def test_each_intent_keeps_its_generation_on_get_and_list(cm):
    gen1 = await cm.active_intent()
    gen2 = await cm.allowance()
    listed = await cm.ok("GET", "/order-intents")
    assert [i["orderIntentId"] for i in listed] == [gen2["orderIntentId"], gen1["orderIntentId"]]  # newest first
    assert listed == [gen2, gen1]
    assert "phase" in listed[1] and "status" not in listed[1] and "amount" not in listed[1]
    assert "status" in listed[0] and "phase" not in listed[0] and "mandates" not in listed[0]
    assert await cm.ok("GET", f"/order-intents?agentId={gen1['agentId']}") == [gen1]  # an agent's intents are Gen-1


# -- verification through the allowance -------------------------------------------------------


async def test_the_shortcut_verifies_the_allowance_shown_on_the_next_get(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"))
    oid = intent["orderIntentId"]
    status, body = await cm.control(f"/_sandbox/crossmint/order-intents/{oid}/verify")
    assert status == 200 and body["rails"][0]["status"] == "active" and "verificationConfig" not in body
    read = await cm.read(oid)
    assert read["rails"][0] == AGENTIC_VIC and "verificationConfig" not in read
    assert await cm.events(oid) == ["order-intents.created", "order-intents.verification-required", "order-intents.verified"]
    status, body = await cm.control(f"/_sandbox/crossmint/order-intents/{oid}/verify")
    assert status == 409 and body["error"]["details"] == {"status": "active", "railStatus": "active"}


async def test_verify_allowance_by_its_id_answers_as_verify_allowance_resolves(cm):
    intent = await cm.allowance(await cm.registered("5555555555554444"))
    allowance_id = intent["verificationConfig"]["allowanceId"]
    status, body = await cm.control(f"/_sandbox/crossmint/allowances/{allowance_id}/verify", {"outcome": "failure"})
    assert status == 200 and body["status"] == "pending_verification"
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.verification-failed"
    status, body = await cm.control(f"/_sandbox/crossmint/allowances/{allowance_id}/verify")
    assert (status, body) == (200, {"allowanceId": allowance_id, "orderIntentId": intent["orderIntentId"], "rail": "agentic-token",
                                    "provider": "agentpay", "status": "active"})
    assert (await cm.control(f"/_sandbox/crossmint/allowances/{allowance_id}/verify"))[0] == 409
    assert (await cm.control("/_sandbox/crossmint/allowances/alw_nope/verify"))[0] == 404
    assert (await cm.control(f"/_sandbox/crossmint/allowances/{intent['orderIntentId']}/verify"))[0] == 404


async def page_step(cm, oid: str, action: str):
    async with cm.client.post(f"/_sandbox/crossmint/order-intents/{oid}/verification", data={"action": action},
                              allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def test_the_verification_page_walks_the_allowance_ceremony(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"))
    oid, allowance_id = intent["orderIntentId"], intent["verificationConfig"]["allowanceId"]
    async with cm.client.get(f"/_sandbox/crossmint/order-intents/{oid}/verification") as resp:
        page = await resp.text()
    assert resp.status == 200 and allowance_id in page and "25.00" in page and "Example Shop" in page
    assert (await page_step(cm, oid, "AUTHENTICATE_PASSKEY"))[0] == 409  # START comes first
    assert (await page_step(cm, oid, "START"))[0] == 303
    assert (await page_step(cm, oid, "AUTHENTICATE_PASSKEY"))[0] == 303
    assert (await cm.read(oid))["rails"][0] == AGENTIC_VIC
    async with cm.client.get(f"/_sandbox/crossmint/order-intents/{oid}/verification") as resp:
        assert "Allowance verified" in await resp.text()


async def test_the_page_fails_a_mastercard_allowance_and_may_start_again(cm):
    intent = await cm.allowance(await cm.registered("5555555555554444"))
    oid = intent["orderIntentId"]
    status, page = await page_step(cm, oid, "FAIL")
    assert status == 200 and "pending_verification" in page
    assert (await cm.read(oid))["rails"][0]["status"] == "pending_verification"
    assert (await page_step(cm, oid, "START"))[0] == 303
    assert (await page_step(cm, oid, "MASTERCARD_AUTH_COMPLETE"))[0] == 303
    assert (await cm.read(oid))["rails"][0]["status"] == "active"


@pytest.mark.parametrize("number, shown", [
    ("4242424242424242", "Allowance verified"),  # active at once
    ("378282246310005", "has no agentic-token rail"),
    ("5186160000000001", "its agentic-token rail is <code>error</code>"),
])
async def test_the_page_for_an_allowance_with_nothing_to_verify(cm, number, shown):
    intent = await cm.allowance(await cm.registered(number))
    async with cm.client.get(f"/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verification") as resp:
        assert resp.status == 200 and shown in await resp.text()
    assert (await page_step(cm, intent["orderIntentId"], "START"))[0] == 409


async def test_allowances_are_not_basis_theory_instructions(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"))
    for reference in (intent["orderIntentId"], intent["verificationConfig"]["allowanceId"]):
        async with cm.client.post(f"/_sandbox/basistheory/instructions/{reference}/verify", json={"action": "START"}) as resp:
            assert resp.status == 404


# -- cancel and expiry ---------------------------------------------------------------------------


async def test_delete_cancels_and_a_second_delete_is_409(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"))
    oid = intent["orderIntentId"]
    status, body, _ = await cm.request("DELETE", f"/order-intents/{oid}")
    assert (status, body) == (204, "")
    read = await cm.read(oid)
    assert read["status"] == "cancelled" and "verificationConfig" not in read
    status, body, _ = await cm.request("DELETE", f"/order-intents/{oid}")
    assert status == 409
    assert body == {"statusCode": 409, "error": "Conflict", "message": "order intent is not active", "status": "cancelled"}
    status, body = await cm.control(f"/_sandbox/crossmint/order-intents/{oid}/verify")
    assert status == 409 and body["error"]["message"] == "order intent is not active"
    assert body["error"]["details"] == {"status": "cancelled"}
    assert (await cm.events(oid))[-1] == "order-intents.cancelled"


async def test_an_allowance_expires_on_the_sandbox_clock_read_or_not(cm):
    intent = await cm.allowance(expiresAt="2026-01-01T01:00:00Z")
    oid = intent["orderIntentId"]
    await cm.control("/_sandbox/clock/advance", {"seconds": 3599})
    assert await cm.events(oid) == ["order-intents.created"]
    await cm.control("/_sandbox/clock/advance", {"seconds": 1})
    events = await cm.event_list(oid)  # fired by the timer, before any read
    assert [(e["type"], e["occurred_at"]) for e in events][-1] == ("order-intents.expired", "2026-01-01T01:00:00.000Z")
    assert events[-1]["payload"]["payload"]["status"] == "expired"
    assert (await cm.read(oid))["status"] == "expired"
    assert (await cm.request("DELETE", f"/order-intents/{oid}"))[0] == 409

