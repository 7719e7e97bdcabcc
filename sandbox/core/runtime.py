"""The shared runtime every provider and the control plane work against: it owns all state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from sandbox.core.clock import Clock
from sandbox.core.events import EventLog
from sandbox.core.idempotency import IdempotencyStore
from sandbox.core.ids import IdFactory
from sandbox.core.registry import ProviderRegistry
from sandbox.core.requests import RequestLog
from sandbox.core.scenarios.recorder import Recorder
from sandbox.core.scenarios.rules import OutcomeCatalog, RuleBook
from sandbox.core.scheduler import Scheduler
from sandbox.core.seams import InstructionSeam
from sandbox.core.settings import CoreSettings
from sandbox.core.store import MemoryStore, Store, TrackedStore
from sandbox.core.webhooks.endpoints import EndpointRegistry
from sandbox.core.webhooks.outbox import Outbox, OutboxSettings

SYSTEM = "_webhooks"  # the sandbox's own id streams (endpoints, deliveries, scenarios), which resets keep


class Durable(Protocol):
    """A durable backend's view of the state (`core/persistence`): what a reset must delete there."""

    def keys(self) -> set[str]: ...

    def forget_missing(self, before: set[str]) -> None: ...


@dataclass(slots=True)
class Runtime:
    settings: CoreSettings
    clock: Clock
    ids: IdFactory
    store: Store
    idempotency: IdempotencyStore
    events: EventLog
    endpoints: EndpointRegistry
    outbox: Outbox
    providers: ProviderRegistry
    scheduler: Scheduler
    rules: RuleBook = field(default_factory=RuleBook)
    recorder: Recorder | None = None  # on with --record or POST /_sandbox/recording
    instructions: InstructionSeam = field(default_factory=InstructionSeam)
    requests: RequestLog = field(default_factory=lambda: RequestLog(0))  # GET /_sandbox/requests
    durable: Durable | None = None  # set by core/persistence when a backend keeps the state

    @classmethod
    def build(cls, settings: CoreSettings) -> Runtime:
        clock = Clock(settings.clock)
        ids = IdFactory(settings.seed)
        providers = ProviderRegistry()
        endpoints = EndpointRegistry(
            make_id=lambda: ids.ulid("ep", SYSTEM), random_bytes=lambda: bytes.fromhex(ids.token(SYSTEM, "secret", 24))
        )
        rules = RuleBook(seed=ids.seed)  # probabilities repeat with the seed, per scenario, provider and tenant
        outbox = Outbox(
            clock, endpoints, providers.signer, make_id=lambda: ids.ulid("dlv", SYSTEM),
            settings=OutboxSettings(schedule=settings.webhook_retry_schedule, timeout_seconds=settings.webhook_timeout_seconds),
            rules=rules,
        )
        events = EventLog(settings.max_events)
        events.subscribe(outbox.publish)
        return cls(
            settings, clock, ids, TrackedStore() if settings.store else MemoryStore(), IdempotencyStore(clock), events, endpoints,
            outbox, providers,
            Scheduler(clock), rules, requests=RequestLog(settings.request_log_size, settings.request_log_body_bytes),
        )

    def catalog(self) -> OutcomeCatalog:
        """What scenario rules may script on this sandbox: its registered providers' operations."""
        return OutcomeCatalog.of(self.providers)

    def start_recording(self) -> Recorder:
        clock = self.clock.describe()["now"] if self.clock.frozen else None
        self.recorder = Recorder("recorded", self.settings.seed, clock, kept_headers=self.providers.recorded_headers())
        return self.recorder

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget objects, events, deliveries, idempotency keys, id streams and logged requests, for
        everything or a part (a scoped reset keeps the control plane's own logged requests).

        Configuration stays: webhook endpoints, loaded scenarios, registered providers and seams.
        """
        before = self.durable.keys() if self.durable is not None else None
        self.store.reset(provider, tenant)
        self.events.clear(provider, tenant)
        self.outbox.clear(provider, tenant)
        self.idempotency.clear(provider, tenant)
        self.scheduler.clear(provider, tenant)
        self.rules.forget(provider, tenant)
        self.endpoints.forget(provider, tenant)
        self.requests.clear(provider, tenant)
        # Only the streams of what was just forgotten start again: a provider's streams are its own,
        # so a reset scoped to one provider never makes another repeat an id it handed out.
        self.ids.forget(provider, tenant)
        if self.durable is not None and before is not None:
            self.durable.forget_missing(before)

    def sizes(self) -> dict[str, int]:
        """How many entries each collection holds: what a reset must bring back down."""
        return {
            **self.store.sizes(), **self.outbox.sizes(), "events": self.events.size(), "idempotency_keys": len(self.idempotency),
            "id_streams": len(self.ids), "timers": len(self.scheduler),
            "endpoints": len(self.endpoints.all()), "scenarios": len(self.rules.all()),
            "instruction_resolvers": len(self.instructions), "recorded_steps": len(self.recorder.steps) if self.recorder else 0,
            "logged_requests": len(self.requests), "probability_streams": len(self.rules.stream_keys()),
        }


RUNTIME = web.AppKey("runtime", Runtime)
