"""The Basis Theory platform API (api.basistheory.com): card tokens, agentic enrollments, agents,
instructions and credentials, 3-D Secure and webhooks, as the official SDK `basistheoryclient`
calls them. Its sibling, Basis Theory AI, is `sandbox.providers.basistheory_ai`."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.registry import as_sent
from sandbox.core.runtime import Runtime
from sandbox.core.verification import Subject
from sandbox.providers.basistheory_platform import ceremony, control, routes
from sandbox.providers.basistheory_platform.auth import authenticate, tenant_of
from sandbox.providers.basistheory_platform.errors import PROBLEM_DETAILS
from sandbox.providers.basistheory_platform.events import PROVIDER, BtSigner
from sandbox.providers.basistheory_platform.scenarios import OUTCOMES
from sandbox.providers.basistheory_platform.service import BasisTheoryPlatformService
from sandbox.providers.basistheory_platform.threeds import CHALLENGE_PAGE, ThreeDs


class BasisTheoryPlatform:
    name = PROVIDER
    # Every top-level path of api.basistheory.com (those of basistheoryclient 7.4.0 and
    # basis-theory-js 4.30.2), served or not: an unknown one still answers in problem details.
    prefixes = (
        "/tokens", "/v2/", "/agentic", "/3ds", "/webhooks", "/ping", "/tokenize", "/detokenize", "/token-intents",
        "/applications", "/application-templates", "/tenants", "/logs", "/reactor-formulas",
        "/reactors", "/permissions", "/proxies", "/proxy", "/sessions", "/events", "/enrichments", "/keys",
        "/network-tokens", "/account-updater", "/apple-pay", "/google-pay", "/roles", "/documents",
    )
    style = PROBLEM_DETAILS
    outcomes = OUTCOMES
    recorded_headers = ("bt-api-key", "bt-idempotency-key")
    secret_headers = ("bt-api-key",)  # redacted in the request log
    # The 3-D Secure challenge, passkey and Mastercard pages, and the public key that checks
    # BT-SIGNATUREs (public as Basis Theory's own is).
    open_pages = (
        CHALLENGE_PAGE + "{id}", ceremony.PASSKEY_PAGE, ceremony.REDIRECT_PAGE + "{id}", control.KEY_PATH,
    )

    def __init__(self) -> None:
        self.signer = BtSigner()  # its RSA key belongs to this sandbox alone
        self._runtime: Runtime | None = None

    tenant_named = staticmethod(as_sent)
    tenant_of = staticmethod(tenant_of)

    def mount(self, runtime: Runtime, operator: ProviderApi) -> list[web.RouteDef]:
        self._runtime = runtime
        service = BasisTheoryPlatformService(runtime)
        runtime.scheduler.handle(self.name, service.on_timer)
        threeds = ThreeDs(runtime, service._tenant_id, service.hooks)
        # BT-IDEMPOTENCY-KEY on every POST and PATCH; `/tokens/` is `/tokens` (basis-theory-js sends both).
        api = ProviderApi(runtime, self.name, authenticate, self.style, idempotency_header="BT-IDEMPOTENCY-KEY",
                          idempotent_methods=frozenset({"POST", "PATCH"}), trailing_slash=True)
        return routes.routes(api, service, threeds) + control.routes(operator, threeds, self.signer)

    def verification_subject(self, reference: str) -> Subject | None:
        """An enrollment or instruction the passkey and Mastercard pages are about (`core.verification.find_subject`)."""
        return ceremony.subject(self._runtime, reference) if self._runtime is not None else None
