"""Dino (dino.id): governed spend for AI agents: spend requests, purchase (checkout) intents, accounts."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import ProviderApi
from sandbox.core.idempotency import UNSAVED_STATUSES
from sandbox.core.registry import as_sent
from sandbox.core.runtime import Runtime
from sandbox.providers.dino import control, routes
from sandbox.providers.dino.auth import authenticator, tenant_of
from sandbox.providers.dino.errors import DINO_ERRORS
from sandbox.providers.dino.events import SIGNER
from sandbox.providers.dino.models import DinoSettings
from sandbox.providers.dino.scenarios import OUTCOMES
from sandbox.providers.dino.service import DinoService


class Dino:
    name = "dino"
    prefixes = ("/v1/", "/v1")
    style = DINO_ERRORS
    signer = SIGNER
    outcomes = OUTCOMES
    recorded_headers = ("authorization", "idempotency-key")
    secret_headers = ("authorization",)  # redacted in the request log
    open_pages = (control.APPROVALS,)
    # Dino tells a client short of funds to top up and retry with the same key: 402 is not kept.
    unsaved_statuses = UNSAVED_STATUSES | {402}

    def __init__(self, settings: DinoSettings | None = None) -> None:
        self.settings = settings or DinoSettings()

    tenant_named = staticmethod(as_sent)
    tenant_of = staticmethod(tenant_of)

    def mount(self, runtime: Runtime, operator: ProviderApi) -> list[web.RouteDef]:
        service = DinoService(runtime, self.settings)
        runtime.scheduler.handle(self.name, service.on_timer)
        api = ProviderApi(runtime, self.name, authenticator(runtime.store), self.style, unsaved_statuses=self.unsaved_statuses)
        return routes.routes(api, service) + control.routes(operator, service)
