"""issue-payment-credential: only from `approved`, with the seed's response fields."""

import pytest


async def test_issue_returns_the_documented_fields(api):
    intent = await api.approved_intent()
    status, body, _ = await api.issue(intent["id"], ttl_seconds=120, merchant_lock="https://www.Example.com/")
    assert status == 200
    assert body["status"] == "payment_credential_issued"
    assert body["payment_credential_handle"].startswith("pch_")
    assert body["one_time_exact_amount"] is True
    assert body["approved_amount_cents"] == 4599
    assert body["credential_expires_at"] == "2026-01-01T00:02:00.000Z"
    assert body["credential_provider"] == "stripe_proxy_card"
    assert body["credential_mode"] == "one_time_exact_amount"
    assert body["credential_ttl_seconds"] == 120
    assert body["merchant_lock"] == "https://www.Example.com/"


async def test_defaults_when_the_body_is_empty(api):
    intent = await api.approved_intent()
    status, body, _ = await api.request("POST", f"/v1/purchase-intents/{intent['id']}/issue-payment-credential")
    assert status == 200
    assert body["credential_ttl_seconds"] == 900 and body["merchant_lock"] is None
    assert body["credential_expires_at"] == "2026-01-01T00:15:00.000Z"


async def test_issuing_fires_no_webhook_event(api):
    intent = await api.issued_intent()
    types = [e["type"] for e in await api.events(object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.authorized"]


async def test_expiry_follows_the_sandbox_clock(api):
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 3600})
    intent = await api.approved_intent()
    _, body, _ = await api.issue(intent["id"])
    assert body["credential_expires_at"] == "2026-01-01T01:15:00.000Z"


async def test_merchant_lock_must_match_the_authorized_merchant(api):
    intent = await api.approved_intent()
    status, body, _ = await api.issue(intent["id"], merchant_lock="other.example")
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"]["field"] == "merchant_lock"
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "approved" and read["payment_credential_handle"] is None


@pytest.mark.parametrize(
    "field, value",
    [("ttl_seconds", 59), ("ttl_seconds", 86_401), ("ttl_seconds", "900"), ("provider", "visa"), ("credential_mode", "reusable")],
)
async def test_invalid_credential_requests_name_the_field(api, field, value):
    intent = await api.approved_intent()
    status, body, _ = await api.issue(intent["id"], **{field: value})
    assert status == 400
    assert body["error"]["details"]["field"] == field
    assert field in body["error"]["message"]


async def state(api, name):
    """An intent in the named status."""
    if name == "intent_created":
        return await api.create()
    if name == "payment_credential_issued":
        return await api.issued_intent()
    marker = {"needs_approval": "needs_approval", "declined": "decline"}[name]
    intent = await api.create(product_url=f"https://example.com/p?sandbox={marker}")
    _, body, _ = await api.authorize(intent["id"])
    return body


@pytest.mark.parametrize("name", ["intent_created", "needs_approval", "declined", "payment_credential_issued"])
async def test_issue_outside_approved_is_409_naming_the_status(api, name):
    intent = await state(api, name)
    status, body, _ = await api.issue(intent["id"])
    assert status == 409
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"]["status"] == name
    assert body["error"]["details"]["allowed_statuses"] == ["approved"]
    assert f"'{name}'" in body["error"]["message"]


async def test_issue_on_unknown_intent_is_404(api):
    status, body, _ = await api.issue("pi_unknown")
    assert (status, body["error"]["code"]) == (404, "not_found")
