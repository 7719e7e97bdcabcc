"""`create_app(settings)`: the providers and the control plane on one aiohttp application."""

from __future__ import annotations

from aiohttp import web

from sandbox import control
from sandbox.config import Settings
from sandbox.core.http import ErrorRouter, cors
from sandbox.core.runtime import RUNTIME, Runtime
from sandbox.providers import Provider
from sandbox.providers.basistheory import BasisTheoryAi
from sandbox.providers.crossmint import Crossmint
from sandbox.providers.dino import Dino


def providers() -> list[Provider]:
    return [Dino(), Crossmint(), BasisTheoryAi()]


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = Runtime.build(settings)
    errors = ErrorRouter(fallback=control.style)
    app = web.Application(middlewares=[cors, errors.middleware()], client_max_size=settings.max_body_bytes)
    app[RUNTIME] = runtime
    for provider in providers():
        runtime.provider_names.append(provider.name)
        errors.add(provider.prefixes, provider.style)
        app.add_routes(provider.routes(runtime))
    errors.add(control.PREFIXES, control.style)
    app.add_routes(control.routes(runtime))
    return app
