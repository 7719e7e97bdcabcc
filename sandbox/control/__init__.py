"""The provider-neutral control plane under /_sandbox/: health, reset, clock, events, webhooks,
scenarios, recording and the request log. Each provider brings its own operator routes and pages."""

from __future__ import annotations

from aiohttp import web

from sandbox.control import openapi, requests, scenarios, system, webhooks
from sandbox.control.errors import CONTROL_ERRORS
from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime

PREFIXES = ("/_sandbox/", "/_sandbox")
style = CONTROL_ERRORS


def operator_api(runtime: Runtime) -> ProviderApi:
    """The API every operator route is served through, the providers' included."""
    return ProviderApi(runtime, "_sandbox", lambda request: "operator", CONTROL_ERRORS)


def routes(api: ProviderApi) -> list[web.RouteDef]:
    return system.routes(api) + webhooks.routes(api) + scenarios.routes(api) + requests.routes(api) + openapi.routes(api)
