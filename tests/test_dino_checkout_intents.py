"""Dino checkout intents: `/v1/checkout/intents` → `…/authorize` → `…/issue-credential`, the purchase-
intent lifecycle under Dino's newer paths. They are the same objects as purchase intents (one store,
one machine, `purchase_intent.*` events); errors on these paths say "checkout intent"."""

import pytest

from tests.conftest import OTHER_KEY, SEED_AUTHORIZE, SEED_ISSUE, START, intent_body

BASE = "/v1/checkout/intents"


async def create(api, headers=None, **changes):
    status, intent, _ = await api.request("POST", BASE, intent_body(**changes), headers=headers)
    assert status == 201, intent
    return intent


async def test_the_card_credential_flow_on_the_checkout_paths(api):
    intent = await create(api)
    assert (intent["object"], intent["status"], intent["id"][:3]) == ("purchase_intent", "intent_created", "pi_")
    status, authorized, _ = await api.request("POST", f"{BASE}/{intent['id']}/authorize", SEED_AUTHORIZE)
    assert status == 200
    assert (authorized["status"], authorized["decision_reason"], authorized["expected_total_cents"]) == (
        "approved", "Purchase intent approved", 4599)
    status, issued, _ = await api.request("POST", f"{BASE}/{intent['id']}/issue-credential", SEED_ISSUE)
    assert status == 200 and issued["status"] == "payment_credential_issued"
    assert issued["payment_credential_handle"].startswith("pch_") and issued["one_time_exact_amount"] is True
    assert (issued["approved_amount_cents"], issued["credential_expires_at"], issued["merchant_lock"]) == (
        4599, "2026-01-01T00:15:00.000Z", "example.com")
    status, read, _ = await api.request("GET", f"{BASE}/{intent['id']}")
    assert (status, read) == (200, issued)
    _, wallet, _ = await api.request("GET", "/v1/balance")
    assert wallet["reserved_cents"] == 4599
    types = [e["type"] for e in await api.events(object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.authorized"]


async def test_one_object_under_both_names(api):
    checkout = await create(api)
    purchase = await api.create()
    for one in (checkout, purchase):
        for base in (BASE, "/v1/purchase-intents"):
            status, read, _ = await api.request("GET", f"{base}/{one['id']}")
            assert (status, read) == (200, one)
    await api.authorize(checkout["id"])  # authorized through the older path, issued through the newer
    status, issued, _ = await api.request("POST", f"{BASE}/{checkout['id']}/issue-credential")
    assert (status, issued["status"]) == (200, "payment_credential_issued")
    _, listing, _ = await api.request("GET", BASE)
    assert [i["id"] for i in listing["data"]] == [purchase["id"], checkout["id"]]
    _, issued_only, _ = await api.request("GET", f"{BASE}?status=payment_credential_issued")
    assert [i["id"] for i in issued_only["data"]] == [checkout["id"]]


async def test_errors_name_a_checkout_intent(api):
    status, answer, _ = await api.request("GET", f"{BASE}/pi_nope")
    assert status == 404 and answer["error"] == {
        "code": "not_found", "message": "Checkout intent pi_nope not found in the current scope", "details": {"id": "pi_nope"},
    }
    for path in ("/authorize", "/issue-credential"):
        status, answer, _ = await api.request("POST", f"{BASE}/pi_nope{path}")
        assert status == 404 and answer["error"]["message"] == "Checkout intent pi_nope not found in the current scope"
    intent = await create(api)
    status, answer, _ = await api.request("POST", f"{BASE}/{intent['id']}/issue-credential")
    assert status == 409 and answer["error"] == {
        "code": "invalid_request",
        "message": f"Cannot issue a payment credential for checkout intent {intent['id']} in status 'intent_created'; "
                   "it must be 'approved'",
        "details": {"reason": "invalid_state", "status": "intent_created", "allowed_statuses": ["approved"]},
    }
    await api.request("POST", f"{BASE}/{intent['id']}/authorize")
    status, answer, _ = await api.request("POST", f"{BASE}/{intent['id']}/authorize")
    assert status == 409 and answer["error"]["message"].startswith(f"Cannot authorize checkout intent {intent['id']} in status 'approved'")
    status, answer, _ = await api.request("GET", f"{BASE}?starting_after=pi_nope")
    assert status == 400 and answer["error"]["message"] == "Invalid request: starting_after: no checkout intent 'pi_nope' in this scope"
    status, answer, _ = await api.request("GET", "/v1/purchase-intents/pi_nope")  # the older paths keep their word
    assert answer["error"]["message"] == "Purchase intent pi_nope not found in the current scope"


async def test_another_key_sees_nothing(api):
    intent = await create(api)
    bob = api.as_key(OTHER_KEY)
    status, answer, _ = await bob.request("GET", f"{BASE}/{intent['id']}")
    assert status == 404 and answer["error"]["message"].startswith(f"Checkout intent {intent['id']} not found in the current scope")
    status, _, _ = await bob.request("POST", f"{BASE}/{intent['id']}/authorize")
    assert status == 404
    assert (await bob.request("GET", BASE))[1]["data"] == []


async def test_needs_approval_then_the_operator(api):
    intent = await create(api, max_total_cents=90000)
    status, waiting, _ = await api.request("POST", f"{BASE}/{intent['id']}/authorize", {"expected_total_cents": 60000})
    assert (status, waiting["status"], waiting["decision_reason"]) == (200, "needs_approval", "Amount requires approval")
    assert waiting["approval_url"].endswith(f"/_sandbox/dino/approvals/{intent['id']}")
    status, early, _ = await api.request("POST", f"{BASE}/{intent['id']}/issue-credential")
    assert status == 409 and early["error"]["details"]["status"] == "needs_approval"
    status, approved = await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/approve")
    assert (status, approved["status"]) == (200, "approved")
    status, issued, _ = await api.request("POST", f"{BASE}/{intent['id']}/issue-credential", {"ttl_seconds": 60})
    assert (status, issued["approved_amount_cents"], issued["credential_ttl_seconds"]) == (200, 60000, 60)
    types = [e["type"] for e in await api.events(object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized"]


@pytest.mark.parametrize("decline", [{"product_url": "https://example.com/p?sandbox=decline"}, {"max_total_cents": 100}])
async def test_declines_are_statuses(api, decline):
    intent = await create(api, **decline)
    status, answer, _ = await api.request("POST", f"{BASE}/{intent['id']}/authorize", {"expected_total_cents": 4599})
    assert (status, answer["status"], answer["decided_at"]) == (200, "declined", START)


async def test_idempotency_on_every_checkout_write(api):
    first = await create(api, headers={"Idempotency-Key": "c-1"})
    status, again, headers = await api.request("POST", BASE, intent_body(), headers={"Idempotency-Key": "c-1"})
    assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
    status, conflict, _ = await api.request("POST", BASE, intent_body(quantity=2), headers={"Idempotency-Key": "c-1"})
    assert (status, conflict["error"]["code"]) == (409, "idempotency_key_conflict")
    for path in ("/authorize", "/issue-credential"):
        status, one, _ = await api.request("POST", f"{BASE}/{first['id']}{path}", headers={"Idempotency-Key": "c-2"})
        status2, two, headers = await api.request("POST", f"{BASE}/{first['id']}{path}", headers={"Idempotency-Key": "c-2"})
        assert (status, one) == (status2, two) == (200, two) and headers["Idempotent-Replayed"] == "true"
    _, listing, _ = await api.request("GET", BASE)
    assert len(listing["data"]) == 1
    types = [e["type"] for e in await api.events(object_id=first["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.authorized"]


@pytest.mark.parametrize("changes, field", [
    ({"currency": "eur"}, "currency"),
    ({"quantity": 0}, "quantity"),
    ({"product_url": "not a url"}, "product_url"),
    ({"surprise": 1}, "surprise"),
])
async def test_bad_bodies_are_refused(api, changes, field):
    status, answer, _ = await api.request("POST", BASE, intent_body(**changes))
    assert (status, answer["error"]["code"], answer["error"]["details"]["field"]) == (400, "invalid_request", field)
    assert (await api.request("GET", BASE))[1]["data"] == []
