"""The three curl examples of the Dino seed, sent exactly as written."""

import uuid

from tests.conftest import START


async def test_create_authorize_issue_as_in_the_seed(api):
    status, created, headers = await api.request(
        "POST", "/v1/purchase-intents",
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
        data=b'''{
    "product_url": "https://example.com/products/demo-item",
    "quantity": 1,
    "currency": "usd",
    "max_total_cents": 5000,
    "buyer": {
      "first_name": "John",
      "last_name": "Doe",
      "email": "john@example.com",
      "phone": "+15551234567",
      "address1": "123 Main St",
      "city": "New York",
      "province": "NY",
      "postal_code": "10001",
      "country": "US"
    }
  }''',
    )
    assert status == 201
    assert created["status"] == "intent_created"
    assert created["id"].startswith("pi_")
    assert created["buyer"]["email"] == "john@example.com" and created["max_total_cents"] == 5000
    assert created["created_at"] == START

    status, authorized, _ = await api.request(
        "POST", f"/v1/purchase-intents/{created['id']}/authorize",
        headers={"Content-Type": "application/json"},
        data=b'''{
    "expected_total_cents": 4599,
    "merchant_name": "example.com",
    "reason": "Authorize online purchase"
  }''',
    )
    assert status == 200
    assert authorized["status"] == "approved"
    assert authorized["expected_total_cents"] == 4599 and authorized["merchant_name"] == "example.com"

    status, issued, _ = await api.request(
        "POST", f"/v1/purchase-intents/{created['id']}/issue-payment-credential",
        headers={"Content-Type": "application/json"},
        data=b'''{
    "provider":"stripe_proxy_card",
    "credential_mode":"one_time_exact_amount",
    "ttl_seconds":900,
    "merchant_lock":"example.com"
  }''',
    )
    assert status == 200
    assert issued["status"] == "payment_credential_issued"
    assert issued["payment_credential_handle"].startswith("pch_")
    assert issued["one_time_exact_amount"] is True
    assert issued["approved_amount_cents"] == 4599
    assert issued["credential_expires_at"] == "2026-01-01T00:15:00.000Z"

    status, read, _ = await api.get(created["id"])
    assert status == 200
    assert read == issued
