"""Issue 13: id streams per provider and tenant; per-tenant shares of the idempotency keys and the
event log; scenario files that hold numbers JSON cannot carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sandbox.core.clock import Clock
from sandbox.core.events import Event, EventLog
from sandbox.core.idempotency import IdempotencyStore
from sandbox.core.ids import IdFactory
from sandbox.core.scenarios.loader import ScenarioError, parse
from sandbox.core.scenarios.rules import OutcomeCatalog

# -- ids ----------------------------------------------------------------------------------------


def draw(ids, tenant: str = "t") -> list[str]:
    return [ids.ulid("pi", tenant), ids.uuid(tenant, "agent"), ids.token(tenant, "secret", 8), ids.digits(tenant, "card", 6),
            ids.alnum(tenant, "agt", 6)]


def test_each_provider_has_its_own_streams():
    factory = IdFactory(1)
    a, b = factory.for_provider("a"), factory.for_provider("b")
    first_a = draw(a)
    assert draw(b) == draw(IdFactory(1).for_provider("b"))  # b's first ids, whatever a drew
    assert first_a != draw(IdFactory(1).for_provider("b"))
    assert draw(a) != first_a  # a's stream goes on


def test_forget_is_scoped_to_provider_and_tenant():
    factory = IdFactory(1)
    a, b = factory.for_provider("a"), factory.for_provider("b")
    a1, a2, b1 = draw(a, "t"), draw(a, "u"), draw(b, "t")
    factory.forget("a", "t")
    assert draw(a, "t") == a1 and draw(a, "u") != a2 and draw(b, "t") != b1
    factory.forget(tenant="u")
    assert draw(a, "u") == a2
    factory.forget("b")
    assert draw(b, "t") == b1
    factory.forget()
    assert draw(a, "t") == a1 and draw(b, "t") == b1


def test_the_sandboxs_own_streams_survive_every_forget():
    factory = IdFactory(1)
    first = factory.ulid("ep", "_webhooks")
    factory.for_provider("a").ulid("ep", "_webhooks")
    for provider, tenant in [(None, None), (None, "_webhooks"), ("a", "_webhooks"), ("a", None)]:
        factory.forget(provider, tenant)
    assert factory.ulid("ep", "_webhooks") not in (first, IdFactory(1).ulid("ep", "_webhooks"))
    assert len(factory) == 1  # the sandbox's own stream; a's went with the forgets


def test_a_provider_cannot_draw_from_the_sandboxs_streams():
    factory = IdFactory(1)
    with pytest.raises(ValueError, match="for_provider"):
        factory.uuid("din_test_alice", "agent")
    with pytest.raises(ValueError):
        factory.for_provider("_webhooks")
    with pytest.raises(ValueError):
        factory.for_provider("")


def test_tenant_and_namespace_cannot_run_into_each_other():
    factory = IdFactory(1).for_provider("p")
    assert factory.uuid("a:b", "c") != factory.uuid("a", "b:c")


# -- idempotency keys ---------------------------------------------------------------------------


async def test_one_tenant_cannot_push_out_anothers_idempotency_keys():
    keys = IdempotencyStore(Clock(datetime(2026, 1, 1, tzinfo=UTC)))
    victim = ("dino", "din_test_victim", "", "POST", "/v1/x", "k")
    keys.begin(victim, "f")
    for n in range(50_001):  # the whole store's worth, from one tenant
        keys.begin(("dino", "din_test_flood", "", "POST", "/v1/x", str(n)), "f")
    assert keys.lookup(victim) is not None
    assert len(keys) <= 50_000


async def test_idempotency_bounds_per_tenant_and_in_all():
    keys = IdempotencyStore(Clock(datetime(2026, 1, 1, tzinfo=UTC)), max_keys=5, max_keys_per_tenant=3)

    def scope(tenant: str, n: int) -> tuple[str, ...]:
        return ("p", tenant, "", "POST", "/x", str(n))

    for n in range(4):
        keys.begin(scope("a", n), "f")
    assert [keys.lookup(scope("a", n)) is not None for n in range(4)] == [False, True, True, True]
    for n in range(3):
        keys.begin(scope("b", n), "f")
    assert len(keys) == 5  # the global bound: the oldest key of all goes
    assert keys.lookup(scope("a", 1)) is None and keys.lookup(scope("b", 0)) is not None
    keys.clear("p", "a")
    assert len(keys) == 3
    entry = keys.begin(scope("a", 9), "f")
    keys.finish(scope("a", 9), entry, None)  # an unprocessed request forgets its key
    assert len(keys) == 3 and keys.tenants() == 1
    keys.clear()
    assert len(keys) == 0 and keys.tenants() == 0


# -- the event log --------------------------------------------------------------------------------


def event(n: int, tenant: str, provider: str = "p") -> Event:
    return Event(f"evt_{tenant}_{n}", provider, tenant, "thing.updated", f"obj_{n}", "2026-01-01T00:00:00.000Z", {})


def test_one_tenant_cannot_push_out_everyone_elses_events():
    log = EventLog(10)
    for n in range(3):
        log.publish(event(n, "quiet"))
    for n in range(100):
        log.publish(event(n, "loud"))
    kept = log.query()
    assert [e.id for e in kept if e.tenant == "quiet"] == ["evt_quiet_0", "evt_quiet_1", "evt_quiet_2"]
    assert [e.id for e in kept if e.tenant == "loud"] == [f"evt_loud_{n}" for n in range(93, 100)]
    assert log.size() == 10


def test_the_event_log_keeps_its_order_and_drops_the_largest_share_first():
    log = EventLog(4)
    for tenant in "abcab":
        log.publish(event(len(log.query(tenant=tenant)), tenant))
    # a and b both hold two when c's arrives ... a reached two first, so its oldest goes.
    assert [e.id for e in log.query()] == ["evt_b_0", "evt_c_0", "evt_a_1", "evt_b_1"]
    log.publish(event(0, "a", provider="q"))  # another provider's tenant `a` is another share
    assert [e.id for e in log.query()] == ["evt_c_0", "evt_a_1", "evt_b_1", "evt_a_0"]
    assert [e.provider for e in log.query(tenant="a")] == ["p", "q"]
    log.clear(tenant="a")
    assert [e.id for e in log.query()] == ["evt_c_0", "evt_b_1"] and log.size() == 2
    log.clear()
    assert log.query() == [] and log.size() == 0


def test_a_single_tenant_keeps_the_whole_log():
    log = EventLog(5)
    for n in range(8):
        log.publish(event(n, "only"))
    assert [e.id for e in log.query()] == [f"evt_only_{n}" for n in range(3, 8)]


# -- scenario files -------------------------------------------------------------------------------

CATALOG = OutcomeCatalog.of([])


@pytest.mark.parametrize("value", [".inf", "-.inf", "+.INF", ".nan", ".NaN", "!!float inf", "!!float nan", "1.0e+999"])
def test_infinite_and_nan_numbers_are_refused_with_their_line(value):
    text = f"name: s\nsteps:\n  - request:\n      path: /v1/x\n      body: {{amount: {value}}}\n"
    with pytest.raises(ScenarioError) as caught:
        parse(text, CATALOG, "s.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (5, "steps.0.request.body.amount"), problem
    assert "JSON has no infinity or NaN" in problem.message


def test_finite_floats_and_the_strings_inf_and_nan_are_kept():
    text = "name: s\nsteps:\n  - request:\n      path: /v1/x\n      body: {a: 1.5, b: '.inf', c: nan, d: inf}\n"
    loaded = parse(text, CATALOG, "s.yaml")
    assert loaded.steps[0].request.body == {"a": 1.5, "b": ".inf", "c": "nan", "d": "inf"}


@pytest.mark.parametrize(
    "value, message",
    [("!!float abc", "'abc' cannot be read as the !!float"), ("!!int x", "'x' cannot be read as the !!int"),
     ("!!bool maybe", "'maybe' cannot be read as the !!bool"), ("!!timestamp soon", "'soon' cannot be read as the !!timestamp")],
)
def test_a_value_its_tag_cannot_read_is_a_problem_with_its_line_not_a_crash(value, message):
    text = f"name: s\nsteps:\n  - request:\n      path: /v1/x\n      body: {{amount: {value}}}\n"
    with pytest.raises(ScenarioError) as caught:
        parse(text, CATALOG, "s.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (5, "steps.0.request.body.amount") and problem.message.startswith(message), problem


def test_an_aliased_infinity_is_reported_once():
    text = "name: s\nvalues: &big .inf\nsteps:\n  - request: {path: /v1/x, body: {a: *big, b: *big}}\n"
    with pytest.raises(ScenarioError) as caught:
        parse(text, CATALOG, "s.yaml")
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "values")]
