"""The outbox: every event an endpoint wants becomes a delivery, attempted in the background.

- The API never waits: publishing only records deliveries; worker tasks POST them.
- Retries follow a schedule on the sandbox clock (Svix's by default), so advancing the clock
  makes due retries run; `Retry-After` is honoured; a 410 disables the endpoint.
- Deliveries of one object to one endpoint go out in order: a later one waits until the
  earlier one is delivered or has given up.
- One receiver cannot hold up another: each endpoint has its own attempts in flight (4) within
  the global cap, and its own bound of pending deliveries per tenant, within a bound per endpoint
  across its tenants (one with no tenant gets every tenant's events), a bound per tenant across
  endpoints, and the global one (the last resort), which no one endpoint or tenant can fill. A
  delivery over a bound is recorded as failed with a note, and stays in the log like any
  finished delivery: the oldest finished ones go first.
- Stopping (shutdown) starts no attempt, then cuts those in flight: a cut attempt is not recorded
  and its delivery stays due, for the next run.
- Signature timestamps are real time, because receivers check them against their own clocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from sandbox.core.clock import Clock, iso, iso_timestamp, wait_event
from sandbox.core.events import Event
from sandbox.core.registry import WebhookSigner
from sandbox.core.scenarios.rules import RuleBook
from sandbox.core.settings import SVIX_SCHEDULE
from sandbox.core.shares import FairShares
from sandbox.core.webhooks.endpoints import Endpoint, EndpointRegistry

log = logging.getLogger("sandbox.webhooks")

EXCERPT = 1024  # bytes of each response body kept in the delivery log
CLAIM_MARGIN = 2.0  # seconds a claim outlives its attempt's timeout: then another process may take it


@dataclass(slots=True)
class Attempt:
    number: int
    at: str
    status_code: int | None
    latency_ms: float
    response_body: str | None = None
    error: str | None = None
    request_headers: dict[str, str] | None = None  # the signed headers as sent (None: nothing was sent)

    def to_wire(self) -> dict[str, Any]:
        return {
            "attempt": self.number, "at": self.at, "status_code": self.status_code, "latency_ms": self.latency_ms,
            "response_body": self.response_body, "error": self.error,
            # An attempt kept by an earlier version (a durable state) has no such slot.
            "request_headers": getattr(self, "request_headers", None),
        }


@dataclass(slots=True)
class Delivery:
    id: str
    endpoint_id: str
    event: Event
    body: bytes
    created_at: str
    status: str = "pending"  # pending | delivered | failed
    attempts: list[Attempt] = field(default_factory=list)
    next_ts: float | None = None
    note: str | None = None  # why it was never sent, e.g. a full outbox
    resend_asked: bool = False
    claim: tuple[str, float] | None = None  # (process, real time until): attempted by one process sharing the store

    @property
    def chain(self) -> tuple[str, str]:
        return self.endpoint_id, self.event.object_id

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "endpoint_id": self.endpoint_id, "event_id": self.event.id, "event_type": self.event.type,
            "provider": self.event.provider, "tenant": self.event.tenant, "object_id": self.event.object_id,
            "status": self.status, "created_at": self.created_at,
            "next_attempt_at": iso_timestamp(self.next_ts) if self.status == "pending" and self.next_ts is not None else None,
            "attempts": [attempt.to_wire() for attempt in self.attempts],
            "note": self.note,
            "payload": self.event.payload,
        }


@dataclass(slots=True)
class OutboxSettings:
    schedule: tuple[float, ...] = SVIX_SCHEDULE
    timeout_seconds: float = 10.0
    concurrency: int = 64  # attempts in flight at once, across all endpoints
    concurrency_per_endpoint: int = 4  # a hanging receiver holds these, and no other endpoint's
    max_deliveries: int = 10_000  # finished deliveries kept in the log; beyond this the oldest finished go
    # Beyond these, a new delivery fails at once: a dead receiver must not eat memory, nor crowd out others.
    max_pending_per_endpoint: int = 1_000  # one endpoint's deliveries of one tenant
    # One endpoint's, across its tenants: a dead receiver with no tenant (it gets every tenant's events)
    # holds a quarter of `max_pending`, and leaves the rest to every other endpoint.
    max_pending_per_endpoint_all_tenants: int = 2_500
    max_pending_per_tenant: int = 2_500  # one tenant's (of one provider), across endpoints
    max_pending: int = 10_000  # everything: the last resort


Entry = tuple[float, int, str]  # (due timestamp, sequence, delivery id)


class Stopped(Exception):
    """An attempt that the outbox stopping (shutdown) cut, or that it no longer starts."""


class Outbox:
    def __init__(
        self, clock: Clock, registry: EndpointRegistry, signer: Callable[[str], WebhookSigner], make_id: Callable[[], str],
        settings: OutboxSettings, rules: RuleBook | None = None,
    ) -> None:
        self._rules = rules if rules is not None else RuleBook()
        self._clock = clock
        self._registry = registry
        self._signer = signer  # provider name -> how its webhooks are signed
        self._make_id = make_id
        self.settings = settings
        self._deliveries: OrderedDict[str, Delivery] = OrderedDict()  # creation order
        # Ids of finished deliveries in the order they finished, shared fairly between (provider, tenant).
        self._finished: FairShares[tuple[str, str], str] = FairShares(settings.max_deliveries)
        self._chains: dict[tuple[str, str], deque[Delivery]] = {}
        self._due: list[Entry] = []
        self._held: dict[str, deque[Entry]] = {}  # endpoint id -> due deliveries waiting for one of its slots
        self._ready: dict[str, None] = {}  # endpoints with held deliveries and a slot free since
        self._seq = 0
        self._inflight: set[str] = set()
        self._inflight_per_endpoint: Counter[str] = Counter()
        self._tasks: set[asyncio.Task] = set()
        self._pending = 0
        self._pending_per_tenant: Counter[tuple[str, str]] = Counter()  # (provider, tenant)
        self._pending_per_endpoint: Counter[tuple[str, str]] = Counter()  # (endpoint id, tenant)
        self._pending_per_endpoint_all_tenants: Counter[str] = Counter()  # endpoint id
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._handoff: Delivery | None = None  # the next delivery for the worker asking in `_work`
        self._running = False  # between `run` starting and stopping: only then do attempts start
        self._asking = False
        # A store shared by processes: deliveries are changed under its lock, and each attempt is
        # claimed by one process first (docs/architecture.md, "Durable and shared state").
        self.touched: set[str] | None = None  # deliveries changed, when a durable backend asks
        self.exclusive: Callable[[], AbstractAsyncContextManager[None]] | None = None
        self.process = ""  # this process's name in claims
        self._rechecks: dict[str, float] = {}  # delivery id -> when (real time) another process's claim runs out
        clock.subscribe(self._wake.set)

    def _touch(self, delivery: Delivery) -> None:
        if self.touched is not None:
            self.touched.add(delivery.id)

    # -- recording -------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """EventLog subscriber: one delivery per endpoint that wants the event."""
        endpoints = self._registry.matching(event)
        if not endpoints:
            return
        body = orjson.dumps(event.payload)  # once per event: the same bytes to every endpoint, at every attempt
        created_at = iso(self._clock.now())
        for endpoint in endpoints:
            delivery = Delivery(self._make_id(), endpoint.id, event, body, created_at)
            self._deliveries[delivery.id] = delivery
            self._touch(delivery)
            full = self._full(delivery)
            if full is not None:
                delivery.note = f"not sent: {full}"
                delivery.status = "failed"
                self._finished_now(delivery)
                continue
            self._count_pending(delivery, 1)
            chain = self._chains.setdefault(delivery.chain, deque())
            chain.append(delivery)
            if len(chain) == 1:
                self._schedule(delivery, self._clock.timestamp())
        self._wake.set()

    def resend(self, delivery_id: str) -> Delivery | None:
        """Attempt again now, whatever happened before (the same event id, the next attempt number)."""
        delivery = self._deliveries.get(delivery_id)
        if delivery is None:
            return None
        self._touch(delivery)
        if delivery.id in self._inflight:
            delivery.resend_asked = True  # attempted again as soon as the current attempt ends
            return delivery
        if delivery.status != "pending":
            self._count_pending(delivery, 1)  # an operator's resend is not held to the bounds
            self._finished.discard(_share(delivery), delivery.id)
        delivery.status = "pending"
        self._schedule(delivery, self._clock.timestamp())
        self._wake.set()
        return delivery

    def get(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def all(self) -> list[Delivery]:
        return list(self._deliveries.values())

    def restore(self, incoming: Delivery) -> None:
        """Put back a delivery as a durable backend (or another process sharing it) left it: a new
        one joins its chain as `publish` would; a known one takes the new state in place."""
        delivery = self._deliveries.get(incoming.id)
        if delivery is None:
            delivery = self._deliveries[incoming.id] = incoming
            if delivery.status == "pending":
                self._count_pending(delivery, 1)
                self._chains.setdefault(delivery.chain, deque()).append(delivery)
            else:
                self._finished_now(delivery)
        else:
            was_pending = delivery.status == "pending"
            for name in ("status", "attempts", "next_ts", "note", "claim"):
                setattr(delivery, name, getattr(incoming, name))
            if delivery.claim is None or delivery.status != "pending":
                self._rechecks.pop(delivery.id, None)  # whoever claimed it is done
            if was_pending and delivery.status != "pending":
                self._count_pending(delivery, -1)
                self._unchain(delivery)
                self._finished_now(delivery)
            elif not was_pending and delivery.status == "pending":
                self._count_pending(delivery, 1)
                self._finished.discard(_share(delivery), delivery.id)
        # Due here too: its chain's head (which may have just become head, the one before it finished
        # elsewhere), and a pending delivery outside any chain (resent).
        chain = self._chains.get(delivery.chain)
        if chain:
            self._push_due(chain[0])
        if not chain or delivery not in chain:
            self._push_due(delivery)
        self._wake.set()

    def _push_due(self, delivery: Delivery) -> None:
        if delivery.status == "pending" and delivery.next_ts is not None:
            self._seq += 1
            heapq.heappush(self._due, (delivery.next_ts, self._seq, delivery.id))

    def remove(self, delivery_id: str) -> None:
        """Forget a delivery another process forgot (a reset)."""
        delivery = self._deliveries.pop(delivery_id, None)
        if delivery is None:
            return
        self._finished.discard(_share(delivery), delivery.id)
        if delivery.status == "pending":
            self._count_pending(delivery, -1)
        delivery.status = "failed"
        self._unchain(delivery)

    def _unchain(self, delivery: Delivery) -> None:
        chain = self._chains.get(delivery.chain)
        if chain is not None and delivery in chain:
            chain.remove(delivery)
            if not chain:
                del self._chains[delivery.chain]

    def query(self, **filters: str | None) -> list[Delivery]:
        wanted = {name: value for name, value in filters.items() if value is not None}
        return [d for d in self._deliveries.values() if all(_field(d, name) == value for name, value in wanted.items())]

    def sizes(self) -> dict[str, int]:
        due = len(self._due) + sum(len(held) for held in self._held.values())
        return {"deliveries": len(self._deliveries), "delivery_chains": len(self._chains), "due": due}

    def pending_counts(self) -> dict[str, Any]:
        """What the bounds are checked against (counts at zero are not kept)."""
        return {
            "total": self._pending, "per_tenant": dict(self._pending_per_tenant), "per_endpoint": dict(self._pending_per_endpoint),
            "per_endpoint_all_tenants": dict(self._pending_per_endpoint_all_tenants),
        }

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        self._clear_deliveries(provider, tenant)
        self._due = [entry for entry in self._due if entry[2] in self._deliveries]  # drop what was cleared
        heapq.heapify(self._due)
        for endpoint_id, held in list(self._held.items()):
            kept = deque(entry for entry in held if entry[2] in self._deliveries)
            if kept:
                self._held[endpoint_id] = kept
            else:
                del self._held[endpoint_id]
                self._ready.pop(endpoint_id, None)

    def _clear_deliveries(self, provider: str | None, tenant: str | None) -> None:
        for delivery in [d for d in self._deliveries.values() if provider in (None, d.event.provider) and tenant in (None, d.event.tenant)]:
            del self._deliveries[delivery.id]  # a durable backend hears of it from Runtime.reset
            self._finished.discard(_share(delivery), delivery.id)
            if delivery.status == "pending":
                self._count_pending(delivery, -1)
            delivery.status = "failed"  # stops any scheduled retry
            chain = self._chains.get(delivery.chain)
            if chain and delivery in chain:
                was_head = chain[0] is delivery
                chain.remove(delivery)
                if not chain:
                    del self._chains[delivery.chain]
                elif was_head and chain[0].id not in self._inflight:  # the next one (another tenant's) goes on
                    self._schedule(chain[0], self._clock.timestamp())

    # -- running -----------------------------------------------------------------------

    async def run(self) -> None:
        # One session for every attempt: its pool keeps connections alive between deliveries, up to one
        # per attempt in flight.
        connector = aiohttp.TCPConnector(limit=max(self.settings.concurrency, 1), ttl_dns_cache=10)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        self._session, self._running = session, True
        try:
            while True:
                self._start_due()
                await self._sleep()
        finally:
            # Stopped (shutdown). First no attempt may start (a worker finishing one starts no other),
            # then the session closes, which cuts those in flight: what is due stays due, for the next run.
            self._running = False
            try:
                await session.close()
            finally:
                if self._session is session:
                    self._session = None

    async def flush(self, timeout: float) -> bool:
        """Wait until nothing is due now and nothing is in flight; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while await self._still_busy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._progress.clear()
            await wait_event(self._progress, min(remaining, 0.05))
        return True

    async def _still_busy(self) -> bool:
        """`_busy`, after taking in what other processes sharing the store did (their deliveries, and
        the outcome of those they claimed, which count as busy until then)."""
        if self.exclusive is not None:
            async with self.exclusive():
                pass
            self._start_due()
            return self._busy() or bool(self._rechecks)
        return self._busy()

    def _busy(self) -> bool:
        now = self._clock.timestamp()
        # Held deliveries wait for an attempt in flight on their endpoint, or their endpoint is ready.
        return bool(self._inflight) or bool(self._ready) or any(ts <= now and self._valid(ts, did) for ts, _, did in self._due)

    def _valid(self, ts: float, delivery_id: str) -> bool:
        delivery = self._deliveries.get(delivery_id)
        return delivery is not None and delivery.status == "pending" and delivery.next_ts == ts

    def _start_due(self) -> None:
        if not self._running:
            return
        cap = self.settings.concurrency
        # First the deliveries that were due while their endpoint had no slot, in the order they fell due.
        for endpoint_id in list(self._ready):
            held = self._held.get(endpoint_id)
            while held and len(self._inflight) < cap and self._has_slot(endpoint_id):
                ts, _, delivery_id = held.popleft()
                if self._valid(ts, delivery_id) and delivery_id not in self._inflight:
                    self._start(self._deliveries[delivery_id])
            if not held:
                self._held.pop(endpoint_id, None)
            elif len(self._inflight) >= cap:
                return  # still ready: it goes on when any slot frees
            del self._ready[endpoint_id]
        self._start_rechecks()
        now = self._clock.timestamp()
        while self._due and self._due[0][0] <= now and len(self._inflight) < cap:
            entry = heapq.heappop(self._due)
            ts, _, delivery_id = entry
            if not self._valid(ts, delivery_id) or delivery_id in self._inflight:
                continue
            delivery = self._deliveries[delivery_id]
            if delivery.endpoint_id in self._held or not self._has_slot(delivery.endpoint_id):
                self._held.setdefault(delivery.endpoint_id, deque()).append(entry)  # its endpoint's slots are taken
                continue
            self._start(delivery)

    def _start_rechecks(self) -> None:
        """Deliveries another process had claimed, whose claim ran out: it may have died."""
        if not self._rechecks:
            return
        now = time.time()
        for delivery_id, until in list(self._rechecks.items()):
            if until > now:
                continue
            del self._rechecks[delivery_id]
            delivery = self._deliveries.get(delivery_id)
            if delivery is not None and delivery.status == "pending" and delivery_id not in self._inflight:
                self._start(delivery)

    def _has_slot(self, endpoint_id: str) -> bool:
        return self._inflight_per_endpoint[endpoint_id] < self.settings.concurrency_per_endpoint

    def _start(self, delivery: Delivery) -> None:
        self._inflight.add(delivery.id)
        self._inflight_per_endpoint[delivery.endpoint_id] += 1
        if self._asking and self._handoff is None:
            self._handoff = delivery  # the worker that asked goes on with it, in this turn of the loop
            return
        task = asyncio.get_running_loop().create_task(self._work(delivery))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _work(self, delivery: Delivery | None) -> None:
        """Attempt `delivery`, then whatever is due next, as long as something is: a worker that has
        just freed a slot starts the next attempt itself, rather than waking the run loop to start a
        task for it (two turns of the event loop fewer per delivery)."""
        while delivery is not None:
            if not await self._attempt(delivery):
                # It waited on no socket (scripted, or not sent): let the attempts started before it
                # finish first, as separate tasks would, and the rest of the loop run.
                await asyncio.sleep(0)
            self._asking, self._handoff = True, None
            try:
                self._start_due()
            finally:
                delivery, self._handoff, self._asking = self._handoff, None, False

    def _slot_freed(self, delivery: Delivery) -> None:
        endpoint_id = delivery.endpoint_id
        self._inflight.discard(delivery.id)
        self._inflight_per_endpoint[endpoint_id] -= 1
        if self._inflight_per_endpoint[endpoint_id] <= 0:
            del self._inflight_per_endpoint[endpoint_id]
        if endpoint_id in self._held:
            self._ready[endpoint_id] = None

    async def _sleep(self) -> None:
        self._wake.clear()
        timeout = None
        if self._due:
            # Real time moves a running clock; a frozen one moves only by a call, which wakes us.
            timeout = 1.0 if self._clock.frozen else min(max(self._due[0][0] - self._clock.timestamp(), 0.005), 1.0)
        if self._rechecks:
            until = min(self._rechecks.values()) - time.time()
            timeout = max(min(timeout, until) if timeout is not None else until, 0.005)
        await wait_event(self._wake, timeout)

    def _locked(self) -> AbstractAsyncContextManager[None]:
        """The store's lock when processes share it (their changes are in once it is held)."""
        return self.exclusive() if self.exclusive is not None else contextlib.nullcontext()

    def _claim(self, delivery: Delivery, due: float | None) -> bool:
        """Whether this process may attempt `delivery` now. With a store shared by processes, it
        claims it (under the store's lock) until the attempt's timeout has surely passed."""
        if self.exclusive is None:
            return True
        now = time.time()
        if delivery.status != "pending" or delivery.id not in self._deliveries:
            return False
        if delivery.claim is not None and delivery.claim[0] != self.process and delivery.claim[1] > now:
            # Another process is attempting it. Look again when its claim runs out (real time), in case it died.
            self._rechecks[delivery.id] = delivery.claim[1] + 0.01
            return False
        if delivery.next_ts != due:
            return False  # rescheduled by another process meanwhile
        delivery.claim = (self.process, now + self.settings.timeout_seconds + CLAIM_MARGIN)
        self._touch(delivery)
        return True

    async def _attempt(self, delivery: Delivery) -> bool:
        """One attempt; True when it was sent (it waited on the receiver)."""
        due = delivery.next_ts
        sent = False
        try:
            async with self._locked():
                if not self._claim(delivery, due):
                    return False
                endpoint = self._registry.get(delivery.endpoint_id)
                if endpoint is None or not endpoint.enabled:
                    reason = "endpoint removed" if endpoint is None else f"endpoint disabled ({endpoint.disabled_reason or 'by request'})"
                    delivery.attempts.append(Attempt(len(delivery.attempts) + 1, iso(self._clock.now()), None, 0.0, error=reason))
                    self._finish(delivery, "failed")
                    return False
                scripted = self._scripted(delivery, endpoint)
            if scripted is not None and scripted.latency_ms:
                await asyncio.sleep(scripted.latency_ms / 1000)  # the scripted receiver is slow
            if scripted is not None and scripted.status is not None:
                number = len(delivery.attempts) + 1
                at, latency = iso(self._clock.now()), float(scripted.latency_ms)
                attempt = Attempt(number, at, scripted.status, latency, "scripted by a sandbox scenario")
                status, retry_after = scripted.status, scripted.retry_after
            else:
                attempt, status, retry_after = await self._post(delivery, endpoint)
                sent = attempt.request_headers is not None
            async with self._locked():
                delivery.claim = None
                delivery.attempts.append(attempt)
                self._decide(delivery, endpoint, status, retry_after)
        except Stopped:
            # Cut by the shutdown, or not begun: no answer of the receiver, so nothing is recorded (nor
            # a retry used up). It stays due as it was, for the next run; a shared store's claim runs out.
            log.debug("webhook delivery %s cut by the shutdown; it stays due", delivery.id)
            self._push_due(delivery)
        except Exception:  # a delivery bug must never kill the worker loop
            log.exception("webhook delivery %s crashed", delivery.id)
            self._finish(delivery, "failed")
        finally:
            self._slot_freed(delivery)
            if delivery.resend_asked:
                delivery.resend_asked = False
                self.resend(delivery.id)
            self._wake.set()
            self._progress.set()
        return sent

    def _scripted(self, delivery: Delivery, endpoint: Endpoint) -> Any:
        """A scenario rule's answer for this attempt (`on: deliver`), or None."""
        event = delivery.event
        context = {
            "event": {"id": event.id, "type": event.type, "object_id": event.object_id},
            "endpoint": {"id": endpoint.id, "url": endpoint.url},
        }
        outcome = self._rules.decide(event.provider, "deliver", event.tenant, context)
        return outcome.delivery if outcome is not None else None

    async def _post(self, delivery: Delivery, endpoint: Endpoint) -> tuple[Attempt, int | None, float | None]:
        number = len(delivery.attempts) + 1
        event = delivery.event
        signer = self._signer(event.provider)
        headers = signer.sign(endpoint.signing_secrets(self._clock.timestamp()), event.id, int(time.time()), delivery.body)
        headers.update(signer.headers(event, number))
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = "sandbox-webhooks"
        at, started = iso(self._clock.now()), time.perf_counter()
        refused = await self._registry.delivery_refusal(endpoint.url)  # never the sandbox itself (core/webhooks/targets.py)
        if refused is not None:
            return Attempt(number, at, None, 0.0, error=refused), None, None
        # Checked with no await before the request starts: while `run` runs, its session is open.
        if not self._running or self._session is None:
            raise Stopped
        try:
            async with self._session.post(endpoint.url, data=delivery.body, headers=headers, allow_redirects=False) as resp:
                excerpt = (await resp.content.read(EXCERPT)).decode("utf-8", "replace")
                latency = round((time.perf_counter() - started) * 1000, 1)
                attempt = Attempt(number, at, resp.status, latency, excerpt, request_headers=headers)
                return attempt, resp.status, _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            if not self._running:
                raise Stopped from exc  # the shutdown closed the session under it: no answer of the receiver
            latency = round((time.perf_counter() - started) * 1000, 1)
            message = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            return Attempt(number, at, None, latency, error=message, request_headers=headers), None, None

    def _decide(self, delivery: Delivery, endpoint: Endpoint, status: int | None, retry_after: float | None) -> None:
        self._touch(delivery)
        if status is not None and 200 <= status < 300:
            self._finish(delivery, "delivered")
        elif status == 410:  # the receiver says it is gone for good: stop sending to it
            endpoint.enabled = False
            endpoint.disabled_reason = "the receiver answered 410 Gone"
            self._finish(delivery, "failed")
        elif delivery.status == "pending" and len(delivery.attempts) <= len(self.settings.schedule):
            delay = self.settings.schedule[len(delivery.attempts) - 1]
            self._schedule(delivery, self._clock.timestamp() + (retry_after if retry_after is not None else delay))
        else:
            self._finish(delivery, "failed")

    def _finish(self, delivery: Delivery, status: str) -> None:
        self._touch(delivery)
        if delivery.status == "pending":
            self._count_pending(delivery, -1)
        delivery.status = status
        chain = self._chains.get(delivery.chain)
        if chain is not None and delivery in chain:
            was_head = chain[0] is delivery
            chain.remove(delivery)  # a resend may finish one that still waited behind others
            while chain and chain[0].status != "pending":
                chain.popleft()
            if not chain:
                del self._chains[delivery.chain]
            elif was_head:
                self._schedule(chain[0], self._clock.timestamp())
        if delivery.id in self._deliveries:  # not when a reset already forgot it
            self._finished_now(delivery)

    def _schedule(self, delivery: Delivery, ts: float) -> None:
        self._touch(delivery)
        delivery.next_ts = ts
        self._seq += 1
        heapq.heappush(self._due, (ts, self._seq, delivery.id))

    # -- bounds ----------------------------------------------------------------------------

    def _full(self, delivery: Delivery) -> str | None:
        """Why a new delivery cannot be pending, or None: its endpoint's bounds first (for its tenant, then
        for all), then its tenant's, then the outbox's."""
        event, settings = delivery.event, self.settings
        pending = self._pending_per_endpoint[(delivery.endpoint_id, event.tenant)]
        if pending >= settings.max_pending_per_endpoint:
            return (
                f"{pending} deliveries of tenant {event.tenant} to endpoint {delivery.endpoint_id} were already pending "
                "(its receiver is not keeping up)"
            )
        pending = self._pending_per_endpoint_all_tenants[delivery.endpoint_id]
        if pending >= settings.max_pending_per_endpoint_all_tenants:
            return (
                f"{pending} deliveries to endpoint {delivery.endpoint_id} were already pending, of all its tenants "
                "(its receiver is not keeping up)"
            )
        pending = self._pending_per_tenant[(event.provider, event.tenant)]
        if pending >= settings.max_pending_per_tenant:
            return f"{pending} deliveries of tenant {event.tenant} were already pending"
        if self._pending >= settings.max_pending:
            return f"the outbox was full ({self._pending} deliveries pending)"
        return None

    def _count_pending(self, delivery: Delivery, change: int) -> None:
        self._pending += change
        counters: tuple[tuple[Counter[Any], Any], ...] = (
            (self._pending_per_tenant, (delivery.event.provider, delivery.event.tenant)),
            (self._pending_per_endpoint, (delivery.endpoint_id, delivery.event.tenant)),
            (self._pending_per_endpoint_all_tenants, delivery.endpoint_id),
        )
        for counter, key in counters:
            counter[key] += change
            if counter[key] <= 0:
                del counter[key]

    def _finished_now(self, delivery: Delivery) -> None:
        """Finished deliveries are kept up to `max_deliveries` (pending ones are bounded apart). Beyond,
        the one that finished first goes, of the tenant that has the most: so a delivery just dropped
        by a bound stays listed, and one tenant's flood pushes out its own, not everyone's."""
        self._finished.limit = self.settings.max_deliveries
        for gone in self._finished.add(_share(delivery), delivery.id, delivery.id):
            if self._deliveries.pop(gone, None) is not None and self.touched is not None:
                self.touched.add(gone)


def _share(delivery: Delivery) -> tuple[str, str]:
    return delivery.event.provider, delivery.event.tenant


def _field(delivery: Delivery, name: str) -> Any:
    if name in ("event_type", "object_id", "provider", "tenant"):
        return getattr(delivery.event, name.removeprefix("event_"))
    return getattr(delivery, name)


MAX_RETRY_AFTER = 7 * 86400.0  # a receiver cannot push a retry further than a week


def _retry_after(value: str | None) -> float | None:
    """Seconds or an HTTP date, as RFC 9110 allows; anything else is ignored."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text) if text.isascii() and text.isdigit() else parsedate_to_datetime(text).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
