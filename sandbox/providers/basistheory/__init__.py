"""Basis Theory AI (basistheory.ai): agentic credentials, payment methods and verification."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime
from sandbox.providers.basistheory import routes
from sandbox.providers.basistheory.auth import JwtAuthenticator
from sandbox.providers.basistheory.errors import BT_AI_ERRORS
from sandbox.providers.basistheory.service import BasisTheoryAiService


class BasisTheoryAi:
    name = "basistheory"
    webhook_scheme = "standard"  # see sandbox.core.webhooks.signing
    prefixes = ("/projects/",)
    style = BT_AI_ERRORS

    def routes(self, runtime: Runtime) -> list[web.RouteDef]:
        api = ProviderApi(runtime, self.name, JwtAuthenticator(runtime.settings), self.style)
        return routes.routes(api, BasisTheoryAiService(runtime))
