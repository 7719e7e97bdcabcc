"""The outbox without a socket: receivers' answers are scripted by `on: deliver` rules, time is the sandbox clock."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from sandbox.core.clock import Clock
from sandbox.core.events import Event
from sandbox.core.scenarios.rules import OutcomeCatalog, Rule, RuleBook
from sandbox.core.webhooks.endpoints import EndpointRegistry
from sandbox.core.webhooks.outbox import Attempt, Outbox, OutboxSettings

START = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE = (5.0, 300.0, 1800.0)


@dataclass(frozen=True)
class FakeProvider:
    name: str
    outcomes: dict = field(default_factory=dict)


CATALOG = OutcomeCatalog.of([FakeProvider("acme"), FakeProvider("beta")])


class NoSigner:
    """Scripted attempts never sign or POST: any use of the signer means a real request was tried."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __call__(self, provider: str):
        self.used.append(provider)
        raise AssertionError(f"tried to POST a {provider} webhook for real")


class RecordingRules(RuleBook):
    """A rule book that notes each delivery attempt it is asked about, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str]] = []  # (event id, endpoint id)

    def decide(self, provider, operation, tenant, context):
        if operation == "deliver":
            self.asked.append((context["event"]["id"], context["endpoint"]["id"]))
        return super().decide(provider, operation, tenant, context)


def deliver(status: int | None = None, provider: str = "acme", **more) -> Rule:
    delivery = {"status": status} if status is not None else {}
    delivery.update(more.pop("delivery", {}))
    data = {"provider": provider, "on": "deliver", "then": {"delivery": delivery}, **more}
    return Rule.model_validate(data, context={"catalog": CATALOG})


class PlainSigner:
    """Signs nothing: for the tests that POST to a real receiver on loopback."""

    def sign(self, secrets, message_id, timestamp, body):
        return {"X-Test-Id": message_id}

    def headers(self, event, attempt):
        return {"X-Test-Attempt": str(attempt)}


class Harness:
    def __init__(self, signer=None, **settings) -> None:
        self.clock = Clock(START)
        counter = itertools.count(1)
        self.endpoints = EndpointRegistry(lambda: f"ep_{next(counter)}", lambda: bytes(24))
        self.rules = RecordingRules()
        self.signer = signer or NoSigner()
        dlv = itertools.count(1)
        self.outbox = Outbox(
            self.clock, self.endpoints, self.signer, lambda: f"dlv_{next(dlv)}",
            OutboxSettings(schedule=SCHEDULE, **settings), rules=self.rules,
        )
        self._events = itertools.count(1)

    def script(self, *rules: Rule) -> None:
        self.rules.load("scn", "script", list(rules))

    def endpoint(self, provider: str = "acme", url: str | None = None, **options):
        url = url or f"http://receiver.invalid/{provider}"
        return self.endpoints.add(provider, url, "2026-01-01T00:00:00.000Z", **options)

    def publish(self, object_id: str = "obj_1", type: str = "thing.updated", provider: str = "acme", tenant: str = "t1") -> Event:
        number = next(self._events)
        event = Event(f"evt_{number}", provider, tenant, type, object_id, "2026-01-01T00:00:00.000Z", {"n": number})
        self.outbox.publish(event)
        return event

    async def flush(self) -> None:
        assert await self.outbox.flush(2.0), "the outbox did not settle"

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.flush()

    def only(self, **filters):
        (delivery,) = self.outbox.query(**filters)
        return delivery.to_wire()


@pytest.fixture
async def make():
    tasks = []

    def start(**settings) -> Harness:
        harness = Harness(**settings)
        tasks.append(asyncio.get_running_loop().create_task(harness.outbox.run()))
        return harness

    yield start
    for task in tasks:
        await stop(task)


async def stop(task: asyncio.Task) -> None:
    """One cancellation ends it, as aiohttp's cleanup context expects."""
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done(), "Outbox.run() ignored its cancellation"
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


@pytest.fixture
async def h(make) -> Harness:
    return make()


def statuses(delivery: dict) -> list[int | None]:
    return [attempt["status_code"] for attempt in delivery["attempts"]]


async def test_a_2xx_delivers_at_once_without_a_real_request(h):
    h.script(deliver(204))
    ep = h.endpoint()
    event = h.publish()
    await h.flush()
    wire = h.only()
    assert (wire["status"], wire["endpoint_id"], wire["event_id"], wire["next_attempt_at"]) == ("delivered", ep.id, event.id, None)
    assert wire["attempts"] == [{
        "attempt": 1, "at": "2026-01-01T00:00:00.000Z", "status_code": 204, "latency_ms": 0.0,
        "response_body": "scripted by a sandbox scenario", "error": None, "request_headers": None,
    }]
    assert h.signer.used == []
    assert h.outbox.sizes() == {"deliveries": 1, "delivery_chains": 0, "due": 0}


async def test_failures_retry_on_the_schedule_of_the_sandbox_clock(h):
    h.script(deliver(500))
    h.endpoint()
    h.publish()
    await h.flush()
    wire = h.only()
    assert (wire["status"], statuses(wire), wire["next_attempt_at"]) == ("pending", [500], "2026-01-01T00:00:05.000Z")
    await h.advance(4.999)  # not yet due
    assert statuses(h.only()) == [500]
    await h.advance(0.001)
    wire = h.only()
    assert statuses(wire) == [500, 500] and wire["next_attempt_at"] == "2026-01-01T00:05:05.000Z"
    await h.advance(300)
    assert h.only()["next_attempt_at"] == "2026-01-01T00:35:05.000Z"
    await h.advance(1800)  # the schedule is used up: this was the last attempt
    wire = h.only()
    assert (wire["status"], wire["next_attempt_at"]) == ("failed", None)
    assert [a["at"] for a in wire["attempts"]] == [
        "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:05.000Z", "2026-01-01T00:05:05.000Z", "2026-01-01T00:35:05.000Z",
    ]
    assert [a["attempt"] for a in wire["attempts"]] == [1, 2, 3, 4]
    await h.advance(86400)
    assert len(h.only()["attempts"]) == 4
    assert h.outbox.sizes() == {"deliveries": 1, "delivery_chains": 0, "due": 0}


async def test_a_latency_only_rule_sends_for_real_and_a_crash_fails_only_that_delivery(h):
    h.script(deliver(delivery={"latency_ms": 1}, times=1), deliver(200))  # no status: the receiver is really called
    h.endpoint()
    h.publish("o1")
    await h.flush()
    crashed = h.only(object_id="o1")
    # The fake signer refuses to sign (no socket in these tests): the attempt crashes, which fails that delivery only.
    assert crashed["status"] == "failed" and crashed["attempts"] == [] and h.signer.used == ["acme"]
    h.publish("o2")
    await h.flush()
    assert h.only(object_id="o2")["status"] == "delivered"  # the worker loop lives on


async def test_retry_after_and_a_later_success(h):
    h.script(deliver(503, delivery={"retry_after": 60}, times=1), deliver(200))
    h.endpoint()
    h.publish()
    await h.flush()
    assert h.only()["next_attempt_at"] == "2026-01-01T00:01:00.000Z"  # not the schedule's 5 s
    await h.advance(59)
    assert statuses(h.only()) == [503]
    await h.advance(1)
    wire = h.only()
    assert (wire["status"], statuses(wire)) == ("delivered", [503, 200])


async def test_one_object_goes_out_in_order_to_one_endpoint(h):
    ep = h.endpoint()
    h.script(deliver(500, when={"event.id": "evt_1"}, times=1), deliver(200))
    first, second = h.publish("obj_1", "thing.created"), h.publish("obj_1", "thing.updated")
    other = h.publish("obj_2", "thing.created")  # another object is not held up
    await h.flush()
    assert h.only(event_type="thing.created", object_id="obj_1")["status"] == "pending"
    waiting = h.only(event_type="thing.updated")
    assert (waiting["status"], waiting["attempts"], waiting["next_attempt_at"]) == ("pending", [], None)
    assert h.only(object_id="obj_2")["status"] == "delivered"
    assert h.outbox.sizes() == {"deliveries": 3, "delivery_chains": 1, "due": 1}
    await h.advance(5)
    assert h.only(event_type="thing.created", object_id="obj_1")["status"] == "delivered"
    assert h.only(event_type="thing.updated")["status"] == "delivered"
    assert h.rules.asked == [(first.id, ep.id), (other.id, ep.id), (first.id, ep.id), (second.id, ep.id)]
    assert h.outbox.sizes()["delivery_chains"] == 0


async def test_a_delivery_that_gives_up_lets_the_next_one_go(h):
    h.script(deliver(500, when={"event.id": "evt_1"}), deliver(200))
    h.endpoint()
    h.publish("obj_1", "thing.created")
    h.publish("obj_1", "thing.updated")
    await h.flush()
    for seconds in SCHEDULE:
        await h.advance(seconds)
    assert h.only(event_type="thing.created")["status"] == "failed"
    assert h.only(event_type="thing.updated")["status"] == "delivered"


async def test_each_endpoint_has_its_own_order(h):
    slow, fast = h.endpoint(), h.endpoint()
    h.script(deliver(500, when={"endpoint.id": slow.id}), deliver(200))
    h.publish("obj_1", "a")
    h.publish("obj_1", "b")
    await h.flush()
    assert [d.status for d in h.outbox.query(endpoint_id=fast.id)] == ["delivered", "delivered"]
    assert [len(d.attempts) for d in h.outbox.query(endpoint_id=slow.id)] == [1, 0]


async def test_a_410_disables_the_endpoint(h):
    h.script(deliver(410))
    gone = h.endpoint()
    h.publish("obj_1", "a")
    h.publish("obj_1", "b")  # queued behind the first
    await h.flush()
    assert gone.enabled is False and gone.disabled_reason == "the receiver answered 410 Gone"
    first, second = (h.only(event_type=t) for t in ("a", "b"))
    assert (first["status"], statuses(first)) == ("failed", [410])
    assert second["status"] == "failed"
    assert second["attempts"][0]["error"] == "endpoint disabled (the receiver answered 410 Gone)"
    assert second["attempts"][0]["status_code"] is None
    h.publish("obj_3", "c")  # a disabled endpoint gets no new deliveries
    assert h.outbox.query(event_type="c") == []
    assert len(h.rules.asked) == 1


async def test_a_removed_endpoint_fails_its_queued_retries(h):
    h.script(deliver(500))
    ep = h.endpoint()
    h.publish()
    await h.flush()
    h.endpoints.remove(ep.id)
    await h.advance(5)
    wire = h.only()
    assert wire["status"] == "failed" and wire["attempts"][-1]["error"] == "endpoint removed"


async def test_endpoint_filters_decide_who_gets_a_delivery(h):
    h.script(deliver(200, provider="acme"), deliver(200, provider="beta"))
    everything = h.endpoint()
    only_t2 = h.endpoint(tenant="t2")
    only_created = h.endpoint(events=["thing.created", "other.*"])
    beta = h.endpoint("beta")
    h.publish("o1", "thing.created", tenant="t1")
    h.publish("o2", "thing.updated", tenant="t2")
    h.publish("o3", "other.x", provider="beta")
    await h.flush()
    got = {(d.endpoint_id, d.event.object_id) for d in h.outbox.query(status="delivered")}
    assert got == {(everything.id, "o1"), (only_created.id, "o1"), (everything.id, "o2"), (only_t2.id, "o2"), (beta.id, "o3")}


async def test_clear_by_provider_and_tenant_stops_their_retries(h):
    h.script(deliver(500, provider="acme"), deliver(500, provider="beta"))
    h.endpoint()
    h.endpoint("beta")
    h.publish("a1", tenant="t1")
    h.publish("a1", tenant="t1")  # waits behind the first: in a chain, not due
    h.publish("a2", tenant="t2")
    h.publish("b1", provider="beta", tenant="t1")
    await h.flush()
    assert h.outbox.sizes() == {"deliveries": 4, "delivery_chains": 3, "due": 3}
    h.outbox.clear(provider="acme", tenant="t1")
    assert h.outbox.sizes() == {"deliveries": 2, "delivery_chains": 2, "due": 2}
    assert {(d.event.provider, d.event.tenant) for d in h.outbox.query()} == {("acme", "t2"), ("beta", "t1")}
    h.outbox.clear(tenant="t2")
    assert [d.event.object_id for d in h.outbox.query()] == ["b1"]
    asked = len(h.rules.asked)
    await h.advance(5)
    assert len(h.rules.asked) == asked + 1  # only beta's retry ran
    h.outbox.clear(provider="beta")
    assert h.outbox.sizes() == {"deliveries": 0, "delivery_chains": 0, "due": 0}
    await h.advance(3600)
    assert len(h.rules.asked) == asked + 1 and h.outbox.query() == []


async def test_clear_everything_and_start_again(h):
    h.script(deliver(500, times=2), deliver(200))
    h.endpoint()
    h.publish("o1")
    h.publish("o2")
    await h.flush()
    h.outbox.clear()
    assert h.outbox.sizes() == {"deliveries": 0, "delivery_chains": 0, "due": 0}
    h.publish("o1")  # the same object id again, as after a reset: nothing of the old chain holds it back
    await h.flush()
    assert h.only()["status"] == "delivered"


async def test_sizes_count_what_is_held(make):
    h = make(max_deliveries=3)
    h.script(deliver(200))
    h.endpoint()
    for n in range(5):
        h.publish(f"o{n}")
    assert h.outbox.sizes() == {"deliveries": 5, "delivery_chains": 5, "due": 5}  # recorded, not yet attempted
    await h.flush()
    assert h.outbox.sizes() == {"deliveries": 3, "delivery_chains": 0, "due": 0}  # finished ones beyond the bound are forgotten
    assert [d.event.object_id for d in h.outbox.query()] == ["o2", "o3", "o4"]


async def test_a_full_outbox_fails_new_deliveries_at_once(make):
    h = make(max_pending=2)
    h.script(deliver(500))
    h.endpoint()
    for n in range(3):
        h.publish(f"o{n}")
    await h.flush()
    dropped = h.only(object_id="o2")
    assert dropped["status"] == "failed" and dropped["attempts"] == [] and "the outbox was full (2 deliveries pending)" in dropped["note"]
    assert len(h.outbox.query(status="pending")) == 2


async def test_resend_attempts_again_now(h):
    h.script(deliver(500, times=4), deliver(200))
    h.endpoint()
    h.publish()
    for seconds in (0, *SCHEDULE):
        await h.advance(seconds) if seconds else await h.flush()
    delivery_id = h.only()["id"]
    assert h.only()["status"] == "failed"
    assert h.outbox.resend(delivery_id).status == "pending"
    await h.flush()
    wire = h.only()
    assert (wire["status"], statuses(wire), wire["attempts"][-1]["attempt"]) == ("delivered", [500, 500, 500, 500, 200], 5)
    assert h.outbox.resend("dlv_unknown") is None


async def test_flush_reports_a_timeout_when_nothing_runs_the_outbox():
    h = Harness()  # run() never started
    h.script(deliver(200))
    h.endpoint()
    h.publish()
    assert await h.outbox.flush(0.05) is False
    assert h.only()["status"] == "pending"


async def test_run_ends_when_cancelled_just_after_the_clock_moved():
    h = Harness()
    h.script(deliver(500))
    h.endpoint()
    task = asyncio.get_running_loop().create_task(h.outbox.run())
    try:
        h.publish()
        await h.flush()  # a retry is due in 5 s, so run() sleeps with a timeout
        h.clock.advance(1)  # wakes run() ...
        task.cancel()  # ... as the app shuts down (aiohttp's cleanup context cancels it)
        done, _ = await asyncio.wait({task}, timeout=0.3)
        assert task in done, "Outbox.run() ignored its cancellation"
    finally:
        await stop(task)


# -- bounds per endpoint and tenant (issue 13) ------------------------------------------------


async def test_a_dead_receiver_does_not_starve_another_tenants_healthy_one(h):
    dead = h.endpoint(tenant="t1")
    healthy = h.endpoint(tenant="t2")
    h.script(deliver(500, when={"endpoint.id": dead.id}), deliver(200))
    for n in range(10_200):  # more than the whole outbox used to hold
        h.publish(f"d{n}", tenant="t1")
    for n in range(300):
        h.publish(f"h{n}", tenant="t2")
    await h.flush()
    assert len(h.outbox.query(endpoint_id=healthy.id, status="delivered")) == 300
    bound = h.outbox.settings.max_pending_per_endpoint
    assert len(h.outbox.query(endpoint_id=dead.id, status="pending")) == bound == 1000
    dropped = h.outbox.query(endpoint_id=dead.id, status="failed")
    assert len(dropped) == 10_200 - bound
    assert dropped[0].attempts == [] and dropped[0].note == (
        f"not sent: 1000 deliveries of tenant t1 to endpoint {dead.id} were already pending (its receiver is not keeping up)"
    )


async def test_one_tenant_cannot_fill_the_outbox_through_many_endpoints(make):
    h = make(max_pending_per_endpoint=3, max_pending_per_tenant=5, max_pending=100)
    h.script(deliver(500))
    for _ in range(4):
        h.endpoint(tenant="t1")
    h.endpoint(tenant="t2")
    h.publish("o1", tenant="t1")  # 4 deliveries
    h.publish("o2", tenant="t1")  # 1 more fits, 3 are dropped
    h.publish("o3", tenant="t2")
    await h.flush()
    assert len(h.outbox.query(tenant="t1", status="pending")) == 5
    notes = {d.note for d in h.outbox.query(tenant="t1", status="failed")}
    assert notes == {"not sent: 5 deliveries of tenant t1 were already pending"}
    assert len(h.outbox.query(tenant="t2", status="pending")) == 1


async def test_a_dead_endpoint_with_no_tenant_cannot_fill_the_outbox(make):
    """An endpoint with no tenant gets every tenant's events: bounded per tenant only, a dead one
    filled the whole outbox from enough tenants, and another tenant's healthy endpoint then got
    nothing ("the outbox was full"). Its bound across its tenants leaves room for everyone else."""
    h = make(max_pending_per_endpoint=3, max_pending_per_endpoint_all_tenants=5, max_pending=8)
    dead = h.endpoint()  # no tenant
    h.script(deliver(500, when={"endpoint.id": dead.id}), deliver(200))
    for tenant in ("t1", "t2", "t3", "t4"):
        for n in range(3):
            h.publish(f"{tenant}_{n}", tenant=tenant)
    await h.flush()
    assert len(h.outbox.query(endpoint_id=dead.id, status="pending")) == 5
    dropped = h.outbox.query(endpoint_id=dead.id, status="failed")
    assert len(dropped) == 12 - 5 and all(d.attempts == [] for d in dropped)
    assert {d.note for d in dropped} == {
        f"not sent: 5 deliveries to endpoint {dead.id} were already pending, of all its tenants (its receiver is not keeping up)",
    }
    healthy = h.endpoint(tenant="t9")
    for n in range(6):  # the dead endpoint gets these too, and drops them
        h.publish(f"t9_{n}", tenant="t9")
        await h.flush()
    assert [d.status for d in h.outbox.query(endpoint_id=healthy.id)] == ["delivered"] * 6
    assert h.outbox.pending_counts()["per_endpoint_all_tenants"] == {dead.id: 5}


async def test_the_default_bounds_leave_room_beside_a_dead_endpoint_with_no_tenant(h):
    """The audit's case, at the default bounds: a dead endpoint with no tenant, 12 tenants of 1 000
    events each, then 50 events of a tenant with a healthy endpoint of its own."""
    dead = h.endpoint()
    h.script(deliver(500, when={"endpoint.id": dead.id}), deliver(200))
    for tenant in range(12):
        for n in range(1000):
            h.publish(f"o{n}", tenant=f"t{tenant}")
    await h.flush()
    assert len(h.outbox.query(endpoint_id=dead.id, status="pending")) == 2500
    assert h.outbox.pending_counts()["total"] == 2500  # 7 500 of the 10 000 left to everyone else
    healthy = h.endpoint(tenant="healthy")
    for n in range(50):
        h.publish(f"h{n}", tenant="healthy")
    await h.flush()
    assert [d.status for d in h.outbox.query(endpoint_id=healthy.id)] == ["delivered"] * 50


async def test_a_dropped_delivery_stays_in_the_log_until_older_finished_ones_go(make):
    h = make(max_pending=2, max_deliveries=2)
    h.script(deliver(500, when={"event.type": "stuck"}), deliver(200))
    h.endpoint()
    h.publish("early", "fine")
    await h.flush()
    h.publish("a", "stuck")
    h.publish("b", "stuck")
    h.publish("c", "stuck")  # dropped: two are pending
    await h.flush()
    dropped = h.only(object_id="c")
    assert dropped["status"] == "failed" and dropped["note"] == "not sent: the outbox was full (2 deliveries pending)"
    assert h.only(object_id="early")["status"] == "delivered"  # two finished fit in the log
    h.publish("d", "stuck")  # dropped too: the oldest finished one (early) goes, not a drop
    await h.flush()
    assert [d.event.object_id for d in h.outbox.query()] == ["a", "b", "c", "d"]
    h.publish("e", "stuck")
    assert [d.event.object_id for d in h.outbox.query()] == ["a", "b", "d", "e"]


async def test_pending_counts_return_to_zero(make):
    h = make(max_pending_per_endpoint=2)
    h.script(deliver(500, times=3), deliver(200))
    ep = h.endpoint()
    for n in range(3):
        h.publish(f"o{n}")
    await h.flush()
    assert h.outbox.pending_counts() == {
        "total": 2, "per_tenant": {("acme", "t1"): 2}, "per_endpoint": {(ep.id, "t1"): 2}, "per_endpoint_all_tenants": {ep.id: 2},
    }
    none = {"total": 0, "per_tenant": {}, "per_endpoint": {}, "per_endpoint_all_tenants": {}}
    for seconds in SCHEDULE:
        await h.advance(seconds)
    assert h.outbox.pending_counts() == none
    h.publish("again")
    await h.flush()
    h.outbox.clear()
    assert h.outbox.pending_counts() == none
    assert h.outbox.sizes() == {"deliveries": 0, "delivery_chains": 0, "due": 0}


async def test_each_endpoint_has_its_own_slots(make):
    h = make(concurrency=6, concurrency_per_endpoint=2)
    gate = asyncio.Event()
    seen: dict[str, int] = {}
    most: dict[str, int] = {}

    async def post(delivery, endpoint):
        seen[endpoint.id] = seen.get(endpoint.id, 0) + 1
        most[endpoint.id] = max(most.get(endpoint.id, 0), seen[endpoint.id])
        try:
            if endpoint.url.endswith("slow"):
                await gate.wait()
        finally:
            seen[endpoint.id] -= 1
        return Attempt(len(delivery.attempts) + 1, "2026-01-01T00:00:00.000Z", 200, 0.0), 200, None

    h.outbox._post = post  # a receiver in memory: the slow one hangs until the gate opens
    slow = h.endpoints.add("acme", "http://receiver.invalid/slow", "2026-01-01T00:00:00.000Z", tenant="t1")
    fast = h.endpoints.add("acme", "http://receiver.invalid/fast", "2026-01-01T00:00:00.000Z", tenant="t2")
    for n in range(10):
        h.publish(f"s{n}", tenant="t1")
    for n in range(50):
        h.publish(f"f{n}", tenant="t2")
    for _ in range(10_000):  # no time passes: the loop only gets its turns
        if len(h.outbox.query(endpoint_id=fast.id, status="delivered")) == 50:
            break
        await asyncio.sleep(0)
    assert len(h.outbox.query(endpoint_id=fast.id, status="delivered")) == 50
    assert seen[slow.id] == 2 and most[slow.id] == 2
    assert h.outbox.sizes()["due"] == 8  # the slow endpoint's others wait for its slots
    gate.set()
    await h.flush()
    assert len(h.outbox.query(endpoint_id=slow.id, status="delivered")) == 10 and most[slow.id] == 2
    assert h.outbox.sizes() == {"deliveries": 60, "delivery_chains": 0, "due": 0}


async def test_one_tenant_cannot_push_everyone_elses_deliveries_out_of_the_log(make):
    h = make(max_deliveries=10)
    h.script(deliver(200))
    h.endpoint()
    for n in range(3):
        h.publish(f"quiet{n}", tenant="quiet")
    await h.flush()
    for n in range(50):
        h.publish(f"loud{n}", tenant="loud")
    await h.flush()
    assert [d.event.object_id for d in h.outbox.query(tenant="quiet")] == ["quiet0", "quiet1", "quiet2"]
    assert [d.event.object_id for d in h.outbox.query(tenant="loud")] == [f"loud{n}" for n in range(43, 50)]
    assert h.outbox.sizes()["deliveries"] == 10


def test_a_chain_head_finished_elsewhere_leaves_the_next_delivery_due_here():
    """Another process sharing the store finished a chain's head and scheduled the next one; the
    changes arrive here next first, head second. The next one is due here too, so it is not lost
    if that process dies before attempting it."""
    here, there = Harness(), Harness()
    for harness in (here, there):
        harness.endpoint()
        harness.publish()
        harness.publish()  # the same object: it waits behind the first
    head, following = (copy.deepcopy(d) for d in there.outbox.all())
    for delivery in (head, following):
        here.outbox.restore(delivery)
    here.outbox._due.clear()  # noqa: SLF001 - what restoring set up is not under test
    head.status, head.next_ts = "delivered", None
    following.next_ts = here.clock.timestamp()
    here.outbox.restore(following)
    here.outbox.restore(head)
    due = [entry[2] for entry in here.outbox._due if here.outbox._valid(entry[0], entry[2])]  # noqa: SLF001
    assert due == [following.id]
    assert here.outbox._busy()  # noqa: SLF001 - a flush here waits for it


async def test_once_stopped_a_finishing_worker_starts_no_other_delivery():
    """Shutdown cancels `run()` and closes its session: an attempt finishing after that must not
    start the next due delivery (it would fail on the closed session and be marked failed)."""
    h = Harness(concurrency_per_endpoint=1)
    h.script(deliver(200, delivery={"latency_ms": 50}))
    h.endpoint()
    task = asyncio.get_running_loop().create_task(h.outbox.run())
    try:
        for n in range(3):
            h.publish(object_id=f"obj_{n}")  # three objects: nothing orders them, only the endpoint's one slot
        while not h.outbox._tasks:  # the first attempt has started
            await asyncio.sleep(0)
    finally:
        await stop(task)
    await asyncio.wait(set(h.outbox._tasks), timeout=5)  # the attempt in flight finishes
    statuses = sorted(d.to_wire()["status"] for d in h.outbox.query())
    assert statuses == ["delivered", "pending", "pending"], statuses


async def test_shutdown_cuts_the_attempts_in_flight_which_stay_due_and_log_no_traceback(aiohttp_server, caplog):
    """Shutdown (run() cancelled, its session closed) with a hanging receiver and more deliveries
    due: the attempts it cuts are not failures of the receiver, so their deliveries stay due with no
    attempt recorded, no other attempt starts on the closing session (which used to crash with
    "Session is closed" and fail the delivery), and nothing is logged as a crash. The next run
    delivers them all. A real receiver on loopback: the closing session is what is under test."""
    release, hung = asyncio.Event(), asyncio.Event()
    received: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(request.headers["X-Test-Id"])
        if len(received) <= 2:  # the first two hang until the test ends
            if len(received) == 2:
                hung.set()
            await release.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", receive)
    server = await aiohttp_server(app)
    h = Harness(signer=lambda provider: PlainSigner(), concurrency_per_endpoint=2, timeout_seconds=30.0)
    h.endpoint(url=str(server.make_url("/hooks")))
    try:
        task = asyncio.get_running_loop().create_task(h.outbox.run())
        try:
            for n in range(6):
                h.publish(object_id=f"obj_{n}")  # six objects: only the endpoint's two slots order them
            await asyncio.wait_for(hung.wait(), 5)
        finally:
            await stop(task)  # as aiohttp's cleanup context does at SIGTERM
        if h.outbox._tasks:  # noqa: SLF001 - the workers cut by the closed session end
            await asyncio.wait(set(h.outbox._tasks), timeout=5)  # noqa: SLF001
        assert not h.outbox._tasks  # noqa: SLF001
        crashes = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert crashes == []
        assert len(received) == 2  # nothing was sent after the shutdown began
        wires = [d.to_wire() for d in h.outbox.query()]
        assert [(w["status"], w["attempts"], w["next_attempt_at"]) for w in wires[:2]] == [
            ("pending", [], "2026-01-01T00:00:00.000Z"),
        ] * 2  # due as they were: a shutdown is no failed attempt of the receiver
        assert [(w["status"], w["attempts"]) for w in wires[2:]] == [("pending", [])] * 4

        task = asyncio.get_running_loop().create_task(h.outbox.run())  # the next run (a restart)
        try:
            await h.flush()
        finally:
            await stop(task)
        wires = [d.to_wire() for d in h.outbox.query()]
        assert [(w["status"], statuses(w), w["attempts"][0]["attempt"]) for w in wires] == [("delivered", [200], 1)] * 6
        assert sorted(received[2:]) == sorted(w["event_id"] for w in wires)
    finally:
        release.set()
