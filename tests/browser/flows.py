"""Objects waiting for a human, made through the providers' own APIs with a synchronous client
(Playwright's sync API holds the event loop, so no aiohttp here)."""

from __future__ import annotations

from typing import Any

from tests.bt import ENTITY, PROJECT, card, token
from tests.cm import KEY as CROSSMINT_KEY
from tests.cm import MAX
from tests.conftest import SEED_AUTHORIZE, SEED_INTENT
from tests.durable import DINO, Server

BT = {"Authorization": f"Bearer {token(PROJECT, ENTITY)}"}
CM = {"X-API-KEY": CROSSMINT_KEY}
PLATFORM = {"BT-API-KEY": "key_test_browser"}


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def dino_needs_approval(sandbox: Server) -> dict[str, Any]:
    intent = ok(sandbox.post("/v1/purchase-intents", {**SEED_INTENT, "max_total_cents": 900_000}, headers=DINO), 201)
    body = {**SEED_AUTHORIZE, "expected_total_cents": 600_000}
    authorized = ok(sandbox.post(f"/v1/purchase-intents/{intent['id']}/authorize", body, headers=DINO))
    assert authorized["status"] == "needs_approval"
    return authorized


def dino_status(sandbox: Server, intent_id: str) -> dict[str, Any]:
    return ok(sandbox.get(f"/v1/purchase-intents/{intent_id}", headers=DINO))


def bt_intent(sandbox: Server, number: str = "4000000000000002") -> dict[str, Any]:
    base = f"/projects/{PROJECT}"
    method = ok(sandbox.post(base + "/payment-methods", {"entityId": ENTITY, "card": card(number)}, headers=BT), 201)
    mandates = [{"type": "maxAmount", "value": "125.00", "details": {"currency": "840"}}, {"type": "merchant", "value": "Whole Foods"}]
    body = {"entityId": ENTITY, "credentialType": "virtual-card", "paymentMethodId": method["id"], "mandates": mandates}
    return ok(sandbox.post(base + "/purchase-intents", body, headers=BT), 201)


def bt_status(sandbox: Server, intent_id: str) -> str:
    return ok(sandbox.get(f"/projects/{PROJECT}/purchase-intents/{intent_id}", headers=BT))["status"]


def challenge_url(sandbox: Server, number: str = "4000000000003220") -> tuple[str, str]:
    """A platform 3-D Secure session waiting for its challenge: (session id, challenge page URL)."""
    data = {"number": number, "expiration_month": 12, "expiration_year": 2030}
    token_ = ok(sandbox.post("/tokens", {"type": "card", "data": data}, headers=PLATFORM), 201)
    session = ok(sandbox.post("/3ds/sessions", {"token_id": token_["id"], "device": "browser"}, headers=PLATFORM), 201)
    auth = ok(sandbox.post(f"/3ds/sessions/{session['id']}/authenticate", {
        "authentication_category": "payment", "authentication_type": "payment-transaction",
        "purchase_info": {"amount": "8000", "currency": "840", "exponent": "2"}, "merchant_info": {"name": "Acme Outdoor"},
    }, headers=PLATFORM))
    return session["id"], auth["acs_challenge_url"]


def challenge_status(sandbox: Server, session_id: str) -> str:
    return ok(sandbox.get(f"/3ds/sessions/{session_id}/challenge-result", headers=PLATFORM))["authentication_status"]


def crossmint_intent(sandbox: Server, number: str = "4000000000000002") -> dict[str, Any]:
    def cm(path: str, body: Any, status: int = 201) -> Any:
        return ok(sandbox.post("/api/unstable" + path, body, headers=CM), status)

    agent = cm("/agents", {"metadata": {"name": "Grocery agent"}})["agentId"]
    method = cm("/payment-methods", {"card": {"number": number, "expiration": {"month": "12", "year": "2030"}, "cvc": "123"}})
    method_id = method["paymentMethodId"]
    enrollment = cm(f"/payment-methods/{method_id}/agentic-enrollment", {"email": "jane@example.com"})
    if enrollment["status"] == "pending":
        ok(sandbox.post(f"/_sandbox/crossmint/enrollments/{enrollment['enrollmentId']}/complete"))
    mandates = [MAX, {"type": "description", "value": "Weekly groceries"}]
    body = {"agentId": agent, "payment": {"paymentMethodId": method_id}, "mandates": mandates}
    intent = cm("/order-intents", body)
    assert intent["phase"] == "requires-verification", intent
    return intent


def crossmint_phase(sandbox: Server, intent_id: str) -> str:
    return ok(sandbox.get(f"/api/unstable/order-intents/{intent_id}", headers=CM))["phase"]
