"""The Basis Theory platform API (api.basistheory.com): card tokens and agentic enrollments,
agents, instructions and credentials, as the official SDK `basistheoryclient` calls them."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime
from sandbox.providers.btplatform import routes
from sandbox.providers.btplatform.errors import PROBLEM_DETAILS
from sandbox.providers.btplatform.service import BasisTheoryPlatformService


class BasisTheoryPlatform:
    name = "btplatform"
    webhook_scheme = "bt"  # BT-SIGNATURE: see sandbox.core.webhooks.signing
    prefixes = ("/tokens", "/agentic/", "/3ds/", "/webhooks", "/ping")
    style = PROBLEM_DETAILS

    def routes(self, runtime: Runtime) -> list[web.RouteDef]:
        api = ProviderApi(runtime, self.name, routes.authenticate, self.style, idempotency_header="BT-IDEMPOTENCY-KEY")
        return routes.routes(api, BasisTheoryPlatformService(runtime))
