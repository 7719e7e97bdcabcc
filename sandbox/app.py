"""`create_app(settings)`: the providers and the control plane on one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from aiohttp import web

from sandbox import control
from sandbox.config import ConfigError, Settings
from sandbox.control.recording import record
from sandbox.core.clock import iso
from sandbox.core.faults import fault_middleware
from sandbox.core.http import ErrorRouter, cors
from sandbox.core.registry import Provider
from sandbox.core.requests import request_middleware
from sandbox.core.runtime import RUNTIME, SYSTEM, Runtime
from sandbox.core.scenarios.loader import ScenarioError, load
from sandbox.core.scenarios.rules import OutcomeCatalog
from sandbox.providers.basistheory_ai import BasisTheoryAi
from sandbox.providers.basistheory_ai.auth import JwtSettings
from sandbox.providers.basistheory_platform import BasisTheoryPlatform
from sandbox.providers.crossmint import Crossmint
from sandbox.providers.dino import Dino
from sandbox.providers.dino.models import DinoSettings


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
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(runtime.outbox.run()), loop.create_task(runtime.scheduler.run())]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _register_endpoints(runtime: Runtime, specs: Iterable[str]) -> None:
    """`--webhook provider=url` endpoints, so CI can wire webhooks without a call."""
    for spec in specs:
        provider, _, url = spec.partition("=")
        if provider not in runtime.providers:
            raise ConfigError(f"--webhook {spec}: unknown provider {provider!r}; one of {', '.join(runtime.providers.names)}")
        runtime.endpoints.add(provider, url, iso(runtime.clock.now()))


def _load_scenarios(runtime: Runtime, paths: Iterable[str]) -> None:
    """`--scenario FILE`: its rules apply to every tenant from the start."""
    for path in paths:
        try:
            loaded = load(path, runtime.catalog())
        except (ScenarioError, OSError) as exc:
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
    logged = request_middleware(runtime)  # outermost: it sees the final answer and the whole duration
    app = web.Application(
        middlewares=[*([logged] if logged else []), cors, record, errors.middleware(), fault_middleware(errors)],
        client_max_size=settings.max_body_bytes,
    )
    app[RUNTIME] = runtime
    operator = control.operator_api(runtime)
    routes: list[web.RouteDef] = []
    for provider in providers(settings):
        runtime.providers.register(provider)
        errors.add(provider.prefixes, provider.style)
        routes += provider.mount(runtime, operator)
    errors.add(control.PREFIXES, control.style)
    app.add_routes(_unique(routes + control.routes(operator)))
    _register_endpoints(runtime, settings.webhooks)
    _load_scenarios(runtime, settings.scenarios)
    app.cleanup_ctx.append(_background)
    if settings.record:
        runtime.start_recording()
        app.on_cleanup.append(_save_recording(settings.record))
    return app


def _save_recording(path: str):
    async def save(app: web.Application) -> None:
        """`--record FILE`: the requests served, as a replayable scenario, written at shutdown."""
        recorder = app[RUNTIME].recorder
        if recorder is not None:
            Path(path).write_text(recorder.to_yaml())

    return save
