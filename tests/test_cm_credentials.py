"""Crossmint credentials: only for active intents, merchant required, mandates enforced."""

import pytest

from tests.cm import MERCHANT

PRODUCTS = [{"name": "Milk", "price": 4.99, "quantity": 2}]


async def test_credentials_for_an_active_intent(cm):
    intent = await cm.active_intent(expiresAt="2026-06-01T00:00:00Z")
    status, body, _ = await cm.credentials(intent["orderIntentId"], products=PRODUCTS)
    assert status == 201
    assert set(body) == {"card", "expiresAt"}
    card = body["card"]
    assert set(card) == {"number", "expirationMonth", "expirationYear", "cvc"}
    assert all(isinstance(v, str) for v in card.values())
    assert card["number"].startswith("4") and len(card["number"]) == 16
    assert len(card["expirationMonth"]) == 2 and len(card["expirationYear"]) == 4
    assert body["expiresAt"] == "2026-01-01T00:30:00.000Z"
    _, again, _ = await cm.credentials(intent["orderIntentId"], products=PRODUCTS)
    assert again["card"]["number"] != card["number"]  # a fresh one-time card per call


async def test_a_credential_never_outlives_its_intent(cm):
    intent = await cm.active_intent(expiresAt="2026-01-01T00:10:00Z")
    _, body, _ = await cm.credentials(intent["orderIntentId"])
    assert body["expiresAt"] == "2026-01-01T00:10:00.000Z"


async def test_above_max_amount_is_refused(cm):
    intent = await cm.active_intent()  # maxAmount 100.00 usd, monthly
    status, body, _ = await cm.credentials(intent["orderIntentId"], products=[{"name": "TV", "price": 100.01, "quantity": 1}])
    assert status == 422
    assert body["code"] == "MANDATE_MAX_AMOUNT_EXCEEDED" and "100.01" in body["message"]


async def test_the_periods_budget_is_enforced_and_renews(cm):
    weekly = {"type": "maxAmount", "value": "50.00", "details": {"currency": "usd", "period": "weekly"}}
    intent = await cm.active_intent(mandates=[weekly])  # the clock starts on Thursday 2026-01-01
    oid = intent["orderIntentId"]
    assert (await cm.credentials(oid, products=[{"name": "A", "price": 30, "quantity": 1}]))[0] == 201
    status, body, _ = await cm.credentials(oid, products=[{"name": "B", "price": 20.01, "quantity": 1}])
    assert status == 422 and body["code"] == "MANDATE_PERIOD_BUDGET_EXCEEDED"
    assert (body["spent"], body["amount"], body["period"]) == ("30.00", "20.01", "weekly")
    assert (await cm.credentials(oid, products=[{"name": "C", "price": 20, "quantity": 1}]))[0] == 201
    await cm.control("/_sandbox/clock/advance", {"seconds": 4 * 86400})  # Monday: a new week
    assert (await cm.credentials(oid, products=[{"name": "D", "price": 50, "quantity": 1}]))[0] == 201


async def test_without_a_period_each_transaction_is_capped_alone(cm):
    per_tx = {"type": "maxAmount", "value": "10.00", "details": {"currency": "usd"}}
    intent = await cm.active_intent(mandates=[per_tx])
    for _ in range(3):
        assert (await cm.credentials(intent["orderIntentId"], products=[{"name": "A", "price": 10, "quantity": 1}]))[0] == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"merchant": {**MERCHANT, "countryCode": "us"}}, "merchant.countryCode"),
        ({"merchant": {**MERCHANT, "url": "not a url"}}, "merchant.url"),
        ({"merchant": {**MERCHANT, "name": ""}}, "merchant.name"),
        ({}, "merchant"),
        ({"merchant": MERCHANT, "products": []}, "products"),
        ({"merchant": MERCHANT, "products": [{"name": "A", "price": -1, "quantity": 1}]}, "products.0.price"),
        ({"merchant": MERCHANT, "products": [{"name": "A", "price": 1, "quantity": 0}]}, "products.0.quantity"),
    ],
)
async def test_bad_credential_requests_name_the_field(cm, body, field):
    intent = await cm.active_intent()
    status, resp, _ = await cm.request("POST", f"/order-intents/{intent['orderIntentId']}/credentials", body)
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"]), resp


async def test_deleting_the_agent_stops_its_intents(cm):
    intent = await cm.active_intent()
    assert (await cm.request("DELETE", f"/agents/{intent['agentId']}"))[0] == 204
    status, body, _ = await cm.credentials(intent["orderIntentId"])
    assert status == 409 and "deleted" in body["message"]


async def test_deleting_the_card_keeps_active_intents_working(cm):
    intent = await cm.active_intent()
    assert (await cm.request("DELETE", f"/payment-methods/{intent['payment']['paymentMethodId']}"))[0] == 204
    assert (await cm.credentials(intent["orderIntentId"]))[0] == 201
