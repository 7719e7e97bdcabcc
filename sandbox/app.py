"""`create_app(settings)`: the providers and the control plane on one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from sandbox import control
from sandbox.config import ConfigError, Settings
from sandbox.core.clock import iso
from sandbox.core.faults import fault_middleware
from sandbox.core.recording import record
from sandbox.core.http import ErrorRouter, cors
from sandbox.core.scenarios.loader import ScenarioError, load
from sandbox.core.runtime import RUNTIME, SYSTEM, Runtime
from sandbox.providers import Provider
from sandbox.providers.basistheory import BasisTheoryAi
from sandbox.providers.btplatform import BasisTheoryPlatform
from sandbox.providers.crossmint import Crossmint
from sandbox.providers.dino import Dino


def providers() -> list[Provider]:
    return [Dino(), Crossmint(), BasisTheoryAi(), BasisTheoryPlatform()]


async def _deliver_webhooks(app: web.Application):
    """Runs the outbox for the app's lifetime (aiohttp's cleanup context)."""
    task = asyncio.get_running_loop().create_task(app[RUNTIME].outbox.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _register_endpoints(runtime: Runtime) -> None:
    """`--webhook provider=url` endpoints, so CI can wire webhooks without a call."""
    for spec in runtime.settings.webhooks:
        provider, _, url = spec.partition("=")
        if provider not in runtime.provider_names:
            raise ConfigError(f"--webhook {spec}: unknown provider {provider!r}; one of {', '.join(runtime.provider_names)}")
        runtime.endpoints.add(provider, url, iso(runtime.clock.now()))


async def _save_recording(app: web.Application) -> None:
    """`--record FILE`: the requests served, as a replayable scenario, written at shutdown."""
    runtime = app[RUNTIME]
    if runtime.recorder is not None:
        Path(runtime.settings.record).write_text(runtime.recorder.to_yaml())


def _load_scenarios(runtime: Runtime) -> None:
    """`--scenario FILE`: its rules apply to every tenant from the start."""
    for path in runtime.settings.scenarios:
        try:
            loaded = load(path)
        except (ScenarioError, OSError) as exc:
            raise ConfigError(f"--scenario {path}: {exc}") from None
        runtime.rules.load(runtime.ids.ulid("scn", SYSTEM), loaded.scenario.name, loaded.scenario.rules)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = Runtime.build(settings)
    errors = ErrorRouter(fallback=control.style)
    app = web.Application(
        middlewares=[cors, record, errors.middleware(), fault_middleware(errors)], client_max_size=settings.max_body_bytes
    )
    app[RUNTIME] = runtime
    for provider in providers():
        runtime.provider_names.append(provider.name)
        runtime.outbox.schemes[provider.name] = provider.webhook_scheme
        errors.add(provider.prefixes, provider.style)
        app.add_routes(provider.routes(runtime))
    errors.add(control.PREFIXES, control.style)
    app.add_routes(control.routes(runtime))
    _register_endpoints(runtime)
    _load_scenarios(runtime)
    app.cleanup_ctx.append(_deliver_webhooks)
    if settings.record:
        runtime.start_recording()
        app.on_cleanup.append(_save_recording)
    return app
