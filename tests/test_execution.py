"""Execution, played by the control plane: started -> completed | failed."""

import pytest


def execute_path(intent_id):
    return f"/_sandbox/dino/purchase-intents/{intent_id}/execute"


async def event_types(api, intent_id):
    return [e["type"] for e in await api.events(object_id=intent_id)]


async def test_execute_completes_by_default(api):
    intent = await api.issued_intent()
    status, body = await api.control("POST", execute_path(intent["id"]))
    assert (status, body["status"], body["failure_reason"]) == (200, "completed", None)
    assert (await event_types(api, intent["id"]))[-2:] == ["purchase_intent.execution_started", "purchase_intent.completed"]


async def test_events_carry_the_intent_as_it_was_at_each_step(api):
    intent = await api.issued_intent()
    await api.control("POST", execute_path(intent["id"]))
    events = await api.events(object_id=intent["id"])
    started, completed = events[-2]["payload"], events[-1]["payload"]
    assert started["data"]["purchase_intent"]["status"] == "execution_started"
    assert completed["data"]["purchase_intent"]["status"] == "completed"
    assert started["request_id"] == completed["request_id"] and started["request_id"].startswith("req_trace_")
    assert started["id"] != completed["id"]


async def test_execution_can_be_started_then_finished(api):
    intent = await api.issued_intent()
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "started"})
    assert (status, body["status"]) == (200, "execution_started")
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "execution_started"
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "failed", "failure_reason": "out_of_stock"})
    assert (status, body["status"], body["failure_reason"]) == (200, "failed", "out_of_stock")
    assert (await event_types(api, intent["id"]))[-2:] == ["purchase_intent.execution_started", "purchase_intent.failed"]


async def test_starting_twice_is_refused(api):
    intent = await api.issued_intent()
    await api.control("POST", execute_path(intent["id"]), {"outcome": "started"})
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "started"})
    assert status == 409 and body["error"]["details"]["status"] == "execution_started"


async def test_checkout_fails_marker(api):
    intent = await api.create(product_url="https://example.com/p?sandbox=checkout_fails")
    await api.authorize(intent["id"])
    await api.issue(intent["id"])
    _, body = await api.control("POST", execute_path(intent["id"]))
    assert (body["status"], body["failure_reason"]) == ("failed", "checkout_failed")


@pytest.mark.parametrize(
    "checkout, reason",
    [({"merchant": "evil.example"}, "merchant_lock_mismatch"), ({"amount_cents": 4600}, "amount_mismatch")],
)
async def test_the_credential_only_works_for_its_merchant_and_amount(api, checkout, reason):
    intent = await api.issued_intent()
    _, body = await api.control("POST", execute_path(intent["id"]), checkout)
    assert (body["status"], body["failure_reason"]) == ("failed", reason)


async def test_matching_merchant_and_amount_complete(api):
    intent = await api.issued_intent()
    _, body = await api.control("POST", execute_path(intent["id"]), {"merchant": "www.example.com", "amount_cents": 4599})
    assert body["status"] == "completed"


async def test_an_expired_credential_cannot_execute(api):
    intent = await api.issued_intent()  # ttl 900 s
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 900})
    status, body = await api.control("POST", execute_path(intent["id"]))
    assert status == 409
    assert body["error"]["details"]["reason"] == "credential_expired"
    assert body["error"]["details"]["credential_expires_at"] == intent["credential_expires_at"]
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "payment_credential_issued"
    assert (await event_types(api, intent["id"]))[-1] == "purchase_intent.authorized"


async def test_a_credential_just_before_expiry_still_executes(api):
    intent = await api.issued_intent()
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 899})
    _, body = await api.control("POST", execute_path(intent["id"]))
    assert body["status"] == "completed"


@pytest.mark.parametrize("outcome", [None, "completed"])
async def test_execute_before_a_credential_is_issued_is_refused(api, outcome):
    intent = await api.approved_intent()
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": outcome} if outcome else None)
    assert status == 409
    assert body["error"]["details"]["allowed_statuses"] == ["payment_credential_issued"]


@pytest.mark.parametrize("final", ["completed", "failed"])
async def test_finished_intents_are_terminal(api, final):
    intent = await api.issued_intent()
    await api.control("POST", execute_path(intent["id"]), {"outcome": final})
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "completed"})
    assert status == 409 and body["error"]["details"]["status"] == final
    status, _, _ = await api.authorize(intent["id"])
    assert status == 409


async def test_execute_rejects_an_unknown_outcome(api):
    intent = await api.issued_intent()
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "teleported"})
    assert status == 400 and body["error"]["details"]["field"] == "outcome"
