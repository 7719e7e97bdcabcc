"""The shared runtime every provider and the control plane work against."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from aiohttp import web

from sandbox.config import Settings
from sandbox.core.clock import Clock
from sandbox.core.events import EventLog
from sandbox.core.idempotency import IdempotencyStore
from sandbox.core.ids import IdFactory
from sandbox.core.scenarios.recorder import Recorder
from sandbox.core.seams import InstructionRegistry
from sandbox.core.scenarios.rules import RuleBook
from sandbox.core.store import MemoryStore, Store
from sandbox.core.webhooks.endpoints import EndpointRegistry
from sandbox.core.webhooks.outbox import Outbox, OutboxSettings

SYSTEM = "_webhooks"  # the id streams of endpoints and deliveries, which resets keep


@dataclass(slots=True)
class Runtime:
    settings: Settings
    clock: Clock
    ids: IdFactory
    store: Store
    idempotency: IdempotencyStore
    events: EventLog
    endpoints: EndpointRegistry
    outbox: Outbox
    rules: RuleBook = field(default_factory=RuleBook)
    recorder: Recorder | None = None  # on with --record or POST /_sandbox/recording
    instructions: InstructionRegistry = field(default_factory=InstructionRegistry)  # the Crossmint-Basis Theory seam
    provider_names: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        clock = Clock(settings.clock)
        ids = IdFactory(settings.effective_seed)
        endpoints = EndpointRegistry(
            make_id=lambda: ids.ulid("ep", SYSTEM), random_bytes=lambda: bytes.fromhex(ids.token(SYSTEM, "secret", 24))
        )
        rules = RuleBook(Random(f"{ids.seed}:rules").random)  # probabilities repeat with the seed
        outbox = Outbox(
            clock, endpoints, {}, make_id=lambda: ids.ulid("dlv", SYSTEM),
            settings=OutboxSettings(schedule=settings.webhook_retry_schedule, timeout_seconds=settings.webhook_timeout_seconds),
            rules=rules,
        )
        events = EventLog(settings.max_events)
        events.subscribe(outbox.publish)
        return cls(settings, clock, ids, MemoryStore(), IdempotencyStore(clock), events, endpoints, outbox, rules)

    def start_recording(self) -> Recorder:
        clock = self.clock.describe()["now"] if self.clock.frozen else None
        self.recorder = Recorder("recorded", self.settings.effective_seed, clock)
        return self.recorder

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget objects, events, idempotency keys and id streams, for everything or a part."""
        self.store.reset(provider, tenant)
        self.events.clear(provider, tenant)
        self.outbox.clear(provider, tenant)  # endpoints are configuration and stay
        self.idempotency.clear(provider, tenant)
        if tenant is None and provider is None:
            self.ids.forget()
        elif tenant is not None:
            self.ids.forget(tenant)


RUNTIME = web.AppKey("runtime", Runtime)
