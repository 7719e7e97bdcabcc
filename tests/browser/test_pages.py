"""Every human-step page, clicked through in Chromium: what the cardholder or operator sees, what
the decision does to the object, and what the page tells its opener (issue 15)."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.flows import (
    bt_intent,
    bt_status,
    challenge_status,
    challenge_url,
    crossmint_intent,
    crossmint_phase,
    dino_needs_approval,
    dino_status,
)

OPENER = """() => { window.__messages = []; window.addEventListener("message", e => window.__messages.push(e.data)); }"""


def opened_from(page, sandbox, path: str):
    """The page opened as a popup by a front end on the sandbox's origin, which listens for its message."""
    page.goto(sandbox.url + "/_sandbox/health")
    page.evaluate(OPENER)
    with page.expect_popup() as popup:
        page.evaluate(f"() => window.open({path!r}, 'step')")
    return popup.value


def messages(page) -> list[dict]:
    page.wait_for_function("() => window.__messages.length > 0")
    return page.evaluate("() => window.__messages")


def test_the_operator_approves_with_a_reason_and_the_opener_hears(sandbox, page):
    intent = dino_needs_approval(sandbox)
    step = opened_from(page, sandbox, intent["approval_url"])
    expect(step.get_by_role("heading", level=1)).to_be_visible()
    step.get_by_label("Reason (optional)").fill("Within the team budget")
    screenshot(step, "dino-approval")
    step.get_by_role("button", name="Approve").click()
    expect(step.get_by_role("status").or_(step.get_by_role("alert")).first).to_contain_text("approved", ignore_case=True)
    read = dino_status(sandbox, intent["id"])
    assert (read["status"], read["decision_reason"]) == ("approved", "Within the team budget")
    assert messages(page)[-1] | {"status": None} == {
        "source": "sandbox", "provider": "dino", "step": "approval", "id": intent["id"], "outcome": "succeeded", "status": None,
    }


def test_the_operator_denies(sandbox, page):
    intent = dino_needs_approval(sandbox)
    page.goto(intent["approval_url"])
    page.get_by_role("button", name="Deny").click()
    page.wait_for_load_state()
    assert dino_status(sandbox, intent["id"])["status"] == "declined"
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)


def test_an_otp_wrong_then_right_then_a_passkey_activates_a_basis_theory_intent(sandbox, page):
    intent = bt_intent(sandbox)
    page.goto(f"{sandbox.url}/_sandbox/basistheory/purchase-intents/{intent['id']}/verification")
    expect(page.get_by_text("Whole Foods")).to_be_visible()
    screenshot(page, "basistheory-verification")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("Verification code").fill("111111")
    page.get_by_role("button", name="Verify code").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid OTP code; 2 attempts remaining")
    page.get_by_label("Verification code").fill("123456")
    page.keyboard.press("Enter")  # usable from the keyboard
    page.get_by_role("button", name="Use passkey").click()
    page.wait_for_load_state()
    assert bt_status(sandbox, intent["id"]) == "active"


def test_a_3ds_challenge_answered_right_succeeds_and_returns(sandbox, page):
    session_id, url = challenge_url(sandbox)
    back = sandbox.url + "/_sandbox/health?returned=1"
    page.goto(url + "?return_url=" + quote(back, safe=""))
    expect(page.get_by_text("Acme Outdoor")).to_be_visible()
    page.get_by_label("Code from your bank").fill("123456")
    screenshot(page, "3ds-challenge")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(back, timeout=10_000)  # the page follows return_url once it has said how it ended
    assert challenge_status(sandbox, session_id) == "successful"


def test_a_3ds_challenge_cancelled_fails_the_session(sandbox, page):
    session_id, url = challenge_url(sandbox)
    step = opened_from(page, sandbox, url)
    step.get_by_role("button", name="Cancel").click()
    assert messages(page)[-1]["outcome"] == "cancelled"
    assert challenge_status(sandbox, session_id) == "failed"


def test_the_cardholder_verifies_a_crossmint_order_intent(sandbox, page):
    intent = crossmint_intent(sandbox)
    page.goto(f"{sandbox.url}/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verification")
    expect(page.get_by_text("Weekly groceries")).to_be_visible()
    screenshot(page, "crossmint-verification")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Use passkey").click()
    page.wait_for_load_state()
    assert crossmint_phase(sandbox, intent["orderIntentId"]) == "active"


def test_the_cardholder_fails_a_crossmint_verification(sandbox, page):
    intent = crossmint_intent(sandbox)
    page.goto(f"{sandbox.url}/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verification")
    page.get_by_role("button", name="Fail verification").click()
    page.wait_for_load_state()
    assert crossmint_phase(sandbox, intent["orderIntentId"]) == "requires-verification"
    events = sandbox.get("/_sandbox/events", params={"object_id": intent["orderIntentId"]}).json()["data"]
    assert events[-1]["type"] == "order-intents.verification-failed"
