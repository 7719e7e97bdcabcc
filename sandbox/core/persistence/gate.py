"""Turns: how a durable or shared backend keeps requests atomic and acknowledged.

Handlers run without awaiting, which makes each one atomic inside one process. A request (and the
background work that changes state: a webhook attempt's outcome, a timer) runs inside a *turn*:

- the first to enter opens it: with a shared backend, that takes the store's lock and applies the
  changes other processes committed since this one last looked;
- others in this process join the open turn, so one lock serves many requests;
- each one, on leaving, waits for a commit that includes its changes before it answers (commits
  that overlap are one: group commit);
- the last to leave releases the lock. A turn stops admitting requests after `window` seconds so
  that other processes get theirs (background work too: an outbox busy with many deliveries must
  not keep the lock; a request that waits for background work, a webhook flush, runs outside turns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from sandbox.core.persistence.journal import Change, Journal
from sandbox.core.persistence.state import StateSync

log = logging.getLogger("sandbox.persistence")


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached or taken: its message says why, for an operator."""


class Backend(Protocol):
    shared: bool

    def describe(self) -> str: ...

    async def open(self) -> list[Change]: ...

    async def acquire(self) -> list[Change] | None: ...  # None: this process fell behind, reload

    async def snapshot(self) -> list[Change]: ...

    async def commit(self, changes: list[Change]) -> None: ...

    async def release(self) -> None: ...

    async def close(self) -> None: ...


class Gate:
    def __init__(self, backend: Backend, journal: Journal, sync: StateSync, window: float = 0.005) -> None:
        self.backend, self.journal, self.sync = backend, journal, sync
        self._window = window
        self._members = 0
        self._held = False
        self._opened_at = 0.0
        self._opening: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] | None = None  # resolved when the turn held now has ended
        self.applied = 0  # keys the last turn opened took from other processes
        self._writer: asyncio.Task[None] | None = None
        self._requested = 0  # commits asked for
        self._written = 0  # of those, how many a finished commit covers
        self._diverged = False  # a commit failed: reload the backend's state at the next turn

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self._enter()
        try:
            yield
        finally:
            await self._leave()

    async def _enter(self) -> None:
        while True:
            admitting = not self.backend.shared or time.monotonic() - self._opened_at < self._window
            if self._held and admitting:
                self._members += 1
                return
            if self._opening is not None:
                await asyncio.shield(self._opening)
                continue
            if self._held and self._ended is not None:  # the turn is closed to newcomers: wait for its end
                await asyncio.shield(self._ended)
                continue
            self._opening = asyncio.get_running_loop().create_future()
            try:
                await self._open()
                # The opener is in its own turn, however long taking the lock took: were it to wait
                # for the turn's end like a latecomer, the turn would hold the lock with no one in it.
                self._members += 1
                return
            finally:
                opening, self._opening = self._opening, None
                opening.set_result(None)

    async def _open(self) -> None:
        try:
            changes = await self.backend.acquire()
        except BackendUnavailable:
            raise
        except Exception as exc:  # the store went away: say so, in the provider's shape
            raise BackendUnavailable(f"the state store is unavailable: {type(exc).__name__}") from exc
        self._ended = ended = asyncio.get_running_loop().create_future()
        try:
            if self._diverged:
                changes, self._diverged = None, False
            if changes is None:
                changes = await self.backend.snapshot()
                self.sync.reload(changes)
            elif changes:
                self.sync.apply(changes)
            self.applied = len(changes)
        except BaseException:
            try:
                await self.backend.release()
            finally:
                ended.set_result(None)
            raise
        # Only now may others join: the turn starts from everything the other processes committed.
        self._held, self._opened_at = True, time.monotonic()

    async def _leave(self) -> None:
        self._members -= 1
        try:
            await self._commit()
        finally:
            if self._members == 0 and self._held and self._writer is None:
                self._held, ended = False, self._ended
                try:
                    await self.backend.release()
                finally:
                    if ended is not None and not ended.done():
                        ended.set_result(None)

    async def _commit(self) -> None:
        """Return once a commit that took the journal after this call has finished."""
        self._requested += 1
        target = self._requested
        while self._written < target:
            if self._writer is None:
                self._writer = asyncio.get_running_loop().create_task(self._write())
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        try:
            while self._written < self._requested:
                target = self._requested
                changes = self.journal.take()
                if changes:
                    await self.backend.commit(changes)
                self._written = target
        except Exception as exc:
            # What this process holds now differs from the backend: the next turn starts from the
            # backend's state instead, and the requests waiting are told the store failed.
            self._diverged = True
            raise BackendUnavailable(f"the state store did not take a commit: {type(exc).__name__}") from exc
        finally:
            self._writer = None
