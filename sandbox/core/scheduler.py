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


TimerHandler = Callable[[Timer], None]


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[Timer] = []
        self._seq = 0
        self._handlers: dict[str, TimerHandler] = {}
        self._wake = asyncio.Event()
        self._firing = False
        clock.subscribe(self._clock_moved)

    def handle(self, provider: str, handler: TimerHandler) -> None:
        self._handlers[provider] = handler

    def at(self, due: float, provider: str, tenant: str, kind: str, obj_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, Timer(due, self._seq, provider, tenant, kind, obj_id))
        self._wake.set()

    def fire_due(self) -> int:
        """Fire every timer the clock has reached, in due order; returns how many fired."""
        if self._firing:  # a handler that moves the clock must not re-enter
            return 0
        self._firing = True
        fired = 0
        try:
            while self._heap and self._heap[0].due <= self._clock.timestamp():
                timer = heapq.heappop(self._heap)
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
        return self._heap[0].due if self._heap else None

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        if provider is None and tenant is None:
            self._heap.clear()
            return
        self._heap = [t for t in self._heap if not (provider in (None, t.provider) and tenant in (None, t.tenant))]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    async def run(self) -> None:
        """Fire timers at their real moment while the clock runs (aiohttp's cleanup context)."""
        while True:
            self.fire_due()
            self._wake.clear()
            due = self.next_due()
            timeout = None if due is None or self._clock.frozen else max(due - self._clock.timestamp(), 0.0) + 0.001
            await wait_event(self._wake, timeout)

    def _clock_moved(self) -> None:
        self.fire_due()
        self._wake.set()
