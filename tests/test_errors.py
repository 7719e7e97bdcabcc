"""Bad input gets Dino's error envelope with the field named, never a 500, and changes nothing."""

import pytest
import yarl

from tests.conftest import intent_body


def assert_dino_error(body, code):
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


async def post_raw(api, path, data, content_type="application/json"):
    return await api.request("POST", path, headers={"Content-Type": content_type}, data=data)


async def test_malformed_json(api):
    status, body, _ = await post_raw(api, "/v1/purchase-intents", b'{"quantity": 1,')
    assert status == 400
    assert_dino_error(body, "invalid_request")
    assert "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"42", b"null"])
async def test_body_must_be_an_object(api, payload):
    status, body, _ = await post_raw(api, "/v1/purchase-intents", payload)
    assert status == 400
    assert_dino_error(body, "invalid_request")
    assert body["error"]["details"]["field"] == "body"


async def test_wrong_content_type(api):
    status, body, _ = await post_raw(api, "/v1/purchase-intents", b"quantity=1", "application/x-www-form-urlencoded")
    assert status == 415
    assert_dino_error(body, "invalid_request")
    assert "application/json" in body["error"]["message"]


async def test_oversized_body(make_api):
    api = await make_api(max_body_bytes=1000)
    status, body, _ = await post_raw(api, "/v1/purchase-intents", b'{"pad": "' + b"x" * 2000 + b'"}')
    assert status == 413
    assert_dino_error(body, "invalid_request")


async def test_unknown_route_under_dino_gets_dinos_shape(api):
    status, body, _ = await api.request("GET", "/v1/nothing-here")
    assert status == 404
    assert_dino_error(body, "not_found")


@pytest.mark.parametrize("path", ["/v1/a%0Ab", "/api/%11%C2%AD%0A/payment-methods/x", "/%0A", "/v1/%00"])
async def test_an_unknown_path_with_control_characters_gets_the_owners_json(api, path):
    """Every path no route takes answers through the catch-all, newlines included."""
    async with api.client.get(yarl.URL(path, encoded=True)) as resp:
        assert resp.status == 404 and resp.content_type == "application/json", await resp.text()


async def test_a_get_ignores_its_body_however_large(api):
    """A GET's body is never read (nor waited for): one over the body bound still gets the list."""
    big = b"x" * (2 * 1024 * 1024)
    status, body, _ = await api.request("GET", "/v1/purchase-intents", data=big, headers={"Content-Type": "text/plain"})
    assert status == 200 and body["object"] == "list", body


async def test_wrong_method(api):
    status, body, headers = await api.request("DELETE", "/v1/purchase-intents")
    assert status == 405
    assert_dino_error(body, "invalid_request")
    assert "POST" in headers["Allow"]


async def test_unknown_route_elsewhere_is_json_too(api):
    status, body, _ = await api.request("GET", "/definitely/not/here")
    assert status == 404
    assert body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda b: b.pop("product_url"), "product_url"),
        (lambda b: b.update(product_url="not a url"), "product_url"),
        (lambda b: b.update(product_url="ftp://example.com/x"), "product_url"),
        (lambda b: b.update(quantity=0), "quantity"),
        (lambda b: b.update(quantity="1"), "quantity"),
        (lambda b: b.update(quantity=1.5), "quantity"),
        (lambda b: b.update(currency="USD"), "currency"),
        (lambda b: b.pop("currency"), "currency"),
        (lambda b: b.update(max_total_cents=0), "max_total_cents"),
        (lambda b: b.update(max_total_cents=-5), "max_total_cents"),
        (lambda b: b.pop("buyer"), "buyer"),
        (lambda b: b.update(buyer="john"), "buyer"),
        (lambda b: b["buyer"].pop("email"), "buyer.email"),
        (lambda b: b["buyer"].update(email="not-an-email"), "buyer.email"),
        (lambda b: b["buyer"].pop("address1"), "buyer.address1"),
        (lambda b: b["buyer"].update(country="USA"), "buyer.country"),
        (lambda b: b["buyer"].update(phone="call me"), "buyer.phone"),
        (lambda b: b.update(colour="red"), "colour"),
        (lambda b: b.update(metadata={"k": 1}), "metadata.k"),
    ],
)
async def test_invalid_create_names_the_field(api, mutate, field):
    body = intent_body()
    mutate(body)
    status, resp, _ = await api.request("POST", "/v1/purchase-intents", body)
    assert status == 400
    assert_dino_error(resp, "invalid_request")
    assert resp["error"]["details"]["field"] == field
    assert field in resp["error"]["message"]
    assert any(e["field"] == field for e in resp["error"]["details"]["errors"])
    _, listing, _ = await api.request("GET", "/v1/purchase-intents")
    assert listing["data"] == []
    assert await api.events() == []


async def test_every_invalid_field_is_listed(api):
    status, body, _ = await api.request("POST", "/v1/purchase-intents", {"quantity": 0})
    assert status == 400
    fields = {e["field"] for e in body["error"]["details"]["errors"]}
    assert fields == {"product_url", "quantity", "currency", "max_total_cents", "buyer"}


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"expected_total_cents": 0}, "expected_total_cents"),
        ({"expected_total_cents": "4599"}, "expected_total_cents"),
        ({"merchant_name": ""}, "merchant_name"),
        ({"approve": True}, "approve"),
    ],
)
async def test_invalid_authorize_names_the_field_and_changes_nothing(api, payload, field):
    intent = await api.create()
    status, body, _ = await api.request("POST", f"/v1/purchase-intents/{intent['id']}/authorize", payload)
    assert status == 400
    assert body["error"]["details"]["field"] == field
    _, read, _ = await api.get(intent["id"])
    assert read == intent


async def test_control_plane_validation(api):
    status, body = await api.control("POST", "/_sandbox/clock/advance", {"seconds": -1})
    assert status == 400 and body["error"]["details"]["field"] == "seconds"
    status, body = await api.control("POST", "/_sandbox/clock/advance", {})
    assert status == 400 and body["error"]["details"]["field"] == "seconds"


async def test_control_plane_unknown_route(api):
    status, body = await api.control("GET", "/_sandbox/nope")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_fields_read_back_exactly_as_written(api):
    body = intent_body()
    body["buyer"]["email"] = "John.Doe@EXAMPLE.com"
    intent = await api.create(buyer=body["buyer"], product_url="HTTPS://Example.com/a?b=1")
    assert intent["buyer"]["email"] == "John.Doe@EXAMPLE.com"
    assert intent["product_url"] == "HTTPS://Example.com/a?b=1"


async def test_messages_keep_acronyms(api):
    status, body, _ = await api.request("POST", "/v1/purchase-intents", intent_body(product_url="ftp://example.com/x"))
    assert status == 400 and "URL scheme" in body["error"]["message"]
