"""HTTP faults scripted by scenario rules (`on: request`): status, latency, dropped connection.

The check is one truth test when no scenario is loaded, so the hot path stays lean. The
tenant a rule is scoped to is read by the provider that owns the path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.http import ErrorRouter, json_response
from sandbox.core.runtime import RUNTIME


def fault_middleware(router: ErrorRouter) -> Middleware:
    @web.middleware
    async def inject_faults(request: web.Request, handler: Any) -> web.StreamResponse:
        runtime = request.app[RUNTIME]
        if not runtime.rules:
            return await handler(request)
        owner = runtime.providers.owner(request.path)
        if owner is None:  # faults are for provider routes only, never the control plane
            return await handler(request)
        context = {"method": request.method, "path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        outcome = runtime.rules.decide(None, "request", owner.tenant_of(request), context)
        if outcome is None:
            return await handler(request)
        fault = outcome.fault
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)  # the fault itself is a delay
        if fault.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=503)  # never reaches the closed connection
        if fault.status is None:
            return await handler(request)
        if fault.body is not None:
            return json_response(fault.body, fault.status)
        return router.respond(request, SandboxError(ErrorKind.INTERNAL, "Fault injected by a sandbox scenario", status=fault.status))

    return inject_faults
