"""The seed's curl commands, run by curl itself against `sandbox serve`, changing only the base URL."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import free_port

# Copied verbatim from seed 000 (docs/research/seeds.md).
CREATE = r"""curl -sS -X POST "https://api.dino.id/v1/purchase-intents" \
  -H "Authorization: Bearer YOUR_DINO_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{
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
  }'"""

AUTHORIZE = r"""curl -sS -X POST "https://api.dino.id/v1/purchase-intents/INTENT_ID/authorize" \
  -H "Authorization: Bearer YOUR_DINO_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "expected_total_cents": 4599,
    "merchant_name": "example.com",
    "reason": "Authorize online purchase"
  }'"""

ISSUE = r"""curl -sS -X POST "https://api.dino.id/v1/purchase-intents/INTENT_ID/issue-payment-credential" \
  -H "Authorization: Bearer YOUR_DINO_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "provider":"stripe_proxy_card",
    "credential_mode":"one_time_exact_amount",
    "ttl_seconds":900,
    "merchant_lock":"example.com"
  }'"""

# Not every machine has uuidgen; the seed's command needs one.
UUIDGEN = f"command -v uuidgen >/dev/null || uuidgen() {{ {sys.executable} -c 'import uuid; print(uuid.uuid4())'; }}\n"


@pytest.fixture
def base_url(serve):
    port = free_port()
    serve("--port", str(port), "--seed", "11").stdout.readline()
    return f"http://127.0.0.1:{port}"


def run(command, base_url, intent_id=""):
    command = command.replace("https://api.dino.id", base_url).replace("YOUR_DINO_KEY", "din_test_seed").replace("INTENT_ID", intent_id)
    out = subprocess.run(["bash", "-c", UUIDGEN + command], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_seed_curl_examples_run_unchanged(base_url):
    created = run(CREATE, base_url)
    assert created["status"] == "intent_created"
    authorized = run(AUTHORIZE, base_url, created["id"])
    assert authorized["status"] == "approved"
    issued = run(ISSUE, base_url, created["id"])
    assert issued["status"] == "payment_credential_issued"
    assert issued["payment_credential_handle"] and issued["one_time_exact_amount"] is True
    assert issued["approved_amount_cents"] == 4599 and issued["credential_expires_at"]
