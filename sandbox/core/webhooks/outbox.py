"""The outbox: every event an endpoint wants becomes a delivery, attempted in the background.

- The API never waits: publishing only records deliveries; worker tasks POST them.
- Retries follow a schedule on the sandbox clock (Svix's by default), so advancing the clock
  makes due retries run; `Retry-After` is honoured; a 410 disables the endpoint.
- Deliveries of one object to one endpoint go out in order: a later one waits until the
  earlier one is delivered or has given up.
- Signature timestamps are real time, because receivers check them against their own clocks.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
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
from sandbox.core.webhooks.endpoints import Endpoint, EndpointRegistry

log = logging.getLogger("sandbox.webhooks")

EXCERPT = 1024  # bytes of each response body kept in the delivery log


@dataclass(slots=True)
class Attempt:
    number: int
    at: str
    status_code: int | None
    latency_ms: float
    response_body: str | None = None
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "attempt": self.number, "at": self.at, "status_code": self.status_code, "latency_ms": self.latency_ms,
            "response_body": self.response_body, "error": self.error,
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
    concurrency: int = 16
    max_deliveries: int = 10_000  # finished deliveries beyond this are forgotten, oldest first
    max_pending: int = 10_000  # beyond this, new deliveries fail at once: a dead receiver must not eat memory


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
        self._deliveries: OrderedDict[str, Delivery] = OrderedDict()
        self._chains: dict[tuple[str, str], deque[Delivery]] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._pending = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        clock.subscribe(self._wake.set)

    # -- recording -------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """EventLog subscriber: one delivery per endpoint that wants the event."""
        endpoints = self._registry.matching(event)
        if not endpoints:
            return
        body = orjson.dumps(event.payload)
        for endpoint in endpoints:
            delivery = Delivery(self._make_id(), endpoint.id, event, body, iso(self._clock.now()))
            self._remember(delivery)
            if self._pending >= self.settings.max_pending:
                delivery.note = f"not sent: the outbox was full ({self._pending} deliveries pending)"
                delivery.status = "failed"
                self._trim()
                continue
            self._pending += 1
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
        if delivery.id in self._inflight:
            delivery.resend_asked = True  # attempted again as soon as the current attempt ends
            return delivery
        if delivery.status != "pending":
            self._pending += 1
        delivery.status = "pending"
        self._schedule(delivery, self._clock.timestamp())
        self._wake.set()
        return delivery

    def get(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def query(self, **filters: str | None) -> list[Delivery]:
        wanted = {name: value for name, value in filters.items() if value is not None}
        return [d for d in self._deliveries.values() if all(_field(d, name) == value for name, value in wanted.items())]

    def sizes(self) -> dict[str, int]:
        return {"deliveries": len(self._deliveries), "delivery_chains": len(self._chains), "due": len(self._due)}

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        self._clear_deliveries(provider, tenant)
        self._due = [entry for entry in self._due if entry[2] in self._deliveries]  # drop what was cleared
        heapq.heapify(self._due)

    def _clear_deliveries(self, provider: str | None, tenant: str | None) -> None:
        for delivery in [d for d in self._deliveries.values() if provider in (None, d.event.provider) and tenant in (None, d.event.tenant)]:
            del self._deliveries[delivery.id]
            if delivery.status == "pending":
                self._pending -= 1
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
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds)) as session:
            self._session = session
            while True:
                self._start_due()
                await self._sleep()

    async def flush(self, timeout: float) -> bool:
        """Wait until nothing is due now and nothing is in flight; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._busy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._progress.clear()
            await wait_event(self._progress, min(remaining, 0.05))
        return True

    def _busy(self) -> bool:
        now = self._clock.timestamp()
        return bool(self._inflight) or any(ts <= now and self._valid(ts, did) for ts, _, did in self._due)

    def _valid(self, ts: float, delivery_id: str) -> bool:
        delivery = self._deliveries.get(delivery_id)
        return delivery is not None and delivery.status == "pending" and delivery.next_ts == ts

    def _start_due(self) -> None:
        now = self._clock.timestamp()
        while self._due and self._due[0][0] <= now and len(self._inflight) < self.settings.concurrency:
            ts, _, delivery_id = heapq.heappop(self._due)
            if self._valid(ts, delivery_id) and delivery_id not in self._inflight:
                self._inflight.add(delivery_id)
                task = asyncio.get_running_loop().create_task(self._attempt(self._deliveries[delivery_id]))
                self._tasks.add(task)  # keep a reference until it is done
                task.add_done_callback(self._tasks.discard)

    async def _sleep(self) -> None:
        self._wake.clear()
        timeout = None
        if self._due:
            # Real time moves a running clock; a frozen one moves only by a call, which wakes us.
            timeout = 1.0 if self._clock.frozen else min(max(self._due[0][0] - self._clock.timestamp(), 0.005), 1.0)
        await wait_event(self._wake, timeout)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            endpoint = self._registry.get(delivery.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                reason = "endpoint removed" if endpoint is None else f"endpoint disabled ({endpoint.disabled_reason or 'by request'})"
                delivery.attempts.append(Attempt(len(delivery.attempts) + 1, iso(self._clock.now()), None, 0.0, error=reason))
                self._finish(delivery, "failed")
                return
            scripted = self._scripted(delivery, endpoint)
            if scripted is not None and scripted.latency_ms:
                await asyncio.sleep(scripted.latency_ms / 1000)  # the scripted receiver is slow
            if scripted is not None and scripted.status is not None:
                number = len(delivery.attempts) + 1
                at, latency = iso(self._clock.now()), float(scripted.latency_ms)
                attempt = Attempt(number, at, scripted.status, latency, "scripted by a sandbox scenario")
                delivery.attempts.append(attempt)
                status, retry_after = scripted.status, scripted.retry_after
            else:
                status, retry_after = await self._post(delivery, endpoint)
            self._decide(delivery, endpoint, status, retry_after)
        except Exception:  # a delivery bug must never kill the worker loop
            log.exception("webhook delivery %s crashed", delivery.id)
            self._finish(delivery, "failed")
        finally:
            self._inflight.discard(delivery.id)
            if delivery.resend_asked:
                delivery.resend_asked = False
                self.resend(delivery.id)
            self._wake.set()
            self._progress.set()

    def _scripted(self, delivery: Delivery, endpoint: Endpoint) -> Any:
        """A scenario rule's answer for this attempt (`on: deliver`), or None."""
        event = delivery.event
        context = {
            "event": {"id": event.id, "type": event.type, "object_id": event.object_id},
            "endpoint": {"id": endpoint.id, "url": endpoint.url},
        }
        outcome = self._rules.decide(event.provider, "deliver", event.tenant, context)
        return outcome.delivery if outcome is not None else None

    async def _post(self, delivery: Delivery, endpoint: Endpoint) -> tuple[int | None, float | None]:
        number = len(delivery.attempts) + 1
        event = delivery.event
        signer = self._signer(event.provider)
        headers = signer.sign(endpoint.signing_secrets(self._clock.timestamp()), event.id, int(time.time()), delivery.body)
        headers.update(signer.headers(event, number))
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = "sandbox-webhooks"
        at, started = iso(self._clock.now()), time.perf_counter()
        if self._session is None:  # attempts start only from run(), which opens the session
            raise RuntimeError("the outbox is not running")
        try:
            async with self._session.post(endpoint.url, data=delivery.body, headers=headers, allow_redirects=False) as resp:
                excerpt = (await resp.content.read(EXCERPT)).decode("utf-8", "replace")
                latency = round((time.perf_counter() - started) * 1000, 1)
                delivery.attempts.append(Attempt(number, at, resp.status, latency, excerpt))
                return resp.status, _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            latency = round((time.perf_counter() - started) * 1000, 1)
            message = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(Attempt(number, at, None, latency, error=message))
            return None, None

    def _decide(self, delivery: Delivery, endpoint: Endpoint, status: int | None, retry_after: float | None) -> None:
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
        if delivery.status == "pending":
            self._pending -= 1
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
        self._trim()

    def _schedule(self, delivery: Delivery, ts: float) -> None:
        delivery.next_ts = ts
        self._seq += 1
        heapq.heappush(self._due, (ts, self._seq, delivery.id))

    def _remember(self, delivery: Delivery) -> None:
        self._deliveries[delivery.id] = delivery

    def _trim(self) -> None:
        excess = len(self._deliveries) - self.settings.max_deliveries
        if excess > 0:
            for old in [d for d in self._deliveries.values() if d.status != "pending"][:excess]:
                del self._deliveries[old.id]


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
