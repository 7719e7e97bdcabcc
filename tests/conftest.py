from __future__ import annotations

import asyncio
import copy
import itertools
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from aiohttp import web
from sandbox.app import create_app
from sandbox.config import Settings

pytest_plugins = ["tests.bt", "tests.cm"]

KEY = "din_test_alice"
OTHER_KEY = "din_test_bob"
START = "2026-01-01T00:00:00.000Z"

# The create body of the seed's curl example (seed 000, docs/research/seeds.md), verbatim.
SEED_INTENT = {
    "product_url": "https://example.com/products/demo-item",
    "quantity": 1,
    "currency": "usd",
    "max_total_cents": 5000,
    "buyer": {
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@example.com",
        "phone": "+15551234567",
        "address1": "123 Main St",
        "city": "New York",
        "province": "NY",
        "postal_code": "10001",
        "country": "US",
    },
}
SEED_AUTHORIZE = {"expected_total_cents": 4599, "merchant_name": "example.com", "reason": "Authorize online purchase"}
SEED_ISSUE = {
    "provider": "stripe_proxy_card",
    "credential_mode": "one_time_exact_amount",
    "ttl_seconds": 900,
    "merchant_lock": "example.com",
}


def intent_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_INTENT)
    body.update(changes)
    return body


class Api:
    """A thin client over the test server: every call returns (status, json body, headers)."""

    def __init__(self, client, key: str | None = KEY) -> None:
        self.client = client
        self.key = key

    def as_key(self, key: str | None) -> Api:
        return Api(self.client, key)

    async def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw):
        sent = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        sent.update(headers or {})
        async with self.client.request(method, path, json=json, headers=sent, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body, resp.headers

    async def create(self, **changes: Any) -> dict[str, Any]:
        status, body, _ = await self.request("POST", "/v1/purchase-intents", intent_body(**changes))
        assert status == 201, body
        return body

    async def authorize(self, intent_id: str, **body: Any):
        return await self.request("POST", f"/v1/purchase-intents/{intent_id}/authorize", body or SEED_AUTHORIZE)

    async def issue(self, intent_id: str, **body: Any):
        return await self.request("POST", f"/v1/purchase-intents/{intent_id}/issue-payment-credential", body or SEED_ISSUE)

    async def get(self, intent_id: str):
        return await self.request("GET", f"/v1/purchase-intents/{intent_id}")

    async def control(self, method: str, path: str, json: Any = None):
        async with self.client.request(method, path, json=json) as resp:
            return resp.status, (await resp.json() if resp.status != 204 else None)

    async def events(self, **query: str) -> list[dict[str, Any]]:
        status, body = await self.control("GET", "/_sandbox/events?" + "&".join(f"{k}={v}" for k, v in query.items()))
        assert status == 200
        return body["data"]

    async def approved_intent(self) -> dict[str, Any]:
        intent = await self.create()
        status, body, _ = await self.authorize(intent["id"])
        assert (status, body["status"]) == (200, "approved"), body
        return body

    async def issued_intent(self) -> dict[str, Any]:
        intent = await self.approved_intent()
        status, body, _ = await self.issue(intent["id"])
        assert (status, body["status"]) == (200, "payment_credential_issued"), body
        return body


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"seed": 7, "clock": START}


@pytest.fixture
def make_api(aiohttp_client, settings):
    async def make(**overrides: Any) -> Api:
        app = create_app(Settings(**{**settings, **overrides}))
        return Api(await aiohttp_client(app))

    return make


@pytest.fixture
async def api(make_api) -> Api:
    return await make_api()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _without_backend(environ) -> dict[str, str]:
    """Servers a test starts as processes keep their state in memory: the CLI is under test there."""
    return {k: v for k, v in environ.items() if k not in ("SANDBOX_DATA_DIR", "SANDBOX_STORE")}


@pytest.fixture
def serve():
    procs = []

    def start(*args, env=None):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**_without_backend(os.environ), **(env or {})},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


class Receiver:
    """An aiohttp server that records every POST and answers from a script."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.script: list = []  # statuses (or callables) to answer with, then 200
        self.gate: asyncio.Event | None = None
        self._arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        self._arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, tuple):
            return web.Response(status=answer[0], headers=answer[1], text="retry later")
        return web.Response(status=answer, text="ok" if answer < 300 else "nope")

    async def wait_for(self, count: int, timeout: float = 10) -> None:
        """Until `count` requests have arrived: woken by each arrival, never by polling."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()


@pytest.fixture
async def receiver(aiohttp_server):
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", recv.handle)
    server = await aiohttp_server(app)
    recv.url = str(server.make_url("/hooks"))
    return recv


@pytest.fixture
def servers():
    """`sandbox serve` processes a test starts (tests/durable.py), stopped after it."""
    started: list = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free port for the session (.ci/run installs it)."""
    from tests.durable import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def backend(request, monkeypatch, tmp_path_factory) -> str:
    """Where the state of the apps a test makes is kept: memory, or (for the HTTP suite, see
    `pytest_generate_tests`) also SQLite and a real Redis, so the suite runs on every backend."""
    name = getattr(request, "param", os.environ.get("TEST_BACKEND", "memory"))
    monkeypatch.delenv("SANDBOX_DATA_DIR", raising=False)
    monkeypatch.delenv("SANDBOX_STORE", raising=False)
    if name == "memory":
        return name
    if name == "sqlite":
        monkeypatch.setenv("SANDBOX_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    else:
        monkeypatch.setenv("SANDBOX_STORE", request.getfixturevalue("redis_server").url)
    # A test may make several apps: each gets a state of its own (a directory, or a Redis key
    # prefix), as two separate servers would.
    import sandbox.app
    from sandbox.core.persistence import backend_for

    apart = (f"/app{n}" if name == "sqlite" else f"?prefix={next(_PREFIXES)}" for n in itertools.count())
    monkeypatch.setattr(sandbox.app, "backend_for", lambda url: backend_for(url + next(apart)))
    return name


_PREFIXES = (f"test{n}" for n in itertools.count())


BACKENDS = ("memory", "sqlite", "redis")
# Modules about something other than state (the CLI, lint, parsing, the network, the plugin's own
# servers) run on memory only; so do the unit tests, which make no app.
MEMORY_ONLY = frozenset({
    "test_architecture", "test_cli", "test_durable_sqlite", "test_hostile_input", "test_lint", "test_listen", "test_openapi",
    "test_pages", "test_parser_rejects", "test_pytest_plugin", "test_redis_replicas", "test_security_admin", "test_security_network",
    "test_node_clients",  # one `sandbox serve` process (memory) for the module, driven by the Node clients
    "test_benchmarks_smoke",  # benchmarks/run.py --quick starts its own servers (memory)
})


def pytest_generate_tests(metafunc) -> None:
    """The HTTP suite runs on every backend (`[memory]`, `[sqlite]`, `[redis]`); TEST_BACKEND=name
    runs everything on that one instead."""
    module = metafunc.module.__name__
    if (
        os.environ.get("TEST_BACKEND") or "backend" not in metafunc.fixturenames or module.startswith("tests.unit.")
        or module.rsplit(".", 1)[-1] in MEMORY_ONLY or {"serve", "servers"} & set(metafunc.fixturenames)
    ):
        return
    metafunc.parametrize("backend", BACKENDS, indirect=True)
