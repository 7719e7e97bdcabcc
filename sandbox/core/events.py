"""Events recorded by every state transition, kept in a bounded log.

Each event carries the provider's own envelope (`payload`), exactly what a webhook for it
will POST. Subscribers (the webhook outbox) are called synchronously on publish.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_EVENTS = 10_000  # a bounded log: WireMock's unbounded journal is a known complaint


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    provider: str
    tenant: str
    type: str
    object_id: str
    occurred_at: str
    payload: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "provider": self.provider, "tenant": self.tenant, "type": self.type,
            "object_id": self.object_id, "occurred_at": self.occurred_at, "payload": self.payload,
        }


class EventLog:
    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=max_events)
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.append(callback)

    def publish(self, event: Event) -> None:
        self._events.append(event)
        for callback in self._subscribers:
            callback(event)

    def query(self, **filters: str | None) -> list[Event]:
        """Oldest first, filtered on any of provider, tenant, type, object_id."""
        wanted = {name: value for name, value in filters.items() if value is not None}
        return [e for e in self._events if all(getattr(e, name) == value for name, value in wanted.items())]

    def size(self) -> int:
        return len(self._events)

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        kept = [e for e in self._events if not (provider in (None, e.provider) and tenant in (None, e.tenant))]
        self._events.clear()
        self._events.extend(kept)
