"""Crossmint (crossmint.com): agentic order intents, agents, payment methods and enrollment.

Order intents verify through the card networks' ceremony (`sandbox.core.verification`), and
their instructions are served by whichever provider serves instructions, through the seam
`runtime.instructions` (`sandbox.core.seams`).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime
from sandbox.core.verification import Subject
from sandbox.core.webhooks.signing import SVIX
from sandbox.providers.crossmint import control, routes
from sandbox.providers.crossmint.auth import authenticate, project_of_key, tenant_of
from sandbox.providers.crossmint.errors import CROSSMINT_ERRORS
from sandbox.providers.crossmint.scenarios import OUTCOMES
from sandbox.providers.crossmint.service import CrossmintService


class Crossmint:
    name = "crossmint"
    prefixes = ("/api/",)
    style = CROSSMINT_ERRORS
    signer = SVIX  # Crossmint's webhooks are sent by Svix
    outcomes = OUTCOMES
    recorded_headers = ("x-api-key", "authorization", "idempotency-key")
    secret_headers = ("x-api-key", "authorization")  # redacted in the request log
    open_pages = (control.VERIFICATION_PAGE,)

    @staticmethod
    def tenant_named(text: str) -> str:
        """A key (`sk_staging_demo`) stands for its project (`demo`), which is the tenant."""
        return project_of_key(text) or text

    tenant_of = staticmethod(tenant_of)

    def __init__(self) -> None:
        self._service: CrossmintService | None = None

    def mount(self, runtime: Runtime, operator: ProviderApi) -> list[web.RouteDef]:
        service = self._service = CrossmintService(runtime)
        runtime.scheduler.handle(self.name, service.on_timer)
        runtime.instructions.provide(service.external_instruction)
        api = ProviderApi(runtime, self.name, authenticate, self.style)
        return routes.routes(api, service) + control.routes(operator, service)

    def verification_subject(self, reference: str) -> Subject | None:
        """An order intent the passkey and Mastercard pages are about (`core.verification.find_subject`)."""
        return control.describe(self._service, reference) if self._service is not None else None
