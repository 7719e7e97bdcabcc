"""HTTP faults scripted by scenario rules (`on: request`): status, latency, dropped connection.

The check is one dictionary lookup when no scenario is loaded, so the hot path stays lean.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.http import ErrorRouter, json_response
from sandbox.core.runtime import RUNTIME


_PROJECT = re.compile(r"^/projects/([^/]+)/")
_CROSSMINT_KEY = re.compile(r"^(?:ck|sk)_[a-z]+_(.+)$")


def tenant_of(request: web.Request) -> str | None:
    """The tenant a request acts for, read before any provider authenticates it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if token.startswith("din_"):
        return token.strip()
    key = _CROSSMINT_KEY.match(request.headers.get("X-API-KEY", ""))
    if key:
        return key.group(1)
    project = _PROJECT.match(request.path)
    if project:
        return project.group(1)
    return request.headers.get("BT-API-KEY") or None


def fault_middleware(router: ErrorRouter):
    @web.middleware
    async def inject_faults(request: web.Request, handler: Any) -> web.StreamResponse:
        rules = request.app[RUNTIME].rules
        if not rules or request.path.startswith("/_sandbox"):
            return await handler(request)
        context = {"method": request.method, "path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        outcome = rules.decide(None, "request", tenant_of(request), context)
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
