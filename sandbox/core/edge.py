"""The one middleware every request passes: its timing for the request log, the body's read
deadline and the error router, always; the layers a feature adds (CORS, the control plane's
guard, the recorder, the durable store's turns, scenario faults) only when they concern it.

aiohttp runs each middleware as a coroutine of its own, and a request that no feature concerns
(a provider call with no `Origin`, no recording, no rules, the memory store) would pay for
every one of them just to be passed on. Here each layer says, with a cheap test, whether a
request concerns it; when none does, the handler runs straight under the error router. When one
does, the request takes every layer, in their order, exactly as separate middlewares would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.http import BodyTimeout, ErrorRouter
from sandbox.core.limits import ReadDeadline
from sandbox.core.requests import UNLOGGED, logged_body

# (request, status, response, start, the body as read) -> None: the request log (core/requests.py)
Note = Callable[[web.Request, int, "web.StreamResponse | None", float, "bytes | None"], None]


@dataclass(frozen=True, slots=True)
class Layer:
    middleware: Middleware
    concerns: Callable[[web.Request], bool]  # False: the layer would only pass this request on


def edge(
    errors: ErrorRouter, deadline: ReadDeadline, layers: Sequence[Layer], *, note: Note | None = None,
    on_request: Callable[[web.Request], None] | None = None,
) -> Middleware:
    """`layers` outermost first; the error router sits where it is among them (a layer too), and
    alone under the deadline when no layer concerns the request. `note` (the request log) sees
    the final answer and the whole duration; `on_request` runs first on every request."""
    middlewares = tuple(layer.middleware for layer in layers)
    tests = tuple(layer.concerns for layer in layers)

    async def through_layers(request: web.Request, handler: Any) -> web.StreamResponse:
        for middleware in reversed(middlewares):
            handler = partial(middleware, handler=handler)
        return await handler(request)

    async def answer(request: web.Request, handler: Any) -> web.StreamResponse:
        began = deadline.begin(request)
        try:
            for concerns in tests:
                if concerns(request):
                    return await through_layers(request, handler)
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - the router answers it, or raises it again
                return errors.answer(request, exc)
        except BodyTimeout as late:  # read by a layer above the error router
            return errors.respond(request, late.error())
        finally:
            deadline.end(request, began)

    async def noted(request: web.Request, status: int, response: web.StreamResponse | None, start: float) -> None:
        if note is not None and not request.get(UNLOGGED):
            raw = await logged_body(request, status) if request.body_exists else None
            note(request, status, response, start, raw)

    @web.middleware
    async def sandbox_edge(request: web.Request, handler: Any) -> web.StreamResponse:
        if on_request is not None:
            on_request(request)
        if note is None:
            return await answer(request, handler)
        start = time.perf_counter()
        try:
            response = await answer(request, handler)
        except web.HTTPException as exc:  # a redirect, or an error raised above the error router
            await noted(request, exc.status, exc, start)
            raise
        except Exception:
            await noted(request, 500, None, start)
            raise
        if request.body_exists:
            await noted(request, response.status, response, start)
        elif not request.get(UNLOGGED):
            note(request, response.status, response, start, None)
        return response

    return sandbox_edge
