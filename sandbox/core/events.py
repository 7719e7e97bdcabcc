"""Events recorded by every state transition, kept in a bounded log.

Each event carries the provider's own envelope (`payload`), exactly what a webhook for it
will POST. Subscribers (the webhook outbox) are called synchronously on publish.

The bound is shared fairly: when the log is full, the oldest event of the tenant (of a provider)
holding the most events goes. A lone tenant keeps the whole log, oldest dropped first, and a
tenant flooding the log pushes out its own events, not everyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.core.shares import FairShares

DEFAULT_MAX_EVENTS = 10_000  # a bounded log: WireMock's unbounded journal is a known complaint

Share = tuple[str, str]  # (provider, tenant)


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
        self._events: FairShares[Share, Event] = FairShares(max_events)
        self._subscribers: list[Callable[[Event], None]] = []
        self.on_drop: Callable[[Event], None] | None = None  # an event the bound pushed out (a durable backend forgets it)

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.append(callback)

    def publish(self, event: Event) -> None:
        self.restore(event)
        for callback in self._subscribers:
            callback(event)

    def restore(self, event: Event) -> None:
        """Keep `event` without telling subscribers (put back from a durable backend)."""
        gone = self._events.add((event.provider, event.tenant), (event.type, event.id), event)
        if gone and self.on_drop is not None:
            for old in gone:
                self.on_drop(old)

    def remove(self, event: Event) -> None:
        self._events.discard((event.provider, event.tenant), (event.type, event.id))

    def all(self) -> list[Event]:
        return list(self._events.items(lambda key: True))

    def query(self, **filters: str | None) -> list[Event]:
        """Oldest first, filtered on any of provider, tenant, type, object_id."""
        wanted = {name: value for name, value in filters.items() if value is not None}
        provider, tenant = wanted.pop("provider", None), wanted.pop("tenant", None)
        if provider is not None and tenant is not None:
            found: Iterable[Event] = self._events.share((provider, tenant))
        else:
            found = self._events.items(lambda key: provider in (None, key[0]) and tenant in (None, key[1]))
        return [e for e in found if all(getattr(e, name) == value for name, value in wanted.items())]

    def size(self) -> int:
        return len(self._events)

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        self._events.drop_shares(lambda key: provider in (None, key[0]) and tenant in (None, key[1]))
