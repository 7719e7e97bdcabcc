"""Time that moves by itself: every time-based transition fires at its due moment, read or not.

A provider schedules a `Timer` naming an object when the object gets a due moment (a pending
intent's activation, an expiry, an operator's timed decision) and registers one handler, which
re-reads the object and applies whatever the clock has reached, stamped with the due moment.
Timers fire in due order: on a frozen clock synchronously when `advance` or `freeze` passes
them, so the events exist by the time that call answers; on a running clock from a background
task at the real moment. Reads keep applying due transitions too, so a timer that finds nothing
left to do is harmless. Nothing runs per request: the cost is one heap entry per due moment.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sandbox.core.clock import Clock, wait_event

log = logging.getLogger("sandbox.scheduler")


@dataclass(frozen=True, slots=True, order=True)
class Timer:
    due: float
    seq: int  # ties fire in the order they were scheduled
    provider: str
    tenant: str
    kind: str
    obj_id: str

    @property
    def key(self) -> tuple[float, str, str, str, str]:
        """What names a timer across processes sharing a store (its sequence is this process's)."""
        return self.due, self.provider, self.tenant, self.kind, self.obj_id


TimerHandler = Callable[[Timer], None]


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[Timer] = []
        self._seq = 0
        self._handlers: dict[str, TimerHandler] = {}
        self._wake = asyncio.Event()
        self._firing = False
        self._live: dict[tuple[float, str, str, str, str], Timer] = {}  # timers set and not yet fired or cleared
        self.on_change: Callable[[Timer, bool], None] | None = None  # (timer, set or gone), for a durable backend
        self.exclusive: Callable[[], AbstractAsyncContextManager[None]] | None = None  # a store shared by processes: fire under its lock
        clock.subscribe(self._clock_moved)

    def handle(self, provider: str, handler: TimerHandler) -> None:
        self._handlers[provider] = handler

    def at(self, due: float, provider: str, tenant: str, kind: str, obj_id: str) -> None:
        timer = self.restore(due, provider, tenant, kind, obj_id)
        if timer is not None and self.on_change is not None:
            self.on_change(timer, True)

    def restore(self, due: float, provider: str, tenant: str, kind: str, obj_id: str) -> Timer | None:
        """Set a timer unless the same one is set; returns it when new."""
        if (due, provider, tenant, kind, obj_id) in self._live:
            return None
        self._seq += 1
        timer = Timer(due, self._seq, provider, tenant, kind, obj_id)
        self._live[timer.key] = timer
        heapq.heappush(self._heap, timer)
        self._wake.set()
        return timer

    def cancel(self, key: tuple[float, str, str, str, str]) -> None:
        """Forget a timer (another process sharing the store fired it); its heap entry is skipped."""
        self._live.pop(key, None)

    def timers(self) -> list[Timer]:
        return list(self._live.values())

    def fire_due(self) -> int:
        """Fire every timer the clock has reached, in due order; returns how many fired."""
        if self._firing:  # a handler that moves the clock must not re-enter
            return 0
        self._firing = True
        fired = 0
        try:
            while self._heap and self._heap[0].due <= self._clock.timestamp():
                timer = heapq.heappop(self._heap)
                if self._live.get(timer.key) is not timer:
                    continue
                del self._live[timer.key]
                if self.on_change is not None:
                    self.on_change(timer, False)
                handler = self._handlers.get(timer.provider)
                if handler is None:
                    continue
                try:
                    with self._clock.pinned(timer.due):
                        handler(timer)
                except Exception:  # one broken timer must not stop time for everything else
                    log.exception("timer %s crashed", timer)
                fired += 1
        finally:
            self._firing = False
        return fired

    def next_due(self) -> float | None:
        while self._heap and self._live.get(self._heap[0].key) is not self._heap[0]:
            heapq.heappop(self._heap)  # cancelled
        return self._heap[0].due if self._heap else None

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        if provider is None and tenant is None:
            self._heap.clear()
            self._live.clear()
            return
        self._heap = [t for t in self._heap if not (provider in (None, t.provider) and tenant in (None, t.tenant))]
        heapq.heapify(self._heap)
        self._live = {t.key: t for t in self._heap if self._live.get(t.key) is t}

    def __len__(self) -> int:
        return len(self._live)

    async def run(self) -> None:
        """Fire timers at their real moment while the clock runs (aiohttp's cleanup context)."""
        while True:
            due = self.next_due()
            if self.exclusive is not None and due is not None and due <= self._clock.timestamp():
                async with self.exclusive():
                    self.fire_due()
            else:
                self.fire_due()
            self._wake.clear()
            due = self.next_due()
            timeout = None if due is None or self._clock.frozen else max(due - self._clock.timestamp(), 0.0) + 0.001
            await wait_event(self._wake, timeout)

    def wake(self) -> None:
        self._wake.set()

    def _clock_moved(self) -> None:
        self.fire_due()
        self._wake.set()
