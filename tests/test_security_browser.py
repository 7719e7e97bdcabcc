"""Issue 13, "Browsers and networks": what a web page in the developer's browser can do with the
sandbox (docs/security.md). CORS answers only allowed origins and never on the control plane;
the control plane refuses cross-origin writes and, without an admin token, browser requests
whose Host does not name this server (DNS rebinding)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sandbox.config import Settings

EVIL = "https://evil.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


async def options(api, path: str, origin: str):
    async with api.client.options(path, headers={"Origin": origin, **PREFLIGHT}) as resp:
        return resp.status, resp.headers


# -- CORS -------------------------------------------------------------------------------------------


async def test_an_unknown_origin_is_never_reflected(api):
    status, _, headers = await api.request("GET", "/v1/purchase-intents", headers={"Origin": EVIL})
    assert status == 200  # the answer itself is unchanged: the browser keeps it from the page
    assert "Access-Control-Allow-Origin" not in headers and "Access-Control-Allow-Credentials" not in headers
    assert "Origin" in headers["Vary"]


async def test_a_preflight_from_an_unknown_origin_gets_no_cors_headers(api):
    status, headers = await options(api, "/v1/purchase-intents", EVIL)
    assert status == 403
    assert not [name for name in headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:5173", "http://[::1]:8080", "https://localhost:3000"])
async def test_loopback_origins_are_allowed_by_default(api, origin):
    status, headers = await options(api, "/v1/purchase-intents", origin)
    assert status == 204 and headers["Access-Control-Allow-Origin"] == origin
    status, _, headers = await api.request("GET", "/v1/purchase-intents", headers={"Origin": origin})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Credentials"] == "true"


async def test_loopback_origins_can_be_turned_off(make_api):
    api = await make_api(cors_loopback=False)
    status, headers = await options(api, "/v1/purchase-intents", "http://localhost:3000")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("origin, allowed", [
    ("https://app.example.com", True),
    ("https://pr-12.preview.example", True),
    ("http://app.example.com", False),  # another scheme is another origin
    ("https://app.example.com:8443", False),  # and so is another port
    ("https://app.example.com.evil.example", False),
    ("https://preview.example", False),  # `*.` is a subdomain, not the domain itself
    ("null", False),
])
async def test_configured_origins(make_api, origin, allowed):
    api = await make_api(cors_origins=["https://app.example.com", "https://*.preview.example"])
    _, _, headers = await api.request("GET", "/v1/purchase-intents", headers={"Origin": origin})
    assert headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


async def test_origins_come_from_the_environment_comma_separated(make_api, monkeypatch):
    monkeypatch.setenv("SANDBOX_CORS_ORIGINS", "https://a.example.com, https://b.example.com")
    api = await make_api()
    for origin in ("https://a.example.com", "https://b.example.com"):
        _, _, headers = await api.request("GET", "/v1/purchase-intents", headers={"Origin": origin})
        assert headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", ["*", "null", "https://app.example.com/path", "example.com", "https://*"])
def test_any_origin_cannot_be_configured(origin):
    with pytest.raises(ValidationError, match="cors_origins"):
        Settings(cors_origins=[origin])


@pytest.mark.parametrize("origin", ["http://localhost:3000", "https://app.example.com"])
async def test_the_control_plane_never_answers_cross_origin(make_api, origin):
    """Not even to an allowed origin: events, webhook secrets and recordings stay unreadable."""
    api = await make_api(cors_origins=["https://app.example.com"])
    async with api.client.get("/_sandbox/webhook-endpoints", headers={"Origin": origin}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
    status, headers = await options(api, "/_sandbox/reset", origin)
    assert status != 204 and not [name for name in headers if name.lower().startswith("access-control-")]


# -- cross-origin writes to the control plane --------------------------------------------------------


async def test_a_page_elsewhere_cannot_reset_the_sandbox(api):
    """A form or a no-cors fetch needs no preflight: CORS alone would not stop it."""
    intent = await api.create()
    async with api.client.post("/_sandbox/reset", headers={"Origin": EVIL}) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "forbidden"
    assert (await api.get(intent["id"]))[0] == 200
    async with api.client.post("/_sandbox/reset", headers={"Sec-Fetch-Site": "cross-site"}) as resp:
        assert resp.status == 403


async def needs_approval(api) -> dict:
    intent = await api.create(max_total_cents=80_000)
    _, body, _ = await api.authorize(intent["id"], expected_total_cents=50_000)
    assert body["status"] == "needs_approval"
    return body


async def test_a_page_elsewhere_cannot_approve_a_payment(api):
    intent = await needs_approval(api)
    page = f"/_sandbox/dino/approvals/{intent['id']}"
    for path, data in ((page, {"decision": "approve"}), (f"/_sandbox/dino/purchase-intents/{intent['id']}/approve", None)):
        async with api.client.post(path, data=data, headers={"Origin": "http://localhost:3000"}, allow_redirects=False) as resp:
            assert resp.status == 403, path
    assert (await api.get(intent["id"]))[1]["status"] == "needs_approval"
    # The page's own form posts from the page's origin: that works.
    origin = str(api.client.make_url("/")).rstrip("/")
    async with api.client.post(page, data={"decision": "approve"}, headers={"Origin": origin}, allow_redirects=False) as resp:
        assert resp.status == 303
    assert (await api.get(intent["id"]))[1]["status"] == "approved"


async def test_programs_write_without_an_origin(api):
    assert (await api.control("POST", "/_sandbox/reset"))[0] == 200


# -- DNS rebinding ----------------------------------------------------------------------------------


async def test_a_browser_on_a_rebound_name_cannot_read_the_control_plane(api):
    """evil.example resolving to 127.0.0.1: same-origin for the browser, but its Host names evil.example."""
    rebound = {"Host": "evil.example:8750", "Sec-Fetch-Site": "same-origin"}
    async with api.client.get("/_sandbox/webhook-endpoints", headers=rebound) as resp:
        assert resp.status == 403
        assert "does not name this sandbox" in (await resp.json())["error"]["message"]
    async with api.client.get("/_sandbox/webhook-endpoints", headers={**rebound, "Host": "localhost:8750"}) as resp:
        assert resp.status == 200
    # A program may use any name (a container's service name, say): it sends no browser header.
    async with api.client.get("/_sandbox/webhook-endpoints", headers={"Host": "sandbox:8750"}) as resp:
        assert resp.status == 200


async def test_with_an_admin_token_the_token_decides(make_api):
    token = "t" * 24
    api = await make_api(admin_token=token)
    headers = {"Host": "sandbox.team.example", "Sec-Fetch-Site": "same-origin", "Authorization": f"Bearer {token}"}
    async with api.client.get("/_sandbox/webhook-endpoints", headers=headers) as resp:
        assert resp.status == 200


async def test_provider_routes_answer_any_host(api):
    status, _, _ = await api.request("GET", "/v1/purchase-intents", headers={"Host": "sandbox:8750", "Sec-Fetch-Site": "same-origin"})
    assert status == 200
