"""Issue 13: the control plane behind `--admin-token` (docs/security.md). Every /_sandbox/ route needs
the token, as a header or the login page's cookie, except the human-step pages; provider routes
never take it; the server says loudly when it listens beyond loopback without one."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sandbox.app import catalog, create_app, providers
from sandbox.config import Settings
from sandbox.core.scenarios.loader import load
from sandbox.replay import SetupError, run
from yarl import URL

from tests.conftest import free_port

pytest_plugins = ["pytester"]

TOKEN = "adm-9f2c1e7a5b3d4c6e8f0a"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
HUMAN_STEP_PAGES = {page for provider in providers() for page in provider.open_pages}  # each provider lists its own


@pytest.fixture
async def guarded(make_api):
    return await make_api(admin_token=TOKEN)


async def get(api, path: str, headers: dict | None = None, **kw):
    async with api.client.get(path, headers=headers or {}, allow_redirects=False, **kw) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body, resp.headers


async def test_without_a_token_setting_the_control_plane_is_open(api):
    assert (await get(api, "/_sandbox/health"))[0] == 200


async def test_a_missing_or_wrong_token_is_a_401_in_the_control_planes_shape(guarded):
    for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"X-Sandbox-Admin-Token": TOKEN[:-1]}):
        status, body, response_headers = await get(guarded, "/_sandbox/events", headers)
        assert status == 401, headers
        assert body["error"]["code"] == "unauthenticated" and "admin token" in body["error"]["message"]
        assert response_headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [BEARER, {"X-Sandbox-Admin-Token": TOKEN}, {"Authorization": f"bearer {TOKEN}"}])
async def test_the_token_as_a_header(guarded, headers):
    status, body, _ = await get(guarded, "/_sandbox/health", headers)
    assert status == 200 and body["status"] == "ok"


async def test_every_control_route_needs_the_token_but_the_human_step_pages(guarded):
    routes = {
        (route.method, route.resource.canonical)
        for route in guarded.client.server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/_sandbox") and route.method != "HEAD"
    }
    assert len(routes) > 20
    for method, template in sorted(routes):
        path = re.sub(r"\{[^}]+\}", "x", template)
        async with guarded.client.request(method, path, allow_redirects=False) as resp:
            if template in ("/_sandbox/login", "/_sandbox/logout"):  # the way in, and out: pages (a wrong token is a 401 page)
                assert (resp.status, resp.content_type) in ((200, "text/html"), (401, "text/html"), (303, "text/plain")), template
            elif template in HUMAN_STEP_PAGES:
                assert resp.status != 401, (method, template)
            else:
                assert resp.status == 401, (method, template, resp.status)


def test_the_human_step_pages_are_routes():
    """A page renamed in its provider would fall out of the open list silently: it must name routes."""
    app = create_app(Settings(seed=1))
    templates = {route.resource.canonical for route in app.router.routes() if route.resource is not None}
    assert len(HUMAN_STEP_PAGES) == 7
    assert set(HUMAN_STEP_PAGES) <= templates


async def test_the_approval_page_needs_no_token_but_the_operator_route_does(guarded):
    """A front end opens approval_url in a popup, which carries no header: the page is reached by
    the intent's id alone. The operator's JSON route is the control plane's."""
    intent = await guarded.create(max_total_cents=80_000)
    _, body, _ = await guarded.authorize(intent["id"], expected_total_cents=50_000)
    page = "/" + body["approval_url"].split("/", 3)[3]
    status, html, _ = await get(guarded, page)
    assert status == 200 and "Approve" in html
    async with guarded.client.post(f"/_sandbox/dino/purchase-intents/{intent['id']}/approve") as resp:
        assert resp.status == 401
    async with guarded.client.post(page, data={"decision": "approve"}, allow_redirects=False) as resp:
        assert resp.status == 303
    assert (await guarded.get(intent["id"]))[1]["status"] == "approved"


async def test_a_browser_asking_for_a_page_is_sent_to_the_login_page(guarded):
    status, _, headers = await get(guarded, "/_sandbox/events?limit=1", {"Accept": "text/html,application/xhtml+xml"})
    location = URL(headers["Location"])
    assert status == 303 and location.path == "/_sandbox/login" and location.query["next"] == "/_sandbox/events?limit=1"


async def test_the_login_page_sets_a_strict_http_only_cookie(guarded):
    status, html, _ = await get(guarded, "/_sandbox/login?next=/_sandbox/events")
    assert status == 200 and 'name="token"' in html and 'value="/_sandbox/events"' in html
    form = {"token": "not-the-token-at-all", "next": "/_sandbox/events"}
    async with guarded.client.post("/_sandbox/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 401 and "Set-Cookie" not in resp.headers
    async with guarded.client.post("/_sandbox/login", data={**form, "token": TOKEN}, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/_sandbox/events"
        cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_sandbox" in cookie
    assert TOKEN not in cookie  # the cookie is derived from the token, not the token itself
    session = cookie.split(";", 1)[0]
    guarded.client.session.cookie_jar.clear()  # each request below carries only the cookie it names
    assert (await get(guarded, "/_sandbox/events", {"Cookie": session}))[0] == 200
    assert (await get(guarded, "/_sandbox/events", {"Cookie": "sandbox_admin=forged"}))[0] == 401
    async with guarded.client.post("/_sandbox/logout", headers={"Cookie": session}, allow_redirects=False) as resp:
        assert resp.status == 303 and 'sandbox_admin=""' in resp.headers["Set-Cookie"]


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/v1/purchase-intents", "/_sandbox/../v1/purchase-intents", "/\\evil.example",
    "javascript:alert(1)", "/_sandboxes",
])
async def test_the_login_page_only_sends_the_browser_within_the_control_plane(guarded, target):
    async with guarded.client.post("/_sandbox/login", data={"token": TOKEN, "next": target}, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/_sandbox/login"


async def test_the_login_form_stays_out_of_the_request_log_and_the_token_header_is_redacted(guarded):
    async with guarded.client.post("/_sandbox/login", data={"token": TOKEN}, allow_redirects=False):
        pass
    await get(guarded, "/_sandbox/clock", {"X-Sandbox-Admin-Token": TOKEN})
    _, log, _ = await get(guarded, "/_sandbox/requests", BEARER)
    assert TOKEN not in str(log)
    assert "/_sandbox/login" not in [entry["path"] for entry in log["data"]]
    clock = next(entry for entry in log["data"] if entry["path"] == "/_sandbox/clock")
    assert clock["request"]["headers"]["X-Sandbox-Admin-Token"] == "[redacted]"


async def test_the_admin_token_never_opens_a_provider_route(guarded):
    """Sent as each provider's credential, it is refused as any unknown key is."""
    assert (await guarded.as_key(TOKEN).request("GET", "/v1/purchase-intents"))[0] == 401
    for path, headers in (
        ("/tokens/tok_x", {"BT-API-KEY": TOKEN}),
        ("/api/unstable/agents", {"X-API-KEY": TOKEN}),
        ("/projects/p/purchase-intents", {"Authorization": f"Bearer {TOKEN}"}),
    ):
        async with guarded.client.get(path, headers=headers) as resp:
            assert resp.status in (401, 403), (path, resp.status)
    # And provider routes never ask for it.
    assert (await guarded.request("GET", "/v1/purchase-intents"))[0] == 200


def test_a_short_token_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--admin-token", "short"], capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2 and "admin_token" in result.stderr and "16 characters" in result.stderr


# -- the clients -------------------------------------------------------------------------------------


async def test_replay_against_a_guarded_sandbox_sends_the_token(guarded, monkeypatch):
    monkeypatch.delenv("SANDBOX_ADMIN_TOKEN", raising=False)
    loaded = load(str(SCENARIOS / "dino-happy-path.yaml"), catalog())
    url = str(guarded.client.make_url("/"))
    with pytest.raises(SetupError, match="401"):
        await run(loaded, against=url)
    results = await run(loaded, against=url, admin_token=TOKEN)
    assert results and all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]
    monkeypatch.setenv("SANDBOX_ADMIN_TOKEN", TOKEN)
    assert all(r.passed for r in await run(loaded, against=url))


PLUGIN_TEST = """
def test_uses_the_control_plane(sandbox):
    assert sandbox.health()["status"] == "ok"
    sandbox.advance_clock(5)
    assert sandbox.events() == []
"""


def test_the_pytest_plugin_sends_the_token(pytester: pytest.Pytester, serve, monkeypatch):
    monkeypatch.delenv("SANDBOX_ADMIN_TOKEN", raising=False)
    proc = serve("--port", "0", "--seed", "5", env={"SANDBOX_ADMIN_TOKEN": TOKEN})
    url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    pytester.makepyfile(test_guarded=PLUGIN_TEST)
    refused = pytester.runpytest_subprocess("-p", "no:faker", "--sandbox-url", url, timeout=120)
    refused.stdout.fnmatch_lines(["*401*admin token*"])
    passed = pytester.runpytest_subprocess("-p", "no:faker", "--sandbox-url", url, "--sandbox-admin-token", TOKEN, timeout=120)
    assert passed.ret == 0, passed.stdout.str()
    monkeypatch.setenv("SANDBOX_ADMIN_TOKEN", TOKEN)  # the client reads it too
    assert pytester.runpytest_subprocess("-p", "no:faker", "--sandbox-url", url, timeout=120).ret == 0


# -- the warning at start -------------------------------------------------------------------------------


def start(serve, *args, env=None):
    proc = serve("--port", str(free_port()), *args, env=env)
    line = proc.stdout.readline()
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return line, err


def test_listening_beyond_loopback_without_a_token_is_said_loudly(serve):
    line, err = start(serve, "--host", "0.0.0.0", env={"SANDBOX_ADMIN_TOKEN": ""})
    assert re.match(r"sandbox \S+ listening on http://0\.0\.0\.0:\d+ \(seed \d+\)$", line.strip())  # unchanged for scripts
    warnings = [w for w in err.splitlines() if w.startswith("sandbox: WARNING:")]
    assert len(warnings) >= 3 and "no admin token" in warnings[0] and "SANDBOX_ADMIN_TOKEN" in err


def test_no_warning_on_loopback_or_with_a_token(serve):
    assert "WARNING" not in start(serve, env={"SANDBOX_ADMIN_TOKEN": ""})[1]
    assert "WARNING" not in start(serve, "--host", "0.0.0.0", env={"SANDBOX_ADMIN_TOKEN": TOKEN})[1]


def test_sandbox_serve_with_a_token_from_the_environment(serve):
    port = free_port()
    serve("--port", str(port), env={"SANDBOX_ADMIN_TOKEN": TOKEN}).stdout.readline()
    url = f"http://127.0.0.1:{port}/_sandbox/health"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401
    with urllib.request.urlopen(urllib.request.Request(url, headers=BEARER), timeout=5) as resp:
        assert resp.status == 200
