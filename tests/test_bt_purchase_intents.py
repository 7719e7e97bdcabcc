"""Basis Theory AI purchase intents: the seed's validation rules, statuses from magic cards."""

import pytest

MAX = {"type": "maxAmount", "value": "100.00", "details": {"currency": "840", "period": "transaction"}}


async def create(bt, method_id, **changes):
    return await bt.request("POST", "/purchase-intents", bt.intent_body(method_id, **changes))


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"credentialType": "network-token"},
            "credentialType",
            "Credential type must be: virtual-card (other types not currently supported)",
        ),
        ({"paymentMethodId": "pm-123"}, "paymentMethodId", "Payment method ID must be a valid UUID."),
        (
            {"paymentMethodId": "26859380-7829-4ee1-8a0a-38927881e7ef"},
            "paymentMethodId",
            "Payment method not found for this project and entity.",
        ),
        (
            {"mandates": [{**MAX, "value": "100.001"}]},
            "mandates.0.value",
            'maxAmount value must be a valid decimal amount (e.g., "100.00")',
        ),
        ({"mandates": [{**MAX, "value": "abc"}]}, "mandates.0.value", None),
        ({"mandates": [{**MAX, "value": "0"}]}, "mandates.0.value", None),
        ({"mandates": [{**MAX, "details": {"currency": "USD"}}]}, "mandates.0.details.currency", None),
        ({"mandates": [{**MAX, "details": {"currency": "840", "period": "weekly"}}]}, "mandates.0.details.period", None),
        ({"mandates": [{"type": "maxAmount", "value": "10"}]}, "mandates.0.details", None),
        ({"mandates": [MAX, MAX]}, "mandates.1.type", "only one maxAmount mandate is allowed"),
        ({"mandates": [{"type": "expirationTime", "value": "next tuesday"}]}, "mandates.0.value", None),
        (
            {"mandates": [{"type": "merchant", "value": "Target", "details": {"categoryCode": "531"}}]},
            "mandates.0.details.categoryCode",
            None,
        ),
        ({"mandates": [{"type": "description", "value": ""}]}, "mandates.0.value", None),
        ({"mandates": [{"type": "consumer", "value": "u", "details": {"email": "not-an-email"}}]}, "mandates.0.details.email", None),
        ({"mandates": [{"type": "consumer", "value": "u", "details": {"name": "No Email"}}]}, "mandates.0.details.email", None),
        ({"mandates": [{"type": "budget", "value": "1"}]}, "mandates.0.type", None),
        ({"mandates": [{"type": "prompt"}]}, "mandates.0.value", None),
    ],
)
async def test_each_rule_names_its_field(bt, changes, field, message):
    method = await bt.payment_method()
    status, body, _ = await create(bt, method["id"], **changes)
    assert status == 400
    assert body["error"]["type"] == "validation_error"
    fields = body["error"]["details"]["fields"]
    assert field in fields, fields
    if message:
        assert fields[field] == message
    _, listing, _ = await bt.request("GET", "/purchase-intents")
    assert listing == []


async def test_every_mandate_problem_is_reported_at_once(bt):
    mandates = [{**MAX, "value": "x"}, {"type": "merchant", "value": "M", "details": {"categoryCode": "12"}}]
    status, body, _ = await create(bt, "26859380-7829-4ee1-8a0a-38927881e7ef", mandates=mandates)
    assert status == 400
    fields = set(body["error"]["details"]["fields"])
    assert fields == {"paymentMethodId", "mandates.0.value", "mandates.1.details.categoryCode"}


async def test_missing_required_fields(bt):
    status, body, _ = await bt.request("POST", "/purchase-intents", {"entityId": bt.entity})
    assert status == 400
    assert {"credentialType", "paymentMethodId"} <= set(body["error"]["details"]["fields"])


async def test_lenient_values_the_providers_own_playground_sends(bt):
    method = await bt.payment_method()
    mandates = [
        {"type": "maxAmount", "value": "500", "details": {"currency": "840"}},
        {"type": "merchant", "value": "Apple Store", "details": {"category": "electronics", "categoryCode": "5732"}},
        {"type": "description", "value": "Purchase of AirPods Pro and iPhone case"},
        {"type": "expirationTime", "value": "1767182340"},
        {"type": "prompt", "value": "The purchase of electronics"},
        {"type": "consumer", "value": "c0ffee00-0000-4000-8000-000000000000",
         "details": {"email": "a@example.com", "name": "A", "address": {"line1": "1 St", "countryCode": "USA"}}},
    ]
    status, body, _ = await create(bt, method["id"], mandates=mandates)
    assert status == 201, body
    assert body["mandates"] == mandates


async def test_no_mandates_gets_the_documented_default(bt):
    method = await bt.payment_method()
    status, body, _ = await bt.request(
        "POST", "/purchase-intents", {"entityId": bt.entity, "credentialType": "virtual-card", "paymentMethodId": method["id"]}
    )
    assert status == 201
    assert body["mandates"] == [{"type": "maxAmount", "value": "1000.00", "details": {"currency": "840", "period": "transaction"}}]


async def test_a_future_expiration_time_shortens_expires_at(bt):
    intent = await bt.intent(mandates=[{"type": "expirationTime", "value": "2026-01-01T06:00:00Z"}])
    assert intent["expiresAt"] == "2026-01-01T06:00:00Z"


async def test_singular_and_plural_paths(bt):
    method = await bt.payment_method()
    status, created, _ = await bt.request("POST", "/purchase-intent", bt.intent_body(method["id"]))
    assert status == 201
    for path in (f"/purchase-intents/{created['id']}", f"/purchase-intent/{created['id']}"):
        status, read, _ = await bt.request("GET", path)
        assert (status, read) == (200, created)


@pytest.mark.parametrize(
    "number, status",
    [
        ("4000000000000002", "verify"), ("4242424242424242", "verify"), ("5555555555554444", "verify"),
        ("378282246310005", "pending"), ("6011111111111117", "active"), ("371449635398431", "active"),
    ],
)
async def test_status_from_the_card(bt, number, status):
    assert (await bt.intent(number))["status"] == status


async def test_active_without_verification_carries_a_card(bt):
    intent = await bt.intent("6011111111111117")
    card = intent["card"]
    assert set(card) == {"number", "expirationMonth", "expirationYear", "cvc"}
    assert len(card["expirationMonth"]) == 2 and len(card["expirationYear"]) == 4 and len(card["cvc"]) == 3


async def test_pending_becomes_active_when_the_clock_passes_its_ready_time(bt):
    intent = await bt.intent("378282246310005")
    assert "card" not in intent
    await bt.client.post("/_sandbox/clock/advance", json={"seconds": 59})
    assert (await bt.get(intent["id"]))["status"] == "pending"
    await bt.client.post("/_sandbox/clock/advance", json={"seconds": 1})
    read = await bt.get(intent["id"])
    assert read["status"] == "active"
    assert read["card"]["number"].startswith("37") and len(read["card"]["number"]) == 15 and len(read["card"]["cvc"]) == 4
    async with bt.client.get(f"/_sandbox/events?object_id={intent['id']}") as resp:
        types = [e["type"] for e in (await resp.json())["data"]]
    assert types == ["purchase_intent.created", "purchase_intent.activated"]


async def test_intents_expire_after_24_hours(bt):
    intent = await bt.intent("6011111111111117")
    await bt.client.post("/_sandbox/clock/advance", json={"seconds": 24 * 3600})
    read = await bt.get(intent["id"])
    assert read["status"] == "expired" and "card" not in read


@pytest.mark.parametrize("number", ["4000000000000069", "5105105105105100"])
async def test_declined_cards_refuse_the_intent(bt, number):
    method = await bt.payment_method(number)
    status, body, _ = await create(bt, method["id"])
    assert status == 402
    assert body["error"]["type"] == "card_declined"
    _, listing, headers = await bt.request("GET", "/purchase-intents")
    assert listing == [] and headers["X-Total-Count"] == "0"


async def test_list_is_a_bare_array_with_paging_headers(bt):
    ids = [(await bt.intent("6011111111111117"))["id"] for _ in range(3)]
    status, page, headers = await bt.request("GET", "/purchase-intents?limit=2")
    assert status == 200 and [i["id"] for i in page] == [ids[2], ids[1]]
    assert (headers["X-Total-Count"], headers["X-Has-Next"], headers["X-Has-Previous"]) == ("3", "true", "false")


async def test_ids_and_cards_are_deterministic(make_api):
    from tests.bt import Bt

    results = []
    for _ in range(2):
        bt = Bt((await make_api(seed=3)).client)
        results.append(await bt.intent("6011111111111117"))
    assert results[0] == results[1]


async def test_an_empty_consumer_id_gets_a_uuid(bt):
    consumer = {"type": "consumer", "value": "", "details": {"email": "a@example.com"}}
    intent = await bt.intent(mandates=[consumer])
    value = intent["mandates"][0]["value"]
    assert len(value) == 36 and value.count("-") == 4
    assert intent["mandates"][0]["details"] == {"email": "a@example.com"}


@pytest.mark.parametrize("value", ["99999999999999999999", "99999999999999999"])
async def test_absurd_epoch_expiration_is_a_400_not_a_500(bt, value):
    method = await bt.payment_method()
    status, body, _ = await create(bt, method["id"], mandates=[{"type": "expirationTime", "value": value}])
    assert status == 400 and "mandates.0.value" in body["error"]["details"]["fields"]


async def test_time_based_events_carry_the_moment_they_fell_due(bt):
    intent = await bt.intent("378282246310005")  # active 60 s after creation
    await bt.client.post("/_sandbox/clock/advance", json={"seconds": 48 * 3600})
    assert (await bt.get(intent["id"]))["status"] == "expired"
    async with bt.client.get(f"/_sandbox/events?object_id={intent['id']}") as resp:
        events = [(e["type"], e["occurred_at"]) for e in (await resp.json())["data"]]
    assert events == [
        ("purchase_intent.created", "2026-01-01T00:00:00Z"),
        ("purchase_intent.activated", "2026-01-01T00:01:00Z"),
        ("purchase_intent.expired", "2026-01-02T00:00:00Z"),
    ]


async def test_mandate_detail_messages_read_like_the_rest(bt):
    method = await bt.payment_method()
    status, body, _ = await create(bt, method["id"], mandates=[{"type": "maxAmount", "value": "1", "details": {"period": "daily"}}])
    assert status == 400 and body["error"]["details"]["fields"]["mandates.0.details.currency"] == "is required"
