"""Dino (dino.id): governed purchase intents for AI agents."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime
from sandbox.providers.dino import routes
from sandbox.providers.dino.auth import authenticator
from sandbox.providers.dino.errors import DINO_ERRORS
from sandbox.providers.dino.service import DinoService


class Dino:
    name = "dino"
    webhook_scheme = "dino"  # see sandbox.core.webhooks.signing
    prefixes = ("/v1/", "/v1")
    style = DINO_ERRORS

    def routes(self, runtime: Runtime) -> list[web.RouteDef]:
        api = ProviderApi(runtime, self.name, authenticator(runtime.store), self.style)
        return routes.routes(api, DinoService(runtime))
