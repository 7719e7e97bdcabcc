"""The provider-neutral control plane under /_sandbox/: health, reset, clock, events, webhooks,
scenarios, recording, the request log, the objects held, the dashboard and the demo fill. Each
provider brings its own operator routes and pages."""

from __future__ import annotations

from aiohttp import web

from sandbox.control import dashboard, demo, objects, openapi, requests, scenarios, system, webhooks
from sandbox.control.errors import CONTROL_ERRORS
from sandbox.core.api import ProviderApi
from sandbox.core.runtime import Runtime

PREFIXES = ("/_sandbox/", "/_sandbox")
style = CONTROL_ERRORS


def operator_api(runtime: Runtime) -> ProviderApi:
    """The API every operator route is served through, the providers' included."""
    return ProviderApi(runtime, "_sandbox", lambda request: "operator", CONTROL_ERRORS, strict_query=True)


def routes(api: ProviderApi, demo_plan: demo.Plan | None = None) -> list[web.RouteDef]:
    """Every route of the control plane; the demo fill's only when the face gives it a plan."""
    filled = demo.routes(api, demo_plan) if demo_plan is not None else []
    return (
        system.routes(api) + webhooks.routes(api) + scenarios.routes(api) + requests.routes(api) + objects.routes(api)
        + dashboard.routes(api) + filled + openapi.routes(api)
    )
