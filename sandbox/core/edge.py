"""What every request passes on its way to a handler: its timing for the request log, the body's
read deadline and the error router, always; the layers a feature adds (CORS, the control plane's
guard, the recorder, the durable store's turns, scenario faults) only when they concern it.

It wraps each route's handler rather than being an aiohttp middleware: aiohttp runs middlewares
through a chain of its own that costs a request about 4 µs even when the middleware only passes
it on (measured on a bare aiohttp server, docs/performance.md). A request no route matches takes
the catch-all route, the last one, which answers 404 or 405 through the same edge, so the
provider's error shape (and its "did you mean" hint) covers it too.

Each layer says, with a cheap test, whether a request concerns it; when none does, the handler
runs straight under the error router. When one does, the request takes every layer, in their
order, exactly as separate middlewares would.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any

import attr
from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.http import BodyTimeout, ErrorRouter
from sandbox.core.limits import ReadDeadline
from sandbox.core.requests import UNLOGGED, logged_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (request, status, response, start, the body as read) -> None: the request log (core/requests.py)
Note = Callable[[web.Request, int, "web.StreamResponse | None", float, "bytes | None"], None]
CATCH_ALL = r"/{unmatched:[\s\S]*}"  # any path, newlines included; its resource reads back as /{unmatched}


@dataclass(frozen=True, slots=True)
class Layer:
    middleware: Middleware
    concerns: Callable[[web.Request], bool]  # False: the layer would only pass this request on


class Edge:
    """`layers` outermost first; the error router sits where it is among them (a layer too), and
    alone under the deadline when no layer concerns the request. `note` (the request log) sees
    the final answer and the whole duration; `on_request` runs first on every request."""

    def __init__(
        self, errors: ErrorRouter, deadline: ReadDeadline, layers: Sequence[Layer], *, note: Note | None = None,
        on_request: Callable[[web.Request], None] | None = None,
    ) -> None:
        self.errors, self.deadline, self.note, self.on_request = errors, deadline, note, on_request
        self.middlewares = tuple(layer.middleware for layer in layers)
        self.tests = tuple(layer.concerns for layer in layers)

    def routes(self, routes: Sequence[web.RouteDef]) -> list[web.RouteDef]:
        """`routes`, each through the edge, then the catch-all."""
        wrapped = [attr.evolve(route, handler=self.wrap(route.handler)) for route in routes]
        return [*wrapped, _CatchAll("*", CATCH_ALL, self.wrap(unmatched), {})]

    def wrap(self, handler: Handler) -> Handler:
        answer, note, on_request = partial(self._answer, handler), self.note, self.on_request

        @wraps(handler)  # keeps what the handler carries (its API, core/api.py)
        async def through_edge(request: web.Request) -> web.StreamResponse:
            if on_request is not None:
                on_request(request)
            if note is None:
                return await answer(request)
            start = time.perf_counter()
            try:
                response = await answer(request)
            except web.HTTPException as exc:  # a redirect, or an error raised above the error router
                await _noted(note, request, exc.status, exc, start)
                raise
            except Exception:
                await _noted(note, request, 500, None, start)
                raise
            if request.body_exists:
                await _noted(note, request, response.status, response, start)
            elif not request.get(UNLOGGED):
                note(request, response.status, response, start, None)
            return response

        return through_edge

    async def _answer(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        began = self.deadline.begin(request)
        try:
            for concerns in self.tests:
                if concerns(request):
                    return await self._through_layers(request, handler)
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - the router answers it, or raises it again
                return self.errors.answer(request, exc)
        except BodyTimeout as late:  # read by a layer above the error router
            return self.errors.respond(request, late.error())
        finally:
            self.deadline.end(request, began)

    async def _through_layers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        for middleware in reversed(self.middlewares):
            handler = partial(middleware, handler=handler)
        return await handler(request)


async def _noted(note: Note, request: web.Request, status: int, response: web.StreamResponse | None, start: float) -> None:
    if not request.get(UNLOGGED):
        raw = await logged_body(request, status) if request.body_exists else None
        note(request, status, response, start, raw)


class _AnyPath(web.DynamicResource):
    """Every path, even one that is no path (`*`, of `OPTIONS *`), which no pattern starting with
    `/` matches. The router reaches it last: it is indexed under `/`, where every lookup ends."""

    def _match(self, path: str) -> dict[str, str] | None:
        return {"unmatched": path}


class _CatchAll(web.RouteDef):
    def register(self, router: web.UrlDispatcher) -> list[web.AbstractRoute]:
        resource = _AnyPath(self.path)
        router.register_resource(resource)
        return [resource.add_route(self.method, self.handler, **self.kwargs)]


async def unmatched(request: web.Request) -> web.StreamResponse:
    """No route took the request: 405 with the methods its path has, else 404 (as aiohttp's
    router says; the error router renders either in the owner's shape)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical != "/{unmatched}":
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()
