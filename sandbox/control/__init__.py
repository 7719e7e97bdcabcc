"""The control plane under /_sandbox/: health, reset, clock, events and operator actions."""

from __future__ import annotations

from aiohttp import web

from sandbox.control import basistheory, crossmint, dino, pages, scenarios, system, webhooks
from sandbox.control.errors import CONTROL_ERRORS
from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime

PREFIXES = ("/_sandbox/", "/_sandbox")
style = CONTROL_ERRORS


def routes(runtime: Runtime) -> list[web.RouteDef]:
    api = ProviderApi(runtime, "_sandbox", lambda request: "operator", CONTROL_ERRORS)
    return (
        system.routes(api) + webhooks.routes(api) + scenarios.routes(api) + dino.routes(api) + crossmint.routes(api)
        + pages.routes(runtime) + basistheory.routes(runtime)
    )
