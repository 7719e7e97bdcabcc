"""The pytest plugin (entry point `pytest11`: `pip install sandbox` is all a project needs).

Fixtures `sandbox_server` (the session's server), `sandbox` (one test's view of it, isolated) and
`sandbox_webhooks` (a verifying receiver); the marker `sandbox_scenario`; the options
`--sandbox-url`, `--sandbox-seed`, `--sandbox-reset`, `--sandbox-webhook-host` and `--sandbox-admin-token`.
See docs/pytest.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from sandbox.testing.client import SandboxClient, SandboxError
from sandbox.testing.isolation import ResetScope, Sandbox, begin, end, tenant_name
from sandbox.testing.server import SandboxServer, attach, start
from sandbox.testing.webhooks import ReceiverServer, WebhookReceiver

MARKER = "sandbox_scenario"


@dataclass(frozen=True, slots=True)
class Options:
    url: str | None
    seed: int | None
    reset: ResetScope
    webhook_host: str
    args: list[str]
    admin_token: str | None = None


_OPTIONS = pytest.StashKey[Options]()
_USED = pytest.StashKey[SandboxServer]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sandbox", "agentic-payment sandbox")
    group.addoption(
        "--sandbox-url", default=None, metavar="URL",
        help="use the sandbox already running at URL instead of starting one (ini: sandbox_url)",
    )
    group.addoption(
        "--sandbox-seed", type=int, default=None, metavar="N",
        help="seed of the sandbox the plugin starts, for the same ids and secrets on every run (ini: sandbox_seed; "
        "default SANDBOX_SEED, else random and printed at the end)",
    )
    group.addoption(
        "--sandbox-reset", choices=("all", "tenant"), default=None,
        help="what is reset before each test: the whole server (all, the default) or only the test's own tenants "
        "(tenant: for a server other sessions share) (ini: sandbox_reset)",
    )
    group.addoption(
        "--sandbox-webhook-host", default=None, metavar="HOST",
        help="host the sandbox reaches sandbox_webhooks' receiver at (default 127.0.0.1; e.g. host.docker.internal) "
        "(ini: sandbox_webhook_host)",
    )
    group.addoption(
        "--sandbox-admin-token", default=None, metavar="TOKEN",
        help="the --sandbox-url sandbox's admin token, sent with every /_sandbox/ call (default SANDBOX_ADMIN_TOKEN)",
    )
    parser.addini("sandbox_url", "URL of a running sandbox to use (like --sandbox-url)", default="")
    parser.addini("sandbox_seed", "seed of the sandbox the plugin starts (like --sandbox-seed)", default="")
    parser.addini("sandbox_reset", "all or tenant (like --sandbox-reset)", default="all")
    parser.addini("sandbox_webhook_host", "host of the webhook receiver (like --sandbox-webhook-host)", default="127.0.0.1")
    parser.addini("sandbox_args", "more `sandbox serve` flags for the server the plugin starts", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*sources, tenant=None): load these scenarios' rules (file paths, YAML text or dicts) into the sandbox "
        "for this test only",
    )
    seed = config.getoption("sandbox_seed")
    if seed is None:
        seed = _int(config.getini("sandbox_seed") or os.environ.get("SANDBOX_SEED") or "", "sandbox_seed / SANDBOX_SEED")
    reset = config.getoption("sandbox_reset") or config.getini("sandbox_reset")
    if reset not in ("all", "tenant"):
        raise pytest.UsageError(f"sandbox_reset must be all or tenant, not {reset!r}")
    config.stash[_OPTIONS] = Options(
        url=config.getoption("sandbox_url") or config.getini("sandbox_url") or None,
        seed=seed,
        reset=cast(ResetScope, reset),
        webhook_host=config.getoption("sandbox_webhook_host") or config.getini("sandbox_webhook_host"),
        args=list(config.getini("sandbox_args")),
        admin_token=config.getoption("sandbox_admin_token") or None,
    )


def _int(text: str, name: str) -> int | None:
    try:
        return int(text) if text.strip() else None
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, not {text!r}") from None


@pytest.fixture(scope="session")
def sandbox_server(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The session's sandbox: started once (a subprocess on a free port), or the `--sandbox-url` one."""
    options = pytestconfig.stash[_OPTIONS]
    if options.url:
        try:
            server = _attach(options.url, options.admin_token)
        except SandboxError as exc:
            failure = f"--sandbox-url {options.url}: {exc}"
        else:
            failure = ""
            if options.seed is not None and server.seed != options.seed:
                failure = (
                    f"the sandbox at {server.url} runs with seed {server.seed}, not --sandbox-seed {options.seed}: "
                    f"start it with `sandbox serve --seed {options.seed}`"
                )
        if failure:
            pytest.fail(failure, pytrace=False)
    else:
        seed = options.seed if options.seed is not None else secrets.randbits(32)
        server = start(seed, tmp_path_factory.mktemp("sandbox") / "server.log", options.args)
        if options.admin_token:
            server.admin_token = options.admin_token
    pytestconfig.stash[_USED] = server
    try:
        yield server
    finally:
        server.stop()


def _attach(url: str, admin_token: str | None) -> SandboxServer:
    """`attach`, with the admin token from the first call (the health check) on."""
    if not admin_token:
        return attach(url)
    client = SandboxClient(url, admin_token=admin_token)
    server = SandboxServer(client.url, owned=False, seed=client.health()["seed"])
    server.admin_token = admin_token
    return server


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandbox_server: SandboxServer) -> Iterator[Sandbox]:
    """The sandbox for one test: reset before it, its endpoints, scenarios and clock changes undone after it."""
    options = request.config.stash[_OPTIONS]
    node = request.node
    search = [Path(node.path).parent, request.config.rootpath, Path.cwd()]
    box = Sandbox(sandbox_server, tenant_name(node.nodeid, node.name), options.reset, search)
    box.admin_token = sandbox_server.admin_token
    try:
        snapshot = begin(box)
    except SandboxError as exc:
        failure = f"{exc}{sandbox_server.postmortem()}"
    else:
        failure = ""
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        for marker in node.iter_markers(MARKER):  # closest first: a test's own rules win over its module's
            for source in marker.args:
                box.load_scenario(source, tenant=marker.kwargs.get("tenant"))
        yield box
    finally:
        problems = end(box, snapshot)
    if problems:
        pytest.fail("\n".join(problems) + sandbox_server.postmortem(), pytrace=False)


@pytest.fixture(scope="session")
def _sandbox_receiver_server(pytestconfig: pytest.Config) -> Iterator[ReceiverServer]:
    """One HTTP server for the session's receivers (starting and stopping one per test would cost tens of ms)."""
    server = ReceiverServer(pytestconfig.stash[_OPTIONS].webhook_host)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sandbox_webhooks(sandbox: Sandbox, _sandbox_receiver_server: ReceiverServer) -> Iterator[WebhookReceiver]:
    """A receiver registered for this test with every provider; each delivery's signature is checked."""
    tenants = sandbox.tenants if sandbox.scope == "tenant" else None
    receiver = WebhookReceiver(sandbox, server=_sandbox_receiver_server, tenants=tenants)
    try:
        yield receiver.start()
    finally:
        receiver.close()
    if receiver.rejected:
        pytest.fail("webhooks whose signature did not verify:\n" + "\n".join(f"  {r}" for r in receiver.rejected), pytrace=False)


@pytest.fixture(autouse=True)
def _sandbox_scenario_marker(request: pytest.FixtureRequest) -> None:
    """A test marked `sandbox_scenario` gets the `sandbox` fixture (which loads the scenarios) even without asking."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("sandbox")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    server = config.stash.get(_USED, None)
    if server is None:
        return
    where = "started by the plugin" if server.owned else "--sandbox-url"
    line = f"sandbox: {server.url} ({where}), seed {server.seed}"
    if server.owned:
        line += f"; the same ids again: --sandbox-seed {server.seed}"
    terminalreporter.write_line(line)
