"""`create_app(settings)`: the providers and the control plane on one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from aiohttp import web

from sandbox import control
from sandbox.config import ConfigError, Settings
from sandbox.control.recording import record_middleware
from sandbox.core.clock import iso
from sandbox.core.edge import Edge, Layer
from sandbox.core.errors import SandboxError
from sandbox.core.faults import fault_middleware
from sandbox.core.http import ERRORS, ErrorRouter, cors
from sandbox.core.limits import ReadDeadline, SandboxRunner
from sandbox.core.pages import FRAME_ANCESTORS, frame_ancestors
from sandbox.core.persistence import BackendUnavailable, Persistence, backend_for
from sandbox.core.registry import Provider
from sandbox.core.requests import request_notes
from sandbox.core.runtime import RUNTIME, SYSTEM, Runtime
from sandbox.core.scenarios.loader import ScenarioError, load
from sandbox.core.scenarios.rules import OutcomeCatalog, TooManyRules
from sandbox.core.security import ADDRESSES, Addresses, ControlGuard, Origins
from sandbox.core.webhooks.targets import WebhookTargets
from sandbox.demo import plan as demo_plan
from sandbox.providers.basistheory_ai import BasisTheoryAi
from sandbox.providers.basistheory_ai.auth import JwtSettings
from sandbox.providers.basistheory_platform import BasisTheoryPlatform
from sandbox.providers.crossmint import Crossmint
from sandbox.providers.dino import Dino
from sandbox.providers.dino.models import DinoSettings

CONTROL = "/_sandbox"
SETTINGS = web.AppKey("settings", Settings)
PERSISTENCE = web.AppKey("persistence", Persistence)

def providers(settings: Settings | None = None) -> list[Provider]:
    """Every emulated provider, each with its own settings: one line per provider."""
    settings = settings or Settings()
    return [
        Dino(DinoSettings(settings.dino_approval_threshold_cents, settings.dino_wallet_start_cents)),
        Crossmint(),
        BasisTheoryAi(JwtSettings(settings.bt_jwks, settings.bt_jwt_public_key)),
        BasisTheoryPlatform(),
    ]


def catalog() -> OutcomeCatalog:
    """What scenario rules may script, for tools that validate scenarios without a server."""
    return OutcomeCatalog.of(providers())


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Runs the outbox and the scheduler for the app's lifetime (aiohttp's cleanup context)."""
    runtime = app[RUNTIME]
    persistence = app.get(PERSISTENCE)
    if persistence is not None:
        await _restore(app, persistence)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(runtime.outbox.run()), loop.create_task(runtime.scheduler.run())]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if persistence is not None:
        await persistence.stop()


async def _restore(app: web.Application, persistence: Persistence) -> None:
    """Take up the state the backend holds; on a resumed state, add the command line's webhook
    endpoints and scenarios only where the state lacks them, so restarts do not repeat them."""
    runtime, settings = app[RUNTIME], app[SETTINGS]

    def configure(resumed: bool) -> None:
        if resumed:
            _register_endpoints(runtime, settings.webhooks, resumed=True)
            _load_scenarios(runtime, settings.scenarios, resumed=True)

    try:
        await persistence.start(configure)
    except BackendUnavailable as exc:  # a directory in use, Redis not reachable
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot open the state in {persistence.backend.describe()}: {exc}") from None


def _register_endpoints(runtime: Runtime, specs: Iterable[str], resumed: bool = False) -> None:
    """`--webhook provider=url` endpoints, so CI can wire webhooks without a call."""
    for spec in specs:
        provider, _, url = spec.partition("=")
        if resumed and any(e.provider == provider and e.url == url and e.tenant is None for e in runtime.endpoints.all()):
            continue
        if provider not in runtime.providers:
            raise ConfigError(f"--webhook {spec}: unknown provider {provider!r}; one of {', '.join(runtime.providers.names)}")
        try:
            runtime.endpoints.add(provider, url, iso(runtime.clock.now()))
        except SandboxError as error:
            raise ConfigError(f"--webhook {spec}: {error.fields[0].message if error.fields else error.message}") from None


def _load_scenarios(runtime: Runtime, paths: Iterable[str], resumed: bool = False) -> None:
    """`--scenario FILE`: its rules apply to every tenant from the start."""
    for path in paths:
        try:
            loaded = load(path, runtime.catalog())
        except (ScenarioError, OSError) as exc:
            raise ConfigError(f"--scenario {path}: {exc}") from None
        if resumed and any(s.name == loaded.scenario.name and s.tenant is None for s in runtime.rules.all()):
            continue
        try:
            runtime.rules.check_room(len(loaded.scenario.rules))  # before an id is drawn
        except TooManyRules as exc:
            raise ConfigError(f"--scenario {path}: {exc}") from None
        runtime.rules.load(runtime.ids.ulid("scn", SYSTEM), loaded.scenario.name, loaded.scenario.rules)


def _unique(routes: list[web.RouteDef]) -> list[web.RouteDef]:
    """One route per method and path; two providers may declare the same core page."""
    seen: dict[tuple[str, str], object] = {}
    kept = []
    for route in routes:
        key = (route.method, route.path)
        if key in seen:
            if seen[key] is not route.handler:
                raise ValueError(f"{route.method} {route.path} is declared twice with different handlers")
            continue
        seen[key] = route.handler
        kept.append(route)
    return kept


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = Runtime.build(settings.core())
    errors = ErrorRouter(fallback=control.style)
    addresses = Addresses(settings.host, settings.port, settings.public_url)
    runtime.endpoints.targets = WebhookTargets(addresses, settings.webhook_allow)
    origins = Origins(settings.cors_origins, loopback=settings.cors_loopback)
    emulated = providers(settings)
    guard = ControlGuard(  # a provider's human-step pages need no admin token (docs/security.md)
        CONTROL, settings.token, addresses, errors, open_routes=[page for provider in emulated for page in provider.open_pages],
        secure_cookie=(settings.public_url or "").lower().startswith("https:"),
    )
    persistence = Persistence(runtime, backend_for(settings.store_url)) if settings.store_url else None
    # Inside the error shapes (a failed commit answers in the provider's shape), around the scenario
    # faults (their counters are state) and the handlers.
    turns = [Layer(persistence.middleware(), lambda request: True)] if persistence is not None else []
    layers = [
        Layer(cors(origins.allows, closed=(CONTROL,)), lambda request: "Origin" in request.headers),
        Layer(guard.middleware(), guard.concerns), Layer(record_middleware(errors), lambda request: runtime.recorder is not None),
        Layer(errors.middleware(), lambda request: False), *turns, Layer(fault_middleware(errors), lambda request: bool(runtime.rules)),
    ]
    # Every route through the edge: the request log outermost (it sees the final answer and the
    # whole duration), then the read deadline, above every layer that reads the body.
    front = Edge(
        errors, ReadDeadline(settings.read_timeout_seconds), layers, note=request_notes(runtime),
        on_request=addresses.note_connection,
    )
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[RUNTIME] = runtime
    app[SETTINGS] = settings
    if persistence is not None:
        app[PERSISTENCE] = persistence
    app[ADDRESSES] = addresses
    app[FRAME_ANCESTORS] = frame_ancestors(settings.cors_origins, loopback=settings.cors_loopback)  # who may frame the pages
    app[ERRORS] = errors  # parser rejects answer in the owning provider's shape too (core/limits.py)
    operator = control.operator_api(runtime)
    routes: list[web.RouteDef] = guard.routes(operator)
    for provider in emulated:
        runtime.providers.register(provider)
        errors.add(provider.prefixes, provider.style)
        routes += provider.mount(runtime, operator)
    errors.add(control.PREFIXES, control.style)
    app.add_routes(front.routes(_unique(routes + control.routes(operator, demo_plan(settings)))))
    _register_endpoints(runtime, settings.webhooks)
    _load_scenarios(runtime, settings.scenarios)
    app.cleanup_ctx.append(_background)
    if settings.record:
        runtime.start_recording()
        app.on_cleanup.append(_save_recording(settings.record))
    return app


def runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """How `sandbox serve` runs the app: the read deadline and the keep-alive bound (core/limits.py)."""
    return SandboxRunner(
        app, access_log=None, read_timeout=settings.read_timeout_seconds, keepalive_timeout=settings.keepalive_timeout_seconds,
    )


def bound(run: web.AppRunner) -> None:
    """Tell the app where it listens, once its sockets are bound (the port may have been 0)."""
    run.app[ADDRESSES].bound(run.addresses)


def _save_recording(path: str):
    async def save(app: web.Application) -> None:
        """`--record FILE`: the requests served, as a replayable scenario, written at shutdown."""
        recorder = app[RUNTIME].recorder
        if recorder is None:
            return
        import yaml  # only a recording pays for it (start-up time)

        try:  # a write that fails at shutdown is said, not a traceback and a failed exit
            Path(path).write_text(recorder.to_yaml())
        except (OSError, yaml.YAMLError) as exc:
            logging.getLogger("sandbox").error("could not write the recording to %s: %s", path, exc)

    return save
