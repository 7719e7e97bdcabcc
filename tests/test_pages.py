"""The human-step pages (issue 15): one look, what each step is about, what the sandbox expects, the
forms that take the step, the outcome, and how it reports back (postMessage, return_url), over HTTP.

Dino's approval page, Basis Theory AI's verification page and the passkey page behind its
CREATE_PASSKEY endpoint, the platform's 3-D Secure challenge and Mastercard redirect pages, and
Crossmint's order-intent verification page. The browser tests (tests/browser/) click through them.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from sandbox.app import providers
from sandbox.core.pages import ReturnTo, frame_ancestors
from yarl import URL

from tests.bt import PROJECT
from tests.cm import MAX

XSS = '<script>alert("x")</script>'
BACK = "https://app.example.com/checkout/done?step=1"
PLATFORM = {"BT-API-KEY": "key_test_pages"}
DEVICE = {"screen_height": 1, "screen_width": 1, "user_agent_string": "x", "language_code": "en", "time_zone": "UTC",
          "java_script_enabled": True, "client_device_id": "d", "client_reference_id": "r", "platform_type": "WEB"}


# -- reading a page ------------------------------------------------------------------------------


class Page:
    def __init__(self, status: int, text: str, headers) -> None:
        self.status, self.text, self.headers = status, text, headers

    @property
    def title(self) -> str:
        return html.unescape(re.search(r"<h1>(.*?)</h1>", self.text).group(1))

    @property
    def alert(self) -> str | None:
        found = re.search(r'role="alert">(.*?)</div>', self.text)
        return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))) if found else None

    @property
    def message(self) -> dict[str, Any] | None:
        """What the outcome panel posts to the opener or parent."""
        found = re.search(r'data-message="([^"]*)"', self.text)
        return json.loads(html.unescape(found.group(1))) if found else None

    @property
    def return_url(self) -> str | None:
        found = re.search(r'data-return-url="([^"]*)"', self.text)
        return html.unescape(found.group(1)) if found else None

    def buttons(self) -> list[tuple[str, str]]:
        """(name, value) of each submit button."""
        return re.findall(r'<button type="submit" name="([^"]+)" value="([^"]+)"', self.text)

    def has(self, *texts: str) -> bool:
        plain = html.unescape(re.sub(r"<[^>]+>", " ", self.text))
        plain = re.sub(r"\s+", " ", plain)
        return all(text in plain for text in texts)


async def fetch(client, path: str, **kw) -> Page:
    async with client.get(path, allow_redirects=False, **kw) as resp:
        return Page(resp.status, await resp.text(), resp.headers)


async def submit(client, path: str, data: dict[str, str] | bytes, follow: bool = True, **kw) -> Page:
    async with client.post(path, data=data, allow_redirects=False, **kw) as resp:
        page = Page(resp.status, await resp.text(), resp.headers)
    if follow and page.status == 303:
        return await fetch(client, page.headers["Location"])
    return page


def assert_one_look(page: Page, provider: str) -> None:
    """The parts every human-step page has, its accessibility basics and its headers."""
    text = page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert text.startswith("<!doctype html>") and '<html lang="en">' in text
    assert f'<span class="provider">{provider}</span><span class="badge">Sandbox</span>' in text
    assert text.count("<h1>") == 1 and "<main" in text and "<footer>" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)  # nothing from the network
    assert "@import" not in text and "url(" not in text and "@font-face" not in text
    for label in re.findall(r'<label for="([^"]+)"', text):  # every label names a control on the page
        assert f'id="{label}"' in text
    policy = page.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy).group(1)
    assert "default-src 'none'" in policy and "form-action 'self'" in policy and "unsafe-inline" not in policy
    assert re.findall(r"<(?:script|style)(?: nonce=\"([^\"]*)\")?>", text) == [nonce] * len(re.findall(r"<(?:script|style)", text))
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Cache-Control"] == "no-store"


def assert_reports(page: Page, provider: str, step: str, obj_id: str, outcome: str, status: str | None = None) -> None:
    """The outcome panel: a live region, and the message a front end receives."""
    assert 'id="outcome"' in page.text and 'aria-live="polite"' in page.text and 'role="status"' in page.text
    expected = {"source": "sandbox", "provider": provider, "step": step, "id": obj_id, "outcome": outcome}
    if status is not None:
        expected["status"] = status
    assert page.message == expected
    assert "postMessage" in page.text and "<form" not in page.text


# -- Dino: the approval page ---------------------------------------------------------------------


async def needs_approval(api, **authorize: Any) -> dict[str, Any]:
    intent = await api.create(max_total_cents=90_000)
    _, body, _ = await api.authorize(intent["id"], **{"expected_total_cents": 64_999, "merchant_name": "example.com",
                                                      "reason": "Weekly groceries", **authorize})
    assert body["status"] == "needs_approval", body
    return body


def approval_path(intent: dict[str, Any]) -> str:
    return URL(intent["approval_url"]).path


async def test_the_approval_page_shows_the_purchase_the_hint_and_a_labelled_reason(api):
    intent = await needs_approval(api)
    page = await fetch(api.client, approval_path(intent))
    assert page.status == 200
    assert_one_look(page, "Dino")
    assert page.title == "Approve this purchase?"
    assert page.has("649.99 USD (at most 900.00 USD)", "example.com", "https://example.com/products/demo-item", "Weekly groceries",
                    "John Doe", intent["id"], "needs_approval", "Amount requires approval")
    assert page.has("purchase_intent.authorized", "purchase_intent.declined", "decision_reason")  # what the sandbox does
    assert '<label for="field-reason">Reason (optional)</label>' in page.text
    assert re.search(r'<textarea id="field-reason" name="reason" aria-describedby="field-reason-help" rows="2" maxlength="500">', page.text)
    assert page.buttons() == [("decision", "approve"), ("decision", "deny")]
    assert page.message is None and "<script" not in page.text  # nothing to report yet


@pytest.mark.parametrize(("decision", "status", "outcome", "event"), [
    ("approve", "approved", "succeeded", "purchase_intent.authorized"), ("deny", "declined", "failed", "purchase_intent.declined"),
])
async def test_a_decision_with_a_reason_moves_the_intent_and_reports_back(api, decision, status, outcome, event):
    intent = await needs_approval(api)
    path = approval_path(intent)
    posted = await submit(api.client, path, {"decision": decision, "reason": "Within the team budget", "return_url": BACK},
                          follow=False)
    assert posted.status == 303
    location = URL(posted.headers["Location"])
    assert (location.path, location.query["return_url"]) == (path, BACK)  # back to the page, still returning
    page = await fetch(api.client, str(location))
    assert_one_look(page, "Dino")
    assert_reports(page, "dino", "approval", intent["id"], outcome, status)
    assert page.return_url == BACK and page.has("Within the team budget", "Returning to app.example.com")
    _, read, _ = await api.get(intent["id"])
    assert (read["status"], read["decision_reason"]) == (status, "Within the team budget")
    assert [e["type"] for e in await api.events(object_id=intent["id"])][-1] == event


async def test_a_decision_without_a_reason_gets_the_operators_default(api):
    intent = await needs_approval(api)
    page = await submit(api.client, approval_path(intent), {"decision": "approve", "reason": "  "})
    assert_reports(page, "dino", "approval", intent["id"], "succeeded", "approved")
    assert page.return_url is None and page.has("You can close this page.")
    assert (await api.get(intent["id"]))[1]["decision_reason"] == "Approved by operator"


async def test_the_approval_form_refuses_what_it_cannot_take(api):
    intent = await needs_approval(api)
    path = approval_path(intent)
    too_long = await submit(api.client, path, {"decision": "approve", "reason": "x" * 501})
    assert too_long.status == 400 and too_long.alert == "The reason is at most 500 characters."
    neither = await submit(api.client, path, {"decision": "maybe", "reason": "kept"})
    assert neither.status == 400 and neither.alert == "Choose Approve or Deny." and ">kept</textarea>" in neither.text
    assert (await api.get(intent["id"]))[1]["status"] == "needs_approval"
    await submit(api.client, path, {"decision": "deny"})
    again = await submit(api.client, path, {"decision": "approve"})
    assert again.status == 409 and "Cannot approve" in again.alert
    assert_reports(again, "dino", "approval", intent["id"], "failed", "declined")  # the page still says how it ended
    missing = await submit(api.client, "/_sandbox/dino/approvals/pi_nope", {"decision": "approve"})
    assert missing.status == 404 and missing.title == "Purchase intent not found"


async def test_an_intent_that_waits_for_nothing_has_no_form(api):
    intent = await api.create()
    page = await fetch(api.client, f"/_sandbox/dino/approvals/{intent['id']}")
    assert page.status == 200 and page.title == "Nothing to approve" and "<form" not in page.text and page.message is None


async def test_the_approval_page_escapes_what_the_agent_sent(api):
    intent = await needs_approval(api, merchant_name=XSS, reason=XSS)
    path = approval_path(intent)
    page = await fetch(api.client, path + "?return_url=" + "https://x.example/%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert XSS not in page.text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert page.has(XSS)  # shown as text
    assert '"><script>' not in page.text and re.findall(r"<script", page.text) == []
    done = await submit(api.client, path, {"decision": "deny", "reason": '"><img src=x onerror=alert(1)>'})
    assert "<img" not in done.text and done.has('"><img src=x onerror=alert(1)>')
    assert done.message["status"] == "declined"


# -- return_url ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://app.example.com/done", "http://localhost:3000/cb?x=1#top", "HTTPS://Example.COM", "http://127.0.0.1:5173/",
])
def test_return_url_takes_absolute_http_urls(url):
    assert ReturnTo.of(url) == ReturnTo(url)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:x", "//evil.example/x", "/_sandbox/reset", "evil.example", "https:evil.example", "https:///path",
    "https://user:pw@evil.example/", "https://evil.example\\@good.example", "https://exa mple.com", "http://x.example/\nSet-Cookie:a",
    "http://[::1", "http://x.example:99999/", "https://" + "a" * 2100 + ".example", "ftp://files.example/x", "file:///etc/passwd",
])
def test_return_url_refuses_anything_else(url):
    assert ReturnTo.of(url) == ReturnTo(None, refused=True)


async def test_a_refused_return_url_is_neither_followed_nor_carried(api):
    intent = await needs_approval(api)
    path = approval_path(intent)
    page = await fetch(api.client, path + "?return_url=javascript:alert(document.domain)")
    assert "javascript:" not in page.text and 'name="return_url"' not in page.text
    assert page.has("The return_url given is not followed: only an absolute http(s) URL is.")
    posted = await submit(api.client, path, {"decision": "approve", "return_url": "data:text/html,hi"}, follow=False)
    assert posted.headers["Location"] == path  # nothing carried
    done = await fetch(api.client, posted.headers["Location"])
    assert done.message["outcome"] == "succeeded" and done.return_url is None


def test_frame_ancestors_are_taken_from_the_cors_origins():
    assert frame_ancestors(["https://app.example.com", "https://*.preview.example.com", "http://localhost:*"], loopback=False) == (
        "https://app.example.com", "https://*.preview.example.com", "http://localhost:*")
    assert "http://[::1]:*" not in frame_ancestors()  # a CSP source has no IPv6 literal
    assert frame_ancestors(["*", "https://a.example; script-src *", "javascript:x"], loopback=False) == ()


async def test_pages_may_be_framed_by_local_front_ends_only(api):
    intent = await needs_approval(api)
    policy = (await fetch(api.client, approval_path(intent))).headers["Content-Security-Policy"]
    ancestors = re.search(r"frame-ancestors ([^;]+)", policy).group(1).split()
    assert ancestors[0] == "'self'" and "http://localhost:*" in ancestors and "http://127.0.0.1:*" in ancestors
    assert "*" not in ancestors and all(a == "'self'" or "localhost" in a or "127.0.0.1" in a for a in ancestors)


# -- Basis Theory AI: the verification page --------------------------------------------------------


def verification_path(intent: dict[str, Any]) -> str:
    return f"/_sandbox/basistheory/purchase-intents/{intent['id']}/verification"


async def bt_intent(bt, number: str = "4000000000000002") -> dict[str, Any]:
    mandates = [{"type": "maxAmount", "value": "125.00", "details": {"currency": "840"}},
                {"type": "merchant", "value": "Whole Foods"}, {"type": "description", "value": "Groceries for the week"}]
    return await bt.intent(number, mandates=mandates)


async def test_the_verification_page_walks_the_otp_and_the_passkey(bt):
    intent = await bt_intent(bt)
    path = verification_path(intent)
    page = await fetch(bt.client, path)
    assert page.status == 200
    assert_one_look(page, "Basis Theory")
    assert page.title == "Verify this purchase"
    assert page.has("up to 125.00 USD", "Whole Foods", "Groceries for the week", "Visa •••• 0002", intent["id"], "visa-otp")
    assert page.buttons() == [("action", "START"), ("action", "CANCEL")]
    page = await submit(bt.client, path, {"action": "START"})
    assert page.title == "Where should we send your code?" and page.has("123456")
    assert 'type="radio" name="methodId" value="otp-sms"' in page.text and "<legend>Send the code by</legend>" in page.text
    page = await submit(bt.client, path, {"action": "SELECT_OTP", "methodId": "otp-email"})
    assert page.title == "Enter your verification code"
    assert '<label for="field-otpCode">Verification code</label>' in page.text and 'autocomplete="one-time-code"' in page.text
    assert page.has("The sandbox's code is 123456", "3 attempts left")
    wrong = await submit(bt.client, path, {"action": "VALIDATE_OTP", "otpCode": "111111"})
    assert (wrong.status, wrong.alert) == (200, "Invalid OTP code; 2 attempts remaining") and wrong.has("2 attempts left")
    page = await submit(bt.client, path, {"action": "VALIDATE_OTP", "otpCode": "123456"})
    assert page.title == "Confirm with your passkey" and ("action", "AUTHENTICATE_PASSKEY") in page.buttons()
    assert (await bt.get(intent["id"]))["status"] == "verify"
    page = await submit(bt.client, path, {"action": "AUTHENTICATE_PASSKEY", "return_url": BACK})
    assert_reports(page, "basistheory", "verification", intent["id"], "succeeded", "active")
    assert page.return_url == BACK
    read = await bt.get(intent["id"])
    assert read["status"] == "active" and read["card"]["number"]
    async with bt.client.get(f"/_sandbox/events?object_id={intent['id']}") as resp:
        assert [e["type"] for e in (await resp.json())["data"]] == ["purchase_intent.created", "purchase_intent.verified"]


async def test_a_malformed_code_uses_no_attempt_and_three_wrong_ones_fail(bt):
    intent = await bt_intent(bt)
    path = verification_path(intent)
    await submit(bt.client, path, {"action": "START"})
    await submit(bt.client, path, {"action": "SELECT_OTP"})  # no method chosen: the step says so
    page = await fetch(bt.client, path)
    assert page.title == "Where should we send your code?"
    refused = await submit(bt.client, path, {"action": "SELECT_OTP", "methodId": "otp-pigeon"})
    assert refused.alert == "Choose where to send the code."
    await submit(bt.client, path, {"action": "SELECT_OTP", "methodId": "otp-sms"})
    short = await submit(bt.client, path, {"action": "VALIDATE_OTP", "otpCode": "12"})
    assert (short.status, short.alert) == (200, "Type the 6-digit code (the sandbox's code is 123456).")
    for left in (2, 1):
        wrong = await submit(bt.client, path, {"action": "VALIDATE_OTP", "otpCode": "000000"})
        assert wrong.alert.endswith(f"{left} attempt{'s' if left > 1 else ''} remaining")
    failed = await submit(bt.client, path, {"action": "VALIDATE_OTP", "otpCode": "000000"})
    assert_reports(failed, "basistheory", "verification", intent["id"], "failed", "unavailable")
    assert (await bt.get(intent["id"]))["status"] == "unavailable"


@pytest.mark.parametrize(("number", "steps", "outcome", "status"), [
    ("4000000000000127", ["START"], "failed", "unavailable"),
    ("4000056655665556", ["START"], "succeeded", "active"),
    ("5555555555554444", ["START", "MASTERCARD_AUTH_COMPLETE"], "succeeded", "active"),
    ("5200000000001096", ["START", "MASTERCARD_AUTH_COMPLETE"], "succeeded", "active"),
])
async def test_each_card_flow_ends_on_the_page(bt, number, steps, outcome, status):
    intent = await bt_intent(bt, number)
    path = verification_path(intent)
    for action in steps:
        page = await fetch(bt.client, path)
        assert ("action", action) in page.buttons()
        page = await submit(bt.client, path, {"action": action})
    assert_reports(page, "basistheory", "verification", intent["id"], outcome, status)


async def test_cancel_sends_nothing_and_a_wrong_step_is_refused(bt):
    intent = await bt_intent(bt)
    path = verification_path(intent)
    cancelled = await submit(bt.client, path, {"action": "CANCEL", "return_url": BACK})
    assert cancelled.status == 200
    assert_reports(cancelled, "basistheory", "verification", intent["id"], "cancelled", "verify")
    assert cancelled.return_url == BACK
    stale = await submit(bt.client, path, {"action": "AUTHENTICATE_PASSKEY"})
    assert stale.status == 409 and "Verification expects START next" in stale.alert
    nothing = await submit(bt.client, path, {"action": "DANCE"})
    assert nothing.status == 400 and nothing.alert == "Choose one of the step's buttons."
    unread = await submit(bt.client, path, b"x", headers={"Content-Type": "application/x-www-form-urlencoded; charset=bogus"})
    assert unread.status == 400 and unread.alert == "The form could not be read."
    assert (await bt.get(intent["id"]))["status"] == "verify"
    for page in (await fetch(bt.client, "/_sandbox/basistheory/purchase-intents/nope/verification"),
                 await submit(bt.client, "/_sandbox/basistheory/purchase-intents/nope/verification", {"action": "START"})):
        assert page.status == 404 and page.title == "Purchase intent not found"


async def test_an_intent_with_no_verification_has_nothing_to_verify(bt):
    intent = await bt.intent("378282246310005")  # pending, then active by itself
    page = await fetch(bt.client, verification_path(intent))
    assert page.title == "Nothing to verify" and "<form" not in page.text and page.message is None


async def test_the_verification_page_escapes_the_mandates(bt):
    method = await bt.payment_method("4000000000000002")
    mandates = [{"type": "merchant", "value": XSS}, {"type": "description", "value": "<b>bold</b>"}]
    status, intent, _ = await bt.request("POST", "/purchase-intents", bt.intent_body(method["id"], mandates=mandates))
    assert status == 201, intent
    page = await fetch(bt.client, verification_path(intent))
    assert XSS not in page.text and "<b>bold</b>" not in page.text and page.has(XSS, "<b>bold</b>")


# -- the passkey page -------------------------------------------------------------------------------


async def test_the_passkey_page_shows_what_is_verified_and_stores_nothing(bt):
    intent = await bt_intent(bt)
    await bt.verify(intent["id"], "START")
    await bt.verify(intent["id"], "SELECT_OTP", methodId="otp-sms")
    _, answer, _ = await bt.verify(intent["id"], "VALIDATE_OTP", otpCode="123456")
    endpoint = URL(answer["data"]["authContext"]["endpoint"])
    page = await fetch(bt.client, endpoint.path_qs + "&return_url=" + BACK.replace("?", "%3F").replace("=", "%3D"))
    assert page.status == 200
    assert_one_look(page, "Basis Theory")
    assert page.has("Visa •••• 0002", "up to 125.00 USD", intent["id"], "AUTHENTICATE_PASSKEY",
                    f"/projects/{PROJECT}/purchase-intents/{intent['id']}/verify")
    assert page.buttons() == [("action", "use"), ("action", "cancel")]
    used = await submit(bt.client, endpoint.path, {"identifier": intent["id"], "action": "use", "return_url": BACK})
    assert_reports(used, "basistheory", "passkey", intent["id"], "succeeded")
    assert used.return_url == BACK
    cancelled = await submit(bt.client, endpoint.path, {"identifier": intent["id"], "action": "cancel"})
    assert_reports(cancelled, "basistheory", "passkey", intent["id"], "cancelled")
    assert (await bt.get(intent["id"]))["status"] == "verify"  # the API call plays the passkey
    _, answer, _ = await bt.verify(intent["id"], "AUTHENTICATE_PASSKEY")
    assert answer["status"] == "VERIFIED"
    unknown = await fetch(bt.client, "/_sandbox/basistheory/passkey?identifier=nothing-by-this-id")
    assert unknown.status == 200 and unknown.has("nothing-by-this-id", "AUTHENTICATE_PASSKEY")
    refused = await submit(bt.client, "/_sandbox/basistheory/passkey", {"action": "maybe"})
    assert refused.status == 400 and refused.alert == "Choose Use passkey or Cancel."


# -- the Basis Theory platform: 3-D Secure and the Mastercard redirect ----------------------------


async def platform(client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    async with client.request(method, path, json=body, headers=PLATFORM) as resp:
        answer = await resp.json()
        assert resp.status == status, answer
        return answer


async def challenge(client, number: str = "4000000000003220", **authenticate: Any) -> tuple[str, str]:
    token = await platform(client, "POST", "/tokens", {"type": "card", "data": {"number": number, "expiration_month": 12,
                                                                                 "expiration_year": 2030}}, 201)
    session = await platform(client, "POST", "/3ds/sessions", {"token_id": token["id"], "device": "browser"}, 201)
    auth = await platform(client, "POST", f"/3ds/sessions/{session['id']}/authenticate", {
        "authentication_category": "payment", "authentication_type": "payment-transaction", **authenticate})
    return session["id"], URL(auth["acs_challenge_url"]).path


@pytest.mark.parametrize(("form", "outcome", "status"), [
    ({"code": "123456", "action": "submit"}, "succeeded", "successful"),
    ({"code": "654321", "action": "submit"}, "failed", "failed"),
    ({"action": "cancel"}, "cancelled", "failed"),
])
async def test_the_3ds_challenge_page_shows_the_purchase_and_ends_as_answered(api, form, outcome, status):
    session_id, path = await challenge(api.client, purchase_info={"amount": "8000", "currency": "840", "exponent": "2"},
                                       merchant_info={"name": "Acme Outdoor"})
    page = await fetch(api.client, path + "?return_url=http://localhost:3000/3ds-done")
    assert page.status == 200
    assert_one_look(page, "Your bank")
    assert page.has("80.00 USD", "Acme Outdoor", "Visa •••• 3220", session_id, "123456", "challenge_cancel_reason")
    assert '<label for="field-code">Code from your bank</label>' in page.text
    assert page.buttons() == [("action", "submit"), ("action", "cancel")]
    done = await submit(api.client, path, {**form, "return_url": "http://localhost:3000/3ds-done"})
    assert_reports(done, "btplatform", "3ds_challenge", session_id, outcome, status)
    assert done.return_url == "http://localhost:3000/3ds-done"
    result = await platform(api.client, "GET", f"/3ds/sessions/{session_id}/challenge-result")
    assert result["authentication_status"] == status
    assert (result.get("challenge_cancel_reason") == "cardholder-canceled") is (outcome == "cancelled")
    again = await submit(api.client, path, {"code": "123456"})
    assert again.status == 409 and again.alert == "There is no challenge waiting for this session."


async def test_the_3ds_challenge_asks_again_for_an_empty_code_and_knows_no_stranger(api):
    _, path = await challenge(api.client)
    page = await submit(api.client, path, {"code": "  "})
    assert page.status == 200 and page.alert == "Type the code the bank sent you (the sandbox's code is 123456)."
    for missing in (await fetch(api.client, "/_sandbox/basistheory/3ds/challenge/nope"),
                    await submit(api.client, "/_sandbox/basistheory/3ds/challenge/nope", {"code": "123456"})):
        assert missing.status == 404 and missing.title == "No such 3-D Secure session"


async def test_a_session_without_a_challenge_has_nothing_to_verify(api):
    token = await platform(api.client, "POST", "/tokens", {"type": "card", "data": {"number": "4242424242424242",
                                                                                     "expiration_month": 12, "expiration_year": 2030}}, 201)
    session = await platform(api.client, "POST", "/3ds/sessions", {"token_id": token["id"]}, 201)
    page = await fetch(api.client, f"/_sandbox/basistheory/3ds/challenge/{session['id']}")
    assert page.title == "Nothing to verify" and "<form" not in page.text


async def test_the_3ds_page_escapes_the_merchant(api):
    _, path = await challenge(api.client, merchant_info={"name": XSS}, purchase_info={"amount": "1e999", "currency": "<i>"})
    page = await fetch(api.client, path)
    assert XSS not in page.text and "<i>" not in page.text and page.has(XSS, "1e999 <I>")


async def test_the_mastercard_redirect_page_reports_and_the_api_finishes(api):
    token = await platform(api.client, "POST", "/tokens", {"type": "card", "data": {"number": "5555555555554444",
                                                                                     "expiration_month": 12, "expiration_year": 2030}}, 201)
    enrollment = await platform(api.client, "POST", "/agentic/enrollments", {"token_id": token["id"],
                                                                              "consumer": {"email": "jane@example.com"}}, 201)
    started = await platform(api.client, "POST", f"/agentic/enrollments/{enrollment['id']}/verify", {"device_context": DEVICE})
    path = URL(started["redirect"]["uri"]).path
    page = await fetch(api.client, path)
    assert_one_look(page, "Mastercard")
    assert page.has("Mastercard •••• 4444", enrollment["id"], f"POST /agentic/enrollments/{enrollment['id']}/verify/complete")
    assert page.buttons() == [("action", "authenticate"), ("action", "cancel")]
    cancelled = await submit(api.client, path, {"action": "cancel"})
    assert_reports(cancelled, "btplatform", "mastercard_redirect", enrollment["id"], "cancelled")
    done = await submit(api.client, path, {"action": "authenticate", "return_url": BACK})
    assert_reports(done, "btplatform", "mastercard_redirect", enrollment["id"], "succeeded")
    assert done.return_url == BACK
    assert (await platform(api.client, "GET", f"/agentic/enrollments/{enrollment['id']}"))["status"] == "pending_verification"
    completed = await platform(api.client, "POST", f"/agentic/enrollments/{enrollment['id']}/verify/complete", {})
    assert completed["status"] == "verified"


async def test_the_passkey_page_of_a_platform_instruction(api):
    token = await platform(api.client, "POST", "/tokens", {"type": "card", "data": {"number": "4000002760003184",
                                                                                     "expiration_month": 12, "expiration_year": 2030}}, 201)
    enrollment = await platform(api.client, "POST", "/agentic/enrollments", {"token_id": token["id"],
                                                                              "consumer": {"email": "jane@example.com"}}, 201)
    await platform(api.client, "POST", f"/agentic/enrollments/{enrollment['id']}/verify", {"device_context": DEVICE})
    await platform(api.client, "POST", f"/agentic/enrollments/{enrollment['id']}/verify/complete", {})
    agent = await platform(api.client, "POST", "/agentic/agents", {"name": "Shopper"}, 201)
    instruction = await platform(api.client, "POST", f"/agentic/agents/{agent['id']}/instructions", {
        "enrollment_id": enrollment["id"], "amount": {"value": "25.00", "currency": "USD"}, "description": "Groceries <3",
        "expires_at": "2030-01-01T00:00:00Z"}, 201)
    started = await platform(api.client, "POST", f"/agentic/agents/{agent['id']}/instructions/{instruction['id']}/verify",
                             {"device_context": DEVICE})
    page = await fetch(api.client, URL(started["passkey_context"]["endpoint"]).path_qs)
    assert page.has("25.00 USD", "Groceries <3", "Visa •••• 3184", instruction["id"],
                    f"/agentic/agents/{agent['id']}/instructions/{instruction['id']}/verify/passkey")
    used = await submit(api.client, "/_sandbox/basistheory/passkey", {"identifier": instruction["id"], "action": "use"})
    assert_reports(used, "btplatform", "passkey", instruction["id"], "succeeded")


# -- Crossmint: the order-intent verification page ------------------------------------------------


def cm_path(intent: dict[str, Any]) -> str:
    return f"/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verification"


async def cm_intent(cm, number: str = "4000000000000002", name: str = "Grocery agent") -> dict[str, Any]:
    agent = await cm.agent(name)
    mandates = [MAX, {"type": "description", "value": "Weekly groceries"}]
    intent = await cm.intent(method=await cm.enrolled(number), agent=agent, mandates=mandates)
    assert intent["phase"] == "requires-verification", intent
    return intent


async def test_the_crossmint_page_verifies_the_intents_instruction(cm):
    intent = await cm_intent(cm)
    path = cm_path(intent)
    page = await fetch(cm.client, path)
    assert page.status == 200
    assert_one_look(page, "Crossmint")
    assert page.has("up to 100.00 USD per month", "Weekly groceries", "Grocery agent", "Visa •••• 0002", intent["orderIntentId"],
                    intent["verificationConfig"]["instructionId"], "visa_passkey", "order-intents.verification-failed")
    assert page.buttons() == [("action", "START"), ("action", "FAIL"), ("action", "CANCEL")]
    page = await submit(cm.client, path, {"action": "START"})
    assert page.title == "Confirm with your passkey" and ("action", "AUTHENTICATE_PASSKEY") in page.buttons()
    done = await submit(cm.client, path, {"action": "AUTHENTICATE_PASSKEY", "return_url": BACK})
    assert_reports(done, "crossmint", "verification", intent["orderIntentId"], "succeeded", "active")
    assert done.return_url == BACK
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "active"
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.activated"
    again = await submit(cm.client, path, {"action": "START"})
    assert again.status == 409 and "requires-verification" in again.alert


async def test_the_cardholder_fails_the_verification_and_may_try_again(cm):
    intent = await cm_intent(cm)
    path = cm_path(intent)
    failed = await submit(cm.client, path, {"action": "FAIL", "return_url": BACK})
    assert failed.status == 200
    assert_reports(failed, "crossmint", "verification", intent["orderIntentId"], "failed", "requires-verification")
    assert failed.return_url == BACK
    assert (await cm.events(intent["orderIntentId"]))[-1] == "order-intents.verification-failed"
    page = await fetch(cm.client, path)
    assert ("action", "START") in page.buttons()  # still waiting for the cardholder
    cancelled = await submit(cm.client, path, {"action": "CANCEL"})
    assert_reports(cancelled, "crossmint", "verification", intent["orderIntentId"], "cancelled", "requires-verification")


async def test_a_card_the_issuer_rejects_fails_on_start_then_may_start_again(cm):
    intent = await cm_intent(cm, "4330251207506660")
    path = cm_path(intent)
    failed = await submit(cm.client, path, {"action": "START"})
    assert_reports(failed, "crossmint", "verification", intent["orderIntentId"], "failed", "requires-verification")
    assert failed.has("The card issuer declined the verification")
    page = await fetch(cm.client, path)
    assert page.title == "Verification failed" and page.alert == "The last attempt failed. Try again to start over."
    assert ("action", "START") in page.buttons() and page.has("Try again")


async def test_a_mastercard_order_intent_is_verified_with_mastercard(cm):
    intent = await cm_intent(cm, "5186161910000103")
    path = cm_path(intent)
    page = await submit(cm.client, path, {"action": "START"})
    assert page.title == "Confirm with Mastercard" and ("action", "MASTERCARD_AUTH_COMPLETE") in page.buttons()
    done = await submit(cm.client, path, {"action": "MASTERCARD_AUTH_COMPLETE"})
    assert done.message["outcome"] == "succeeded" and (await cm.read(intent["orderIntentId"]))["phase"] == "active"


async def test_the_crossmint_page_refuses_and_escapes(cm):
    intent = await cm_intent(cm, name=XSS)
    path = cm_path(intent)
    page = await fetch(cm.client, path)
    assert XSS not in page.text and page.has(XSS)
    stale = await submit(cm.client, path, {"action": "AUTHENTICATE_PASSKEY"})
    assert stale.status == 409 and "Verification expects START next" in stale.alert
    assert (await submit(cm.client, path, {"action": "nope"})).status == 400
    instruction = intent["verificationConfig"]["instructionId"]  # the page is reached by the intent's own id only
    for missing in (await fetch(cm.client, "/_sandbox/crossmint/order-intents/oi_nope/verification"),
                    await fetch(cm.client, f"/_sandbox/crossmint/order-intents/{instruction}/verification"),
                    await submit(cm.client, "/_sandbox/crossmint/order-intents/oi_nope/verification", {"action": "FAIL"})):
        assert missing.status == 404 and missing.title == "Order intent not found"


async def test_the_passkey_and_redirect_pages_know_a_crossmint_intent(cm):
    intent = await cm_intent(cm)
    config = intent["verificationConfig"]
    page = await fetch(cm.client, f"/_sandbox/basistheory/passkey?identifier={intent['orderIntentId']}")
    assert_one_look(page, "Crossmint")
    assert page.has("up to 100.00 USD per month", "Visa •••• 0002",
                    f"/agentic/agents/{config['agentId']}/instructions/{config['instructionId']}/verify/passkey")
    used = await submit(cm.client, "/_sandbox/basistheory/passkey", {"identifier": intent["orderIntentId"], "action": "use"})
    assert_reports(used, "crossmint", "passkey", intent["orderIntentId"], "succeeded")
    redirect = await fetch(cm.client, f"/_sandbox/basistheory/redirect/{config['instructionId']}")
    assert redirect.has("Grocery agent", intent["orderIntentId"])


# -- the admin token and other origins ----------------------------------------------------------------


async def test_the_human_step_pages_need_no_admin_token(make_api):
    guarded = await make_api(admin_token="adm-9f2c1e7a5b3d4c6e8f0a")
    intent = await needs_approval(guarded)
    page = await fetch(guarded.client, approval_path(intent), headers={"Accept": "text/html"})
    assert page.status == 200 and page.title == "Approve this purchase?"
    done = await submit(guarded.client, approval_path(intent), {"decision": "approve"})
    assert done.status == 200 and done.message["status"] == "approved"
    for path in ("/_sandbox/basistheory/3ds/challenge/x", "/_sandbox/basistheory/passkey", "/_sandbox/basistheory/redirect/x"):
        assert (await fetch(guarded.client, path, headers={"Accept": "text/html"})).status in (200, 404), path
    for path, form in (("/_sandbox/basistheory/passkey", {"action": "use"}), ("/_sandbox/basistheory/redirect/x", {"action": "cancel"})):
        assert (await submit(guarded.client, path, form)).message["outcome"] in ("succeeded", "cancelled"), path


@pytest.mark.parametrize("path", ["/_sandbox/basistheory/purchase-intents/{id}/verification",
                                  "/_sandbox/crossmint/order-intents/{id}/verification"])
async def test_the_new_verification_pages_are_open_once_listed(make_api, path):
    assert path in {page for provider in providers() for page in provider.open_pages}
    guarded = await make_api(admin_token="adm-9f2c1e7a5b3d4c6e8f0a")
    page = await fetch(guarded.client, path.format(id="nope"), headers={"Accept": "text/html"})
    assert page.status == 404 and "not found" in page.title  # the page itself, not the login page


@pytest.mark.parametrize("path", ["/_sandbox/dino/approvals/{id}", "/_sandbox/basistheory/purchase-intents/{id}/verification",
                                  "/_sandbox/crossmint/order-intents/{id}/verification", "/_sandbox/basistheory/passkey"])
async def test_a_page_elsewhere_cannot_post_the_forms(api, path):
    async with api.client.post(path.format(id="x"), data={"action": "START", "decision": "approve"},
                               headers={"Origin": "https://evil.example"}, allow_redirects=False) as resp:
        assert resp.status == 403
