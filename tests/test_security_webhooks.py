"""Issue 13: webhook URLs may not point the sandbox at itself (an endpoint on its own `resend`
route made thousands of attempts in seconds), checked at registration and before each attempt;
`--webhook-allow` restricts where they may go (docs/security.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sandbox.app import create_app
from sandbox.config import ConfigError, Settings
from sandbox.core.runtime import RUNTIME

from tests.conftest import free_port

PLATFORM = {"BT-API-KEY": "key_test_hooks"}


def own_port(api) -> int:
    return api.client.server.port


async def register(api, url: str, provider: str = "dino"):
    return await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": provider, "url": url})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "sandbox.localhost", "[::1]", "0.0.0.0", "2130706433", "127.1"])
async def test_an_endpoint_on_the_sandbox_itself_is_refused(api, host):
    url = f"http://{host}:{own_port(api)}/_sandbox/webhook-deliveries/dlv_x/resend"
    status, body = await register(api, url)
    assert status == 400, body
    assert body["error"]["details"]["field"] == "url" and "this sandbox itself" in body["error"]["message"]
    assert (await api.control("GET", "/_sandbox/webhook-endpoints"))[1]["data"] == []


async def test_another_port_on_this_machine_is_a_receiver(api):
    assert (await register(api, f"http://127.0.0.1:{free_port()}/hooks"))[0] == 201
    assert (await register(api, "http://localhost:9000/hooks"))[0] == 201


async def test_changing_an_endpoint_to_the_sandbox_itself_is_refused(api):
    _, endpoint = await register(api, "http://127.0.0.1:9/h")
    url = f"http://localhost:{own_port(api)}/_sandbox/reset"
    status, body = await api.control("PATCH", f"/_sandbox/webhook-endpoints/{endpoint['id']}", {"url": url})
    assert status == 400 and "this sandbox itself" in body["error"]["message"]
    assert (await api.control("GET", f"/_sandbox/webhook-endpoints/{endpoint['id']}"))[1]["url"] == "http://127.0.0.1:9/h"


async def test_the_platforms_webhook_api_refuses_it_too(api):
    url = f"http://127.0.0.1:{own_port(api)}/ping"
    body = {"name": "loop", "url": url, "events": ["token.created"]}
    async with api.client.post("/webhooks", json=body, headers=PLATFORM) as resp:
        assert resp.status in (400, 422) and "this sandbox itself" in await resp.text()
    async with api.client.post("/webhooks", json={**body, "url": "http://127.0.0.1:9/h"}, headers=PLATFORM) as resp:
        assert resp.status == 201
        webhook = await resp.json()
    async with api.client.put(f"/webhooks/{webhook['id']}", json=body, headers=PLATFORM) as resp:
        assert resp.status in (400, 422) and "this sandbox itself" in await resp.text()


async def test_the_public_url_is_the_sandbox_too(make_api):
    api = await make_api(public_url="https://sandbox.example.com")
    assert (await register(api, "https://sandbox.example.com/_sandbox/reset"))[0] == 400
    assert (await register(api, "https://SANDBOX.example.com:443/x"))[0] == 400
    assert (await register(api, "https://sandbox.example.com:8443/x"))[0] == 201


def test_a_webhook_flag_on_the_sandbox_itself_stops_the_start():
    with pytest.raises(ConfigError, match="this sandbox itself"):
        create_app(Settings(port=8750, webhooks=["dino=http://localhost:8750/_sandbox/reset"]))
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--webhook", f"dino=http://127.0.0.1:{port}/h"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2 and "this sandbox itself" in result.stderr and "Traceback" not in result.stderr


async def test_a_name_that_resolves_to_the_sandbox_is_not_sent_to(api):
    """A DNS name says nothing at registration; before each attempt it is resolved (off the event
    loop) and an answer naming the sandbox stops the attempt, with the reason in the delivery log."""
    answers = {"rebind.test": ["127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers.get(host, [])

    api.client.server.app[RUNTIME].endpoints.targets.resolver = resolver
    port = own_port(api)
    status, endpoint = await register(api, f"http://rebind.test:{port}/_sandbox/webhook-deliveries/x/resend")
    assert status == 201
    intent = await api.create()
    assert (await api.control("POST", "/_sandbox/webhooks/flush?timeout=5"))[0] == 200
    _, log = await api.control("GET", f"/_sandbox/webhook-deliveries?endpoint_id={endpoint['id']}&object_id={intent['id']}")
    attempt = log["data"][0]["attempts"][0]
    assert attempt["status_code"] is None and "resolves to 127.0.0.1" in attempt["error"] and "this sandbox itself" in attempt["error"]


async def test_the_allow_list(make_api, aiohttp_server):
    api = await make_api(webhook_allow=["*.hooks.example", "127.0.0.1:9", "10.0.0.0/8"])
    for url in ("http://a.hooks.example/x", "http://127.0.0.1:9/h", "http://10.1.2.3/h"):
        assert (await register(api, url))[0] == 201, url
    for url in ("http://hooks.example/x", "http://evil.example/x", "http://127.0.0.1:10/h", "http://11.0.0.1/h", "http://169.254.169.254/"):
        status, body = await register(api, url)
        assert status == 400 and "--webhook-allow" in body["error"]["message"], url


def test_the_allow_list_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_WEBHOOK_ALLOW", "*.internal, localhost:3000")
    assert Settings().webhook_allow == ["*.internal", "localhost:3000"]
    with pytest.raises(ValueError, match="webhook_allow"):
        Settings(webhook_allow=["https://x.example/path"])
