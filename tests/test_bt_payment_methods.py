"""Basis Theory AI payment methods: cards stored as brand, BIN, last four and expiry only."""

import pytest

from tests.bt import card


async def test_create_returns_the_providers_shape_without_the_pan(bt):
    status, body, _ = await bt.request(
        "POST", "/payment-methods", {"entityId": bt.entity, "card": card("5555555555554444", "3", "2031", "987")}
    )
    assert status == 201
    assert body == {
        "id": body["id"], "type": "card", "entityId": bt.entity,
        "card": {"brand": "mastercard", "type": "credit",
                 "details": {"bin": "555555", "last4": "4444", "expirationMonth": "03", "expirationYear": "2031"}},
        "credentialTypes": ["virtual-card"], "createdAt": "2026-01-01T00:00:00Z",
    }
    assert len(body["id"]) == 36 and body["id"].count("-") == 4
    status, read, _ = await bt.request("GET", f"/payment-methods/{body['id']}")
    assert (status, read) == (200, body)
    text = str(read)
    assert "5555555555554444" not in text and "987" not in text


@pytest.mark.parametrize(
    "number, brand",
    [("4242424242424242", "visa"), ("378282246310005", "amex"), ("6011111111111117", "discover"), ("2223003122003222", "mastercard")],
)
async def test_brand_comes_from_the_bin(bt, number, brand):
    assert (await bt.payment_method(number))["card"]["brand"] == brand


async def test_numeric_month_and_year_are_accepted(bt):
    status, body, _ = await bt.request(
        "POST", "/payment-methods", {"entityId": bt.entity, "card": {**card(), "expirationMonth": 7, "expirationYear": 2030}}
    )
    assert status == 201 and body["card"]["details"]["expirationMonth"] == "07"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"number": "4242424242424241"}, "card.number"),
        ({"number": "4242-4242"}, "card.number"),
        ({"expirationMonth": "13"}, "card.expirationMonth"),
        ({"expirationYear": "30"}, "card.expirationYear"),
        ({"expirationYear": "2025"}, "card.expirationYear"),
        ({"expirationMonth": "12", "expirationYear": "2025"}, "card.expirationYear"),
        ({"cvc": "12"}, "card.cvc"),
    ],
)
async def test_invalid_cards_name_the_field(bt, changes, field):
    status, body, _ = await bt.request("POST", "/payment-methods", {"entityId": bt.entity, "card": {**card(), **changes}})
    assert status == 400
    assert body["error"]["type"] == "validation_error"
    assert field in body["error"]["details"]["fields"]
    _, listing, _ = await bt.request("GET", "/payment-methods")
    assert listing == []


async def test_a_card_valid_through_this_month_is_accepted(bt):
    status, _, _ = await bt.request("POST", "/payment-methods", {"entityId": bt.entity, "card": card(month="01", year="2026")})
    assert status == 201


@pytest.mark.parametrize(
    "body, message",
    [
        ({"entityId": "user-12345"}, "exactly one of card"),
        ({"entityId": "user-12345", "tokenId": "26859380-7829-4ee1-8a0a-38927881e7ef"}, "not supported"),
    ],
)
async def test_exactly_one_card_source(bt, body, message):
    status, resp, _ = await bt.request("POST", "/payment-methods", body)
    assert status == 400
    assert any(message in m for m in resp["error"]["details"]["fields"].values())


async def test_list_pages_with_offset_and_headers(bt):
    ids = [(await bt.payment_method())["id"] for _ in range(5)]
    status, page, headers = await bt.request("GET", "/payment-methods?limit=2&offset=2")
    assert status == 200 and isinstance(page, list)
    assert [m["id"] for m in page] == [ids[2], ids[1]]  # newest first
    assert (headers["X-Total-Count"], headers["X-Limit"], headers["X-Offset"]) == ("5", "2", "2")
    assert (headers["X-Has-Next"], headers["X-Has-Previous"]) == ("true", "true")
    _, last, headers = await bt.request("GET", "/payment-methods?limit=2&offset=4")
    assert [m["id"] for m in last] == [ids[0]] and headers["X-Has-Next"] == "false"


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset")])
async def test_bad_paging_names_the_parameter(bt, query, field):
    status, body, _ = await bt.request("GET", "/payment-methods?" + query)
    assert status == 400 and field in body["error"]["details"]["fields"]


async def test_delete_is_204_and_invalidates_live_intents(bt):
    intent = await bt.intent("4000000000000002")
    status, body, _ = await bt.request("DELETE", f"/payment-methods/{intent['paymentMethodId']}")
    assert (status, body) == (204, "")
    status, _, _ = await bt.request("GET", f"/payment-methods/{intent['paymentMethodId']}")
    assert status == 404
    assert (await bt.get(intent["id"]))["status"] == "unavailable"
    status, _, _ = await bt.request("DELETE", f"/payment-methods/{intent['paymentMethodId']}")
    assert status == 404
