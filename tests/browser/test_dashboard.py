"""The dashboard in Chromium: the README's first look (an intent approved on its page, then its
history and its signed webhook in the dashboard), a live update, and a resend (issue 15)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.flows import dino_needs_approval
from tests.durable import DINO, Receiver


@pytest.fixture
def receiver():
    recv = Receiver()
    yield recv
    recv.close()


def test_a_new_user_approves_an_intent_then_sees_its_history_and_its_signed_webhook(sandbox, page, receiver):
    assert sandbox.post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url}).status_code == 201
    intent = dino_needs_approval(sandbox)
    page.goto(intent["approval_url"])
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()

    page.goto(sandbox.url + "/_sandbox/#objects")
    page.get_by_label("Search by id").fill(intent["id"])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=intent["id"]).first.click()
    history = page.locator("#object-detail")
    for event in ("purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized"):
        expect(history).to_contain_text(event)
    screenshot(page, "dashboard-object")

    assert sandbox.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    page.get_by_role("link", name="Webhooks").click()
    delivery = page.locator("#webhooks details[data-key^=\"dlv:\"]").filter(has_text="purchase_intent.authorized").first
    delivery.locator("> summary").click()
    delivery.get_by_text("signed headers").click()
    sent = receiver.bodies[-1]
    assert sent["type"] == "purchase_intent.authorized"
    expect(delivery).to_contain_text("Dino-Signature")  # the headers as sent, which the receiver verified against
    screenshot(page, "dashboard-webhooks")


def test_new_events_appear_without_a_reload(sandbox, page):
    page.goto(sandbox.url + "/_sandbox/#events")
    events = page.locator("#events")
    expect(events).to_contain_text("No event yet.")  # rendered: what follows arrives live
    created = sandbox.create_intent().json()
    expect(events).to_contain_text(created["id"], timeout=10_000)  # the page polls; nothing reloads it
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def test_a_delivery_is_resent_from_the_dashboard(sandbox, page, receiver):
    receiver.status = 500
    sandbox.post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url})
    created = sandbox.create_intent().json()
    assert sandbox.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    delivery_id = sandbox.get("/_sandbox/webhook-deliveries", params={"object_id": created["id"]}).json()["data"][0]["id"]
    receiver.status = 200
    page.goto(sandbox.url + "/_sandbox/#webhooks")
    row = page.locator("#webhooks details[data-key^=\"dlv:\"]").filter(has_text=created["id"]).first
    row.locator("> summary").click()
    row.get_by_role("button", name=f"Resend delivery {delivery_id}").click()
    assert sandbox.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    delivery = sandbox.get(f"/_sandbox/webhook-deliveries/{delivery_id}").json()
    assert delivery["status"] == "delivered" and [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    expect(row).to_contain_text("delivered", timeout=10_000)


def test_the_demo_fill_gives_a_first_look(sandbox, page):
    assert sandbox.post("/_sandbox/demo").status_code in (200, 201)
    page.goto(sandbox.url + "/_sandbox/")
    expect(page.locator("#objects")).to_contain_text("needs_approval")
    screenshot(page, "dashboard")
    assert DINO  # the demo's own tenants, not the tests'
