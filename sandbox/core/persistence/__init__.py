"""Durable and shared state: `--data-dir` (SQLite) and `--store redis://` (replicas).

The memory backend has none of this: its runtime is built with the plain `MemoryStore` and no
middleware. With a backend, `Persistence` wires the runtime to a journal (`state.py`), restores
what the backend holds at start, and runs every request and every background change inside a
turn (`gate.py`), which commits before the request is answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.persistence.gate import Backend, BackendUnavailable, Gate
from sandbox.core.persistence.journal import Journal
from sandbox.core.persistence.state import StateSync
from sandbox.core.runtime import Runtime

log = logging.getLogger("sandbox.persistence")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OUTSIDE = "_sandbox_outside_turn"


def outside_turn(handler: Any) -> Any:
    """Mark a handler that changes no state but waits on background work (a webhook flush): it
    runs outside any turn, so that it holds no lock the work it waits for needs."""
    setattr(handler, OUTSIDE, True)
    return handler


def backend_for(url: str) -> Backend:
    """`sqlite:DIR` or `redis://…` (also `rediss://`, `unix://`); a `prefix` query parameter names
    the keys of this sandbox, so that one Redis database can hold several (`sandbox` by default)."""
    if url.startswith("sqlite:"):
        from sandbox.core.persistence.sqlite import SqliteBackend

        return SqliteBackend(url.removeprefix("sqlite:"))
    from sandbox.core.persistence.redis import RedisBackend

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for name, value in query if name == "prefix"), "sandbox") or "sandbox"
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return RedisBackend(urlunsplit(parts._replace(query=rest)), prefix=prefix)


class Persistence:
    def __init__(self, runtime: Runtime, backend: Backend) -> None:
        self.runtime, self.backend = runtime, backend
        self.journal = Journal()
        self.sync = StateSync(runtime, self.journal)
        self.gate = Gate(backend, self.journal, self.sync)
        runtime.durable = self.sync
        process = getattr(backend, "process", "local")
        runtime.outbox.process = process
        runtime.outbox.exclusive = self.gate.turn
        runtime.scheduler.exclusive = self.gate.turn

    async def start(self, configure: Callable[[bool], None]) -> None:
        """Restore what the backend holds, then `configure(resumed)` (the command line's endpoints
        and scenarios, added where missing) in the first turn, so replicas starting together agree."""
        held = await self.backend.open()
        async with self.gate.turn():
            if held:
                self.sync.reload(held)
            resumed = bool(held) or self.gate.applied > 0
            if not resumed:
                self.sync.everything()
            configure(resumed)
        log.info("state in %s: %s", self.backend.describe(), "resumed" if resumed else "new")

    async def stop(self) -> None:
        await self.backend.close()

    def middleware(self) -> Middleware:
        gate = self.gate

        @web.middleware
        async def in_turn(request: web.Request, handler: Handler) -> web.StreamResponse:
            route = request.match_info.route
            if getattr(route.handler, OUTSIDE, False):
                return await handler(request)
            if request.body_exists and request.content_length is not None and request.content_length <= request.client_max_size:
                # Read before the turn: a client slow to send its body must not hold the store's lock.
                # (Unknown or oversized lengths are read, and refused, where they always were.)
                await request.read()
            try:
                async with gate.turn():
                    return await handler(request)
            except BackendUnavailable as exc:
                log.error("%s %s: %s", request.method, request.path, exc)
                raise SandboxError(ErrorKind.INTERNAL, "The sandbox's state store is unavailable; try again", status=503) from None

        return in_turn


__all__ = ["BackendUnavailable", "Persistence", "backend_for", "outside_turn"]
