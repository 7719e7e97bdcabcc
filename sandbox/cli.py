"""`sandbox serve`: run the emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys

from pydantic import ValidationError

from sandbox import __version__
from sandbox.config import ConfigError, Settings, unknown_variables


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox", description="Local emulator of agentic-payment providers")
    parser.add_argument("--version", action="version", version=f"sandbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve every provider and the control plane")
    # Defaults come from Settings (and SANDBOX_* variables); only given flags override them.
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1, SANDBOX_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8750, SANDBOX_PORT)")
    serve.add_argument("--seed", type=int, default=None, help="fix ids and secrets (SANDBOX_SEED)")
    serve.add_argument("--clock", default=None, help="freeze the clock at an ISO-8601 instant (SANDBOX_CLOCK)")
    serve.add_argument("--public-url", default=None, help="base URL for links handed out (SANDBOX_PUBLIC_URL)")
    serve.add_argument("--log-level", default=None, help="debug, info (a line per request), warning, error (SANDBOX_LOG_LEVEL)")
    serve.add_argument("--log-format", default=None, help="text or json: one JSON object per line (SANDBOX_LOG_FORMAT)")
    serve.add_argument(
        "--request-log-size", type=int, default=None, metavar="N",
        help="requests GET /_sandbox/requests keeps (default 1000; 0 turns it off; SANDBOX_REQUEST_LOG_SIZE)",
    )
    serve.add_argument(
        "--webhook", action="append", dest="webhooks", default=None, metavar="PROVIDER=URL",
        help="send PROVIDER's events to URL; repeatable (SANDBOX_WEBHOOKS, comma-separated)",
    )
    serve.add_argument(
        "--webhook-retry-schedule", default=None, metavar="S,S,…",
        help="seconds between delivery attempts (default Svix's 5,300,1800,7200,18000,36000,36000)",
    )
    serve.add_argument(
        "--scenario", action="append", dest="scenarios", default=None, metavar="FILE",
        help="load a scenario's outcome rules at start; repeatable (SANDBOX_SCENARIOS)",
    )
    serve.add_argument("--record", default=None, metavar="FILE", help="write the requests served as a replayable scenario at shutdown")
    serve.add_argument("--webhook-timeout", dest="webhook_timeout_seconds", type=float, default=None, help="seconds per attempt (10)")
    serve.add_argument("--bt-jwks", default=None, help="JWKS file or URL: verify Basis Theory AI JWTs strictly (SANDBOX_BT_JWKS)")
    serve.add_argument(
        "--bt-jwt-public-key", default=None, help="PEM public key file: verify Basis Theory AI JWTs strictly (SANDBOX_BT_JWT_PUBLIC_KEY)"
    )
    # Safety: docs/security.md.
    serve.add_argument(
        "--admin-token", default=None, metavar="TOKEN",
        help="every /_sandbox/ route needs it (Authorization: Bearer, X-Sandbox-Admin-Token or /_sandbox/login); "
        "prefer SANDBOX_ADMIN_TOKEN, which `ps` does not show",
    )
    serve.add_argument(
        "--cors-origin", action="append", dest="cors_origins", default=None, metavar="ORIGIN",
        help="a browser origin allowed to call the providers' APIs, e.g. https://app.example.com or http://*.test:*; "
        "repeatable (SANDBOX_CORS_ORIGINS, comma-separated); loopback origins are allowed unless --no-cors-loopback",
    )
    serve.add_argument(
        "--cors-loopback", action=argparse.BooleanOptionalAction, default=None,
        help="allow http(s)://localhost, 127.0.0.1 and [::1] on any port (default on; SANDBOX_CORS_LOOPBACK)",
    )
    serve.add_argument(
        "--webhook-allow", action="append", dest="webhook_allow", default=None, metavar="HOST",
        help="a host webhooks may go to (hooks.example.com, *.internal, host:port, 10.0.0.0/8); repeatable "
        "(SANDBOX_WEBHOOK_ALLOW, comma-separated); default: any host but the sandbox itself",
    )
    serve.add_argument(
        "--read-timeout", dest="read_timeout_seconds", type=float, default=None, metavar="S",
        help="seconds a request's head, then its body, may take to arrive (default 30; SANDBOX_READ_TIMEOUT_SECONDS)",
    )
    serve.add_argument(
        "--data-dir", default=None, metavar="DIR",
        help="keep the state in DIR/sandbox.db (SQLite), so it survives restarts; one server per directory (SANDBOX_DATA_DIR)",
    )
    serve.add_argument(
        "--store", default=None, metavar="URL",
        help="redis://host:port/db: replicas share their state through one Redis (SANDBOX_STORE); docs/deployment.md",
    )
    serve.add_argument(
        "--demo", action="store_true", default=None,
        help="once listening, fill a few tenants of every provider with realistic objects made from the seed, through the "
        "providers' own APIs; see them at /_sandbox/ (SANDBOX_DEMO; docs/dashboard.md)",
    )
    serve.add_argument(
        "--keepalive-timeout", dest="keepalive_timeout_seconds", type=float, default=None, metavar="S",
        help="seconds an idle connection stays open (default 75; SANDBOX_KEEPALIVE_TIMEOUT_SECONDS)",
    )
    listen = commands.add_parser("listen", help="print the webhooks the sandbox sends (a local receiver)")
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--port", type=int, default=9000)
    listen.add_argument("--secret", default=None, help="the endpoint's whsec_… secret: check every signature")
    listen.add_argument("--status", type=int, default=200, help="the status to answer (e.g. 500 to watch retries)")
    listen.add_argument(
        "--bt-public-key", default=None, metavar="FILE|URL", help="PEM public key: check Basis Theory platform BT-SIGNATUREs"
    )
    listen.add_argument(
        "--sandbox", default=None, metavar="URL", help="check BT-SIGNATUREs with the key this sandbox serves (e.g. http://127.0.0.1:8750)"
    )
    replay = commands.add_parser("replay", help="run scenario files and check their expectations")
    replay.add_argument("files", nargs="+", metavar="FILE")
    replay.add_argument("--against", default=None, metavar="URL", help="a running sandbox (default: start one in-process)")
    replay.add_argument("--junit", default=None, metavar="PATH", help="also write a JUnit XML report")
    replay.add_argument(
        "--admin-token", default=None, metavar="TOKEN", help="the --against sandbox's admin token (default SANDBOX_ADMIN_TOKEN)",
    )
    scenarios = commands.add_parser("scenarios", help="work with scenario files")
    scenario_commands = scenarios.add_subparsers(dest="scenario_command", required=True)
    validate = scenario_commands.add_parser("validate", help="check scenario files; problems with file and line")
    validate.add_argument("files", nargs="+", metavar="FILE")
    scenario_commands.add_parser("schema", help="print the JSON Schema of scenario files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("replay", "scenarios"):
        from sandbox.replay import replay_files, validate_files

        if args.command == "replay":
            return replay_files(args.files, args.against, args.junit, admin_token=args.admin_token)
        if args.scenario_command == "schema":
            from sandbox.core.scenarios.model import json_schema

            print(json_schema())
            return 0
        return validate_files(args.files)
    if args.command == "listen":
        from sandbox.listen import listen

        return listen(args.host, args.port, args.secret, args.status, args.bt_public_key, args.sandbox)
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    for warning in unknown_variables(os.environ):
        print(f"sandbox: {warning}", file=sys.stderr)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            print(f"sandbox: invalid setting {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    if settings.record:  # written at shutdown: a path that cannot be written stops the start instead
        from sandbox.replay import unwritable

        problem = unwritable(settings.record)
        if problem:
            print(f"sandbox: --record {settings.record}: cannot write: {problem}", file=sys.stderr)
            return 2
    return serve(settings)


def _configure_logging(settings: Settings) -> None:
    from sandbox.core.requests import JsonLogFormatter

    handler = logging.StreamHandler()
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonLogFormatter() if settings.log_format == "json" else text)
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])


def serve(settings: Settings) -> int:
    _configure_logging(settings)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # uvloop is optional (e.g. on Windows)
        runner = asyncio.Runner()
    with runner:
        try:
            runner.run(_serve(settings))
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        except ConfigError as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # typically the port is taken
            print(f"sandbox: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0


async def _serve(settings: Settings) -> None:
    gc.disable()  # until gc.freeze() below: collecting what start-up builds (it all stays) took ~20-35 ms
    from aiohttp import web

    from sandbox.app import bound, create_app
    from sandbox.app import runner as app_runner
    from sandbox.core.runtime import RUNTIME

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signame in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, signame), stop.set)
    try:
        runner = app_runner(create_app(settings), settings)
        await runner.setup()
    finally:
        # What exists now (modules, models, routes) lives as long as the server: out of the cycle
        # collector's sight, so that each full collection scans only what requests made since (a full
        # collection of the ~70 000 objects of a started sandbox held the event loop for ~35 ms).
        gc.freeze()
        gc.enable()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        bound(runner)
        host, port = runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        for line in exposure_warning(settings, port):
            print(f"sandbox: WARNING: {line}", file=sys.stderr, flush=True)
        # Printed only once the socket listens, so scripts can wait for this line.
        print(f"sandbox {__version__} listening on http://{host}:{port} (seed {settings.effective_seed})", flush=True)
        runtime = runner.app[RUNTIME]
        for scenario in runtime.rules.all():
            print(f"scenario {scenario.id}: {scenario.name} ({len(scenario.rules)} rules)", flush=True)
        for endpoint in runtime.endpoints.all():
            print(f"webhook {endpoint.id}: {endpoint.provider} -> {endpoint.url} (secret {endpoint.secret})", flush=True)
        if settings.demo:
            await _demo_fill(settings, host, port)
        await stop.wait()
    finally:
        await runner.cleanup()


async def _demo_fill(settings: Settings, host: str, port: int) -> None:
    """`--demo`: the server fills itself through its own HTTP API (`POST /_sandbox/demo`), as a client would."""
    import aiohttp

    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    headers = {"X-Sandbox-Admin-Token": settings.token} if settings.token else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            async with session.post(f"http://{host}:{port}/_sandbox/demo", json={}, headers=headers) as resp:
                filled = await resp.json(content_type=None)
                if resp.status != 200:
                    raise RuntimeError(f"{resp.status}: {filled}")
    except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
        print(f"sandbox: the demo fill failed: {exc}", file=sys.stderr, flush=True)
        return
    tenants = ", ".join(f"{t['provider']}/{t['tenant']}" for t in filled["tenants"])
    print(f"demo: {filled['requests']} requests filled {len(filled['tenants'])} tenants ({tenants}); "
          f"see http://{host}:{port}/_sandbox/", flush=True)
    for failure in filled["failures"]:
        print(f"sandbox: demo request failed: {failure['method']} {failure['path']} -> {failure['status']}: {failure['body']}",
              file=sys.stderr, flush=True)


def is_loopback_host(host: str) -> bool:
    """127.0.0.1, ::1, localhost: reachable from this machine only."""
    from sandbox.core.security import ip_of, is_loopback_name

    ip = ip_of(host)
    return is_loopback_name(host) if ip is None else ip.is_loopback


def exposure_warning(settings: Settings, port: int) -> list[str]:
    """What `sandbox serve` says on stderr when it listens beyond this machine without an admin token."""
    if settings.token is not None or is_loopback_host(settings.host):
        return []
    where = settings.host or "every interface"
    return [
        f"listening on {where} (beyond this machine) with no admin token.",
        f"Anyone who can reach port {port} can read every tenant's events, webhook secrets and recorded requests,",
        "reset the sandbox, move its clock, load scenarios and approve payments through /_sandbox/.",
        "Set SANDBOX_ADMIN_TOKEN (or --admin-token), or listen on 127.0.0.1 (in a container: publish the port",
        "on the loopback only, docker run -p 127.0.0.1:8750:8750). See docs/security.md.",
    ]
