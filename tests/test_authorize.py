"""Authorize outcomes decided by magic values, and the operator's decision."""

import pytest


async def test_within_limits_is_approved_and_announced(api):
    intent = await api.create()
    status, body, _ = await api.authorize(intent["id"])
    assert status == 200
    assert body["status"] == "approved"
    assert body["decision_reason"] == "Purchase intent approved"
    assert body["decided_at"] is not None and body["approval_url"] is None
    types = [e["type"] for e in await api.events(object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.authorized"]


async def test_expected_total_above_max_is_declined(api):
    intent = await api.create(max_total_cents=5000)
    status, body, _ = await api.authorize(intent["id"], expected_total_cents=5001)
    assert (status, body["status"]) == (200, "declined")
    assert "exceeds max_total_cents" in body["decision_reason"]
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == "purchase_intent.declined"


async def test_decline_marker_on_the_product_url(api):
    intent = await api.create(product_url="https://example.com/products/x?sandbox=decline")
    status, body, _ = await api.authorize(intent["id"])
    assert (status, body["status"]) == (200, "declined")


@pytest.mark.parametrize(
    "changes, expected_total",
    [
        ({"max_total_cents": 80_000}, 50_000),  # at the approval threshold
        ({"product_url": "https://example.com/p?color=red&sandbox=needs_approval"}, 100),
    ],
)
async def test_needs_approval_carries_an_approval_url(api, changes, expected_total):
    intent = await api.create(**changes)
    status, body, _ = await api.authorize(intent["id"], expected_total_cents=expected_total)
    assert (status, body["status"]) == (200, "needs_approval")
    assert body["approval_url"].endswith(f"/_sandbox/dino/approvals/{intent['id']}")
    assert body["decided_at"] is None
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == "purchase_intent.needs_approval"


async def test_threshold_is_configurable(make_api):
    api = await make_api(dino_approval_threshold_cents=1000)
    intent = await api.create()
    _, body, _ = await api.authorize(intent["id"], expected_total_cents=1000)
    assert body["status"] == "needs_approval"


async def test_expected_total_defaults_to_the_maximum(api):
    intent = await api.create(max_total_cents=1234)
    status, body, _ = await api.request("POST", f"/v1/purchase-intents/{intent['id']}/authorize")
    assert (status, body["status"], body["expected_total_cents"]) == (200, "approved", 1234)


async def needs_approval(api):
    intent = await api.create(product_url="https://example.com/p?sandbox=needs_approval")
    _, body, _ = await api.authorize(intent["id"])
    assert body["status"] == "needs_approval"
    return body


async def test_operator_approves_through_the_control_plane(api):
    intent = await needs_approval(api)
    status, body = await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/approve", {"reason": "Looks fine"})
    assert status == 200
    assert (body["status"], body["decision_reason"], body["approval_url"]) == ("approved", "Looks fine", None)
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "approved"
    types = [e["type"] for e in await api.events(object_id=intent["id"])]
    assert types == ["purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized"]
    status, _, _ = await api.issue(intent["id"])
    assert status == 200


async def test_operator_denies_through_the_control_plane(api):
    intent = await needs_approval(api)
    status, body = await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/deny")
    assert (status, body["status"], body["decision_reason"]) == (200, "declined", "Declined by operator")
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == "purchase_intent.declined"


async def test_operator_decides_on_the_approval_page(api):
    intent = await needs_approval(api)
    page_path = f"/_sandbox/dino/approvals/{intent['id']}"
    async with api.client.get(page_path) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        page = await resp.text()
    assert intent["id"] in page and 'value="approve"' in page
    async with api.client.post(page_path, data={"decision": "approve"}) as resp:
        assert resp.status == 200  # followed the redirect back to the page
        assert "approved" in await resp.text()
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "approved"


async def test_approval_page_refuses_a_second_decision(api):
    intent = await needs_approval(api)
    page_path = f"/_sandbox/dino/approvals/{intent['id']}"
    async with api.client.post(page_path, data={"decision": "deny"}) as resp:
        assert resp.status == 200
    async with api.client.post(page_path, data={"decision": "approve"}) as resp:
        assert resp.status == 409
        assert "Cannot approve" in await resp.text()
    _, read, _ = await api.get(intent["id"])
    assert read["status"] == "declined"


async def test_approval_page_for_an_unknown_intent_is_404(api):
    async with api.client.get("/_sandbox/dino/approvals/pi_nope") as resp:
        assert resp.status == 404


@pytest.mark.parametrize("action", ["approve", "deny"])
async def test_operator_decision_outside_needs_approval_is_refused(api, action):
    intent = await api.approved_intent()
    status, body = await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/{action}")
    assert status == 409
    assert body["error"]["details"]["status"] == "approved"
    assert "'approved'" in body["error"]["message"]


async def test_operator_decision_on_unknown_intent_is_404(api):
    status, body = await api.control("POST", "/_sandbox/dino/purchase-intents/pi_missing/approve")
    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("setup", ["approved", "declined", "needs_approval"])
async def test_authorize_again_after_a_decision_is_409_and_changes_nothing(api, setup):
    product = {"approved": "", "declined": "?sandbox=decline", "needs_approval": "?sandbox=needs_approval"}[setup]
    intent = await api.create(product_url="https://example.com/p" + product)
    await api.authorize(intent["id"])
    before = await api.events(object_id=intent["id"])
    _, first, _ = await api.get(intent["id"])
    status, body, _ = await api.authorize(intent["id"], expected_total_cents=1)
    assert status == 409
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"] == {
        "reason": "invalid_state", "status": setup, "allowed_statuses": ["intent_created"],
    }
    assert f"'{setup}'" in body["error"]["message"]
    _, after, _ = await api.get(intent["id"])
    assert after == first
    assert await api.events(object_id=intent["id"]) == before
