"""Basis Theory AI (basistheory.ai): agentic credentials, payment methods and verification.

Its sibling, the Basis Theory platform API, is `sandbox.providers.basistheory_platform`.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.registry import as_sent
from sandbox.core.runtime import Runtime
from sandbox.core.verification import Subject
from sandbox.core.webhooks.signing import STANDARD_WEBHOOKS
from sandbox.providers.basistheory_ai import control, routes
from sandbox.providers.basistheory_ai.auth import JwtAuthenticator, JwtSettings, tenant_of
from sandbox.providers.basistheory_ai.errors import BT_AI_ERRORS
from sandbox.providers.basistheory_ai.scenarios import OUTCOMES
from sandbox.providers.basistheory_ai.service import BasisTheoryAiService


class BasisTheoryAi:
    name = "basistheory"
    prefixes = ("/projects/",)
    style = BT_AI_ERRORS
    signer = STANDARD_WEBHOOKS
    outcomes = OUTCOMES
    recorded_headers = ("authorization", "idempotency-key")
    secret_headers = ("authorization",)  # redacted in the request log
    open_pages = (control.VERIFICATION_PAGE,)

    def __init__(self, settings: JwtSettings | None = None) -> None:
        self.settings = settings or JwtSettings()
        self._service: BasisTheoryAiService | None = None

    tenant_named = staticmethod(as_sent)
    tenant_of = staticmethod(tenant_of)

    def mount(self, runtime: Runtime, operator: ProviderApi) -> list[web.RouteDef]:
        service = self._service = BasisTheoryAiService(runtime)
        runtime.scheduler.handle(self.name, service.on_timer)
        api = ProviderApi(runtime, self.name, JwtAuthenticator(self.settings), self.style)
        return routes.routes(api, service) + control.routes(operator, service)

    def verification_subject(self, reference: str) -> Subject | None:
        """A purchase intent the passkey page is about (`sandbox.core.verification.find_subject`)."""
        return control.describe(self._service, reference) if self._service is not None else None
