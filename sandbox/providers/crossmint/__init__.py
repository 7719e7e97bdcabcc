"""Crossmint (crossmint.com): agentic order intents, agents, payment methods and enrollment.

Verification is delegated to the Basis Theory verification machine
(`sandbox.providers.basistheory.verification`), the one documented seam between providers.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime
from sandbox.providers.crossmint import routes
from sandbox.providers.crossmint.auth import authenticate
from sandbox.providers.crossmint.errors import CROSSMINT_ERRORS
from sandbox.providers.crossmint.service import CrossmintService


class Crossmint:
    name = "crossmint"
    webhook_scheme = "svix"  # see sandbox.core.webhooks.signing
    prefixes = ("/api/",)
    style = CROSSMINT_ERRORS

    def routes(self, runtime: Runtime) -> list[web.RouteDef]:
        api = ProviderApi(runtime, self.name, authenticate, self.style)
        return routes.routes(api, CrossmintService(runtime))
