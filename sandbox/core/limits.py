"""How long a client may take to send a request, and to stay connected doing nothing.

aiohttp bounds the size of a request line and of each header (8190 bytes) and the number of
headers (128), and closes a connection idle for `keepalive_timeout` (also one that never sent a
complete request). It has no bound on the time a request takes to arrive: a client sending half
a request (slowloris) would hold its connection for ever. Two pieces close that:

- `SandboxRunner` serves connections with `TimedRequestHandler`, which closes a connection whose
  request head (line and headers) is not complete `read_timeout` seconds after its first byte;
- `read_deadline`, a middleware, gives the body the same time from the end of the head: past it,
  reading the body raises `BodyTimeout` (a 408 in the owning provider's error shape), and the
  connection closes after the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler

from sandbox.core.http import BodyTimeout, ErrorRouter


class TimedRequestHandler(RequestHandler):
    """aiohttp's connection handler, plus a deadline on each request head."""

    __slots__ = ("_read_timeout", "_head_timer", "_serving", "_begun")

    def __init__(self, manager: web.Server, *, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._read_timeout = read_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._serving = 0  # requests being answered on this connection
        self._begun = 0  # requests begun so far

    def data_received(self, data: bytes) -> None:
        # Bytes while no request is being answered: a request head is arriving. It must be
        # complete (and its request begun) before the deadline.
        if not self._serving and self._head_timer is None and self.transport is not None:
            self._head_timer = asyncio.get_running_loop().call_later(self._read_timeout, self._head_overdue, self._begun)
        super().data_received(data)

    def _head_overdue(self, begun: int) -> None:
        self._head_timer = None
        if not self._serving and self._begun == begun:
            self.force_close()

    def request_begun(self) -> None:
        self._serving += 1
        self._begun += 1
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def request_done(self) -> None:
        self._serving -= 1

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


class _TimedServer(web.Server):
    def __init__(
        self, handler: Any, *, request_factory: Any, handler_cancellation: bool, loop: asyncio.AbstractEventLoop, read_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, request_factory=request_factory, handler_cancellation=handler_cancellation, loop=loop, **kwargs)
        self._handler_loop = loop
        self._handler_kwargs = kwargs  # what aiohttp's Server hands each RequestHandler
        self._read_timeout = read_timeout

    def __call__(self) -> RequestHandler:
        return TimedRequestHandler(self, loop=self._handler_loop, read_timeout=self._read_timeout, **self._handler_kwargs)


class SandboxRunner(web.AppRunner):
    """`web.AppRunner` whose connections carry the head deadline; `keepalive_timeout` and the
    other handler arguments pass through to aiohttp as usual."""

    def __init__(self, app: web.Application, *, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._read_timeout = read_timeout

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # runs the app's startup, as aiohttp does
        kwargs = {k: v for k, v in self._kwargs.items() if k not in ("handler_cancellation", "loop")}
        return _TimedServer(
            made.request_handler, request_factory=made.request_factory, handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(), read_timeout=self._read_timeout, **kwargs,
        )


def read_deadline(seconds: float, errors: ErrorRouter) -> Middleware:
    """The body must arrive within `seconds` of the request head; also marks when a connection
    answers a request, for `TimedRequestHandler`. Installed above whatever reads the body."""

    def overdue(content: Any) -> None:
        if not content.is_eof():
            content.set_exception(BodyTimeout(f"The request body did not arrive within {seconds:g} seconds"))

    @web.middleware
    async def deadline(request: web.Request, handler: Any) -> web.StreamResponse:
        protocol = request.protocol
        timed = protocol if isinstance(protocol, TimedRequestHandler) else None
        if timed is not None:
            timed.request_begun()
        timer = None
        if request.body_exists and not request.content.is_eof():
            timer = asyncio.get_running_loop().call_later(seconds, overdue, request.content)
        try:
            return await handler(request)
        except BodyTimeout as late:  # read above the error router (the recorder reads first)
            return errors.respond(request, late.error())
        finally:
            if timer is not None:
                timer.cancel()
            if timed is not None:
                timed.request_done()

    return deadline
