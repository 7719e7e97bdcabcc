"""The shared runtime every provider and the control plane work against."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from sandbox.config import Settings
from sandbox.core.clock import Clock
from sandbox.core.events import EventLog
from sandbox.core.idempotency import IdempotencyStore
from sandbox.core.ids import IdFactory
from sandbox.core.store import MemoryStore, Store


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    ids: IdFactory
    store: Store
    idempotency: IdempotencyStore
    events: EventLog
    provider_names: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        clock = Clock(settings.clock)
        return cls(
            settings=settings,
            clock=clock,
            ids=IdFactory(settings.effective_seed),
            store=MemoryStore(),
            idempotency=IdempotencyStore(clock),
            events=EventLog(settings.max_events),
        )

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget objects, events, idempotency keys and id streams, for everything or a part."""
        self.store.reset(provider, tenant)
        self.events.clear(provider, tenant)
        self.idempotency.clear(provider, tenant)
        if tenant is None and provider is None:
            self.ids.forget()
        elif tenant is not None:
            self.ids.forget(tenant)


RUNTIME = web.AppKey("runtime", Runtime)
