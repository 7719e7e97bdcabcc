"""The 3-D Secure redirect variant (issue 16): a session created with `authentication_request` and
`callback_urls` answers `redirect_url`; the cardholder takes the challenge on the hosted page and
is sent back to the callback. Followed without a browser: GET the page, post its form, read the
303's Location."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from basis_theory import AsyncBasisTheory
from yarl import URL

KEY = "key_test_redirect"
SUCCESS = "https://shop.example.com/3ds/success/order-42"
FAILURE = "https://shop.example.com/3ds/failure/order-42"
REQUEST = {"authentication_category": "payment", "authentication_type": "payment-transaction",
           "purchase_info": {"amount": "8000", "currency": "840", "exponent": "2"}, "merchant_info": {"name": "Acme Outdoor"}}


class Platform:
    def __init__(self, client) -> None:
        self.client = client
        self.bt = AsyncBasisTheory(api_key=KEY, base_url=str(client.make_url("")).rstrip("/"), max_retries=0, timeout=10)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.client.request(method, path, json=body, headers={"BT-API-KEY": KEY}) as resp:
            return resp.status, await resp.json()

    async def token(self, number: str) -> str:
        data = {"number": number, "expiration_month": 12, "expiration_year": 2030}
        status, token = await self.call("POST", "/tokens", {"type": "card", "data": data})
        assert status == 201, token
        return token["id"]

    async def redirect_session(self, number: str, success: str = SUCCESS, **request: Any) -> Any:
        return await self.bt.threeds.sessions.create(
            token_id=await self.token(number), type="customer", device="browser",
            authentication_request={**REQUEST, **request},
            callback_urls={"success": success, "failure": FAILURE, "branding": {"hide_basis_theory_branding": False}},
        )

    async def events(self, object_id: str) -> list[str]:
        async with self.client.get(f"/_sandbox/events?provider=btplatform&object_id={object_id}") as resp:
            return [e["type"] for e in (await resp.json())["data"]]


class Form:
    """A page's one form: where it posts, its hidden fields, its buttons."""

    def __init__(self, status: int, text: str, headers) -> None:
        self.status, self.text, self.headers = status, text, headers
        found = re.search(r'<form[^>]*action="([^"]*)"', text)
        self.action = html.unescape(found.group(1)) if found else None
        self.buttons = re.findall(r'<button type="submit" name="action" value="([^"]+)"', text)


async def open_page(client, url: str) -> Form:
    async with client.get(URL(url).path_qs, allow_redirects=False) as resp:
        return Form(resp.status, await resp.text(), resp.headers)


async def post(client, path: str, form: dict[str, str]) -> tuple[int, str | None, str]:
    async with client.post(path, data=form, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


@pytest.fixture
async def bt(make_api) -> Platform:
    return Platform((await make_api()).client)


@pytest.mark.parametrize(("form", "location", "status"), [
    ({"action": "submit", "code": "123456"}, SUCCESS, "successful"),
    ({"action": "submit", "code": "654321"}, FAILURE, "failed"),
    ({"action": "cancel"}, FAILURE, "failed"),
])
async def test_a_challenge_on_the_hosted_page_returns_to_the_callback(bt, form, location, status):
    created = await bt.redirect_session("4000000000003220")
    assert created.redirect_url == str(bt.client.make_url(f"/_sandbox/basistheory/3ds/challenge/{created.id}"))
    page = await open_page(bt.client, created.redirect_url)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<span class="provider">Basis Theory</span>' in page.text and "80.00 USD" in page.text and "Acme Outdoor" in page.text
    assert page.buttons == ["submit", "cancel"] and page.action == URL(created.redirect_url).path
    # The form's answer redirects to the shop: the page's policy lets the browser follow it.
    assert "form-action 'self' https://shop.example.com;" in page.headers["Content-Security-Policy"]
    pending = await bt.bt.threeds.sessions.get(created.id)
    assert pending.authentication.authentication_status == "challenge"

    answered, to, _ = await post(bt.client, page.action, form)
    assert (answered, to) == (303, location)
    session = await bt.bt.threeds.sessions.get(created.id)
    assert session.authentication.authentication_status == status and session.authentication.challenge_attempts == "01"
    assert (session.authentication.challenge_cancel_reason == "cardholder-canceled") is (form["action"] == "cancel")
    result = await bt.bt.threeds.sessions.get_challenge_result(created.id)
    assert result.authentication_status == status and (result.authentication_value is not None) is (status == "successful")
    # Once it is over, the page (and a second answer) send the cardholder where the first did.
    assert (await open_page(bt.client, created.redirect_url)).headers["Location"] == location
    assert (await post(bt.client, page.action, {"action": "submit", "code": "123456"}))[:2] == (303, location)
    assert await bt.events(created.id) == ["3ds.session.created", "3ds.session.authenticated",
                                           "3ds.session.challenge-result-retrieved"]


@pytest.mark.parametrize(("number", "location", "status"), [
    ("4242424242424242", SUCCESS, "successful"),
    ("4000000000003055", SUCCESS, "attempted"),
    ("4000000000003097", FAILURE, "failed"),
    ("4000008400001629", FAILURE, "rejected"),
])
async def test_without_a_challenge_the_page_returns_at_once(bt, number, location, status):
    created = await bt.redirect_session(number)
    page = await open_page(bt.client, created.redirect_url)
    assert (page.status, page.headers["Location"]) == (303, location)
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == status


async def test_a_challenge_preference_makes_any_card_challenge(bt):
    created = await bt.redirect_session("4242424242424242", challenge_preference="challenge-mandated")
    page = await open_page(bt.client, created.redirect_url)
    assert page.status == 200 and page.buttons == ["submit", "cancel"]
    assert (await post(bt.client, page.action, {"action": "submit", "code": "123456"}))[:2] == (303, SUCCESS)


async def test_a_code_left_out_asks_again(bt):
    created = await bt.redirect_session("4000000000003220")
    page = await open_page(bt.client, created.redirect_url)
    status, location, text = await post(bt.client, page.action, {"action": "submit", "code": "  "})
    assert (status, location) == (200, None) and "Type the code the bank sent you" in text
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == "challenge"


@pytest.mark.parametrize(("action", "location", "status"), [("approve", SUCCESS, "successful"), ("cancel", FAILURE, "failed")])
async def test_a_decoupled_challenge_is_approved_on_the_page(bt, action, location, status):
    created = await bt.redirect_session("4000000000003220", request_decoupled_challenge=True)
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == "decoupled_challenge"
    page = await open_page(bt.client, created.redirect_url)
    assert page.status == 200 and page.buttons == ["approve", "cancel"]
    assert (await post(bt.client, page.action, {"action": "submit"}))[0] == 400  # neither button
    assert (await post(bt.client, page.action, {"action": action}))[:2] == (303, location)
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == status


async def test_the_callback_loses_its_query_and_the_branding_can_hide(bt):
    token = await bt.token("4000000000003220")
    created = await bt.bt.threeds.sessions.create(token_id=token, device="browser", authentication_request=REQUEST, callback_urls={
        "success": "http://localhost:3000/done?order=42#top", "failure": "http://localhost:3000/failed?x=1",
        "branding": {"hide_basis_theory_branding": True},
    })
    page = await open_page(bt.client, created.redirect_url)
    assert '<span class="provider">Your bank</span>' in page.text and "Basis Theory</span>" not in page.text
    assert "form-action 'self' http://localhost:3000;" in page.headers["Content-Security-Policy"]
    assert (await post(bt.client, page.action, {"action": "submit", "code": "123456"}))[:2] == (303, "http://localhost:3000/done")


async def test_a_session_without_callbacks_keeps_its_challenge_page(bt):
    status, session = await bt.call("POST", "/3ds/sessions", {"token_id": await bt.token("4000000000003220"), "device": "browser"})
    assert status == 201 and "redirect_url" not in session
    status, auth = await bt.call("POST", f"/3ds/sessions/{session['id']}/authenticate", REQUEST)
    page = await open_page(bt.client, auth["acs_challenge_url"])
    assert page.status == 200 and '<span class="provider">Your bank</span>' in page.text
    answered, to, _ = await post(bt.client, page.action, {"action": "submit", "code": "123456"})
    assert answered == 303 and URL(to).path == URL(auth["acs_challenge_url"]).path  # back to its own page, as before


@pytest.mark.parametrize(("body", "field"), [
    ({"callback_urls": {"success": SUCCESS, "failure": FAILURE}}, "authentication_request"),
    ({"authentication_request": REQUEST}, "callback_urls"),
    ({"authentication_request": REQUEST, "callback_urls": {"success": "javascript:alert(1)", "failure": FAILURE}},
     "callback_urls.success"),
    ({"authentication_request": REQUEST, "callback_urls": {"success": SUCCESS}}, "callback_urls.failure"),
    ({"authentication_request": {"authentication_type": "payment-transaction"}, "callback_urls": {"success": SUCCESS, "failure": FAILURE}},
     "authentication_request.authentication_category"),
])
async def test_a_half_redirect_request_is_400_and_stores_nothing(bt, body, field):
    token = await bt.token("4000000000003220")
    status, problem = await bt.call("POST", "/3ds/sessions", {"token_id": token, "device": "browser", **body})
    assert status == 400 and list(problem["errors"]) == [field], problem
    async with bt.client.get("/_sandbox/events?provider=btplatform") as resp:
        assert [e["type"] for e in (await resp.json())["data"]] == ["token.created"]


async def test_an_unknown_session_has_no_page(bt):
    page = await open_page(bt.client, "/_sandbox/basistheory/3ds/challenge/00000000-0000-4000-8000-000000000000")
    assert page.status == 404 and "not found" in page.text


@pytest.mark.parametrize("callback", [
    "https://shop\u3000.example.com/done",  # an ideographic space: the 303 would name "shop .example.com"
    "https://xn--zz.example.com/done",  # an A-label that is no punycode: no browser reaches it
    "https://shop..example.com/done",  # an empty label
    "https://shop_1.example.com/done",  # no host name, and no CSP source can name it
])
async def test_a_callback_whose_host_no_browser_reaches_is_400(bt, callback):
    token = await bt.token("4000000000003220")
    status, problem = await bt.call("POST", "/3ds/sessions", {"token_id": token, "authentication_request": REQUEST,
                                                              "callback_urls": {"success": SUCCESS, "failure": callback}})
    assert status == 400 and list(problem["errors"]) == ["callback_urls.failure"], problem
    async with bt.client.get("/_sandbox/events?provider=btplatform") as resp:
        assert [e["type"] for e in (await resp.json())["data"]] == ["token.created"]


async def test_an_international_callback_host_is_allowed_as_the_browser_reaches_it(bt):
    """The 303 names the host in IDNA (`xn--…`), so the page's form-action must name that host too:
    a CSP source with `ä` is no source, and the browser would block the way back."""
    created = await bt.redirect_session("4000000000003220", success="https://bücher.example/done")
    page = await open_page(bt.client, created.redirect_url)
    assert "form-action 'self' https://xn--bcher-kva.example https://shop.example.com;" in page.headers["Content-Security-Policy"]
    answered, to, _ = await post(bt.client, page.action, {"action": "submit", "code": "123456"})
    assert (answered, to) == (303, "https://xn--bcher-kva.example/done")


async def test_authenticating_again_drops_the_challenge_that_no_longer_waits(bt):
    created = await bt.redirect_session("4242424242424242", challenge_preference="challenge-mandated")
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == "challenge"
    status, auth = await bt.call("POST", f"/3ds/sessions/{created.id}/authenticate", REQUEST)  # frictionless this time
    assert (status, auth["authentication_status"]) == (200, "successful")
    page = await open_page(bt.client, created.redirect_url)
    assert (page.status, page.headers["Location"]) == (303, SUCCESS)  # no stale challenge to answer
    # a wrong code on the old form changes nothing: the authentication stays successful
    assert (await post(bt.client, URL(created.redirect_url).path, {"action": "submit", "code": "000000"}))[:2] == (303, SUCCESS)
    assert (await bt.bt.threeds.sessions.get(created.id)).authentication.authentication_status == "successful"
