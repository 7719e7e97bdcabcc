"""Scenario rules without a server: conditions, the rule book's choice, and validation against a catalog."""

from dataclasses import dataclass, field
from random import Random
from typing import Literal

import pytest
from pydantic import BaseModel, ValidationError
from sandbox.app import catalog as sandbox_catalog
from sandbox.core.scenarios.rules import DeliveryOutcome, OutcomeCatalog, RequestOutcome, Rule, RuleBook, matches


class Charge(BaseModel):
    status: Literal["succeeded", "failed"]


@dataclass(frozen=True)
class FakeProvider:
    name: str
    outcomes: dict = field(default_factory=dict)


CATALOG = OutcomeCatalog.of([FakeProvider("alpha", {"charge": Charge}), FakeProvider("beta")])


def rule(**data) -> Rule:
    return Rule.model_validate(data, context={"catalog": CATALOG})


def refusal(data, catalog=CATALOG) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate(data, context={"catalog": catalog})
    first = caught.value.errors()[0]
    return first["loc"], first["msg"]


# -- conditions -------------------------------------------------------------------------------

CONTEXT = {
    "method": "POST",
    "headers": {"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    "request": {"amount": 1500, "currency": "usd", "mandates": [{"type": "maxAmount", "value": "1.00"}], "note": None},
    "purchase_intent": {"status": "intent_created"},
}


@pytest.mark.parametrize(("when", "expected"), [
    ({}, True),  # no condition: always
    ({"method": "POST"}, True),  # a plain value means eq
    ({"method": "post"}, False),  # values compare exactly; only keys ignore case
    ({"request.amount": {"eq": 1500}}, True),
    ({"request.amount": {"eq": "1500"}}, False),
    ({"request.currency": {"ne": "eur"}}, True),
    ({"request.currency": {"ne": "usd"}}, False),
    ({"request.currency": {"in": ["usd", "eur"]}}, True),
    ({"request.currency": {"in": ["gbp"]}}, False),
    ({"request.amount": {"gte": 1500}}, True),
    ({"request.amount": {"gte": 1501}}, False),
    ({"request.amount": {"lte": 1500}}, True),
    ({"request.amount": {"lte": 1499}}, False),
    ({"request.amount": {"gt": 1499}}, True),
    ({"request.amount": {"gt": 1500}}, False),
    ({"request.amount": {"lt": 1501}}, True),
    ({"request.amount": {"lt": 1500}}, False),
    ({"request.amount": {"gte": 1000, "lt": 2000}}, True),  # every operator of a condition must hold
    ({"request.amount": {"gte": 1000, "lt": 1200}}, False),
    ({"request.currency": {"regex": "^us"}}, True),
    ({"request.currency": {"regex": "^eu"}}, False),
    ({"request.amount": {"regex": "15"}}, False),  # a regex only matches text
    ({"request.amount": {"gte": "1000"}}, False),  # a number against text: does not hold, does not raise
    ({"request.currency": {"exists": True}}, True),
    ({"request.currency": {"exists": False}}, False),
    ({"request.note": {"exists": True}}, True),  # present with null is present
    ({"request.note": None}, True),
    ({"request.missing": {"exists": False}}, True),
    ({"request.missing": {"exists": True}}, False),
    ({"all.of.this.is.missing": {"exists": False}}, True),
    ({"request.currency.deeper": {"exists": True}}, False),  # a path through a scalar is missing
    ({"request.missing": None}, False),  # missing is not null
    ({"request.missing": {"ne": "usd"}}, False),  # a missing value holds no comparison, not even ne
    ({"request.missing": {"in": [None]}}, False),
    ({"headers.idempotency-key": "k-1"}, True),  # header names compare without case
    ({"HEADERS.CONTENT-TYPE": {"regex": "json$"}}, True),
    ({"headers.x-missing": {"exists": True}}, False),
    ({"request.mandates.0.value": "1.00"}, True),  # list indexes
    ({"request.mandates.0.type": "maxAmount"}, True),
    ({"request.mandates.1.value": {"exists": True}}, False),  # past the end
    ({"request.mandates.-1.value": {"exists": True}}, False),  # no negative indexes
    ({"request.mandates.first.value": {"exists": True}}, False),
    ({"method": "POST", "request.currency": "eur"}, False),  # every condition must hold
])
def test_conditions(when, expected):
    assert matches(when, CONTEXT) is expected


def test_an_exact_key_wins_over_a_case_insensitive_one():
    context = {"headers": {"x-mode": "lower", "X-Mode": "upper"}}
    assert matches({"headers.X-Mode": "upper"}, context)
    assert matches({"headers.x-mode": "lower"}, context)


# -- the rule book ----------------------------------------------------------------------------

def charge(status: str, **more) -> Rule:
    return rule(provider="alpha", on="charge", then={"status": status}, **more)


def decided(book: RuleBook, tenant: str | None = "t1", context: dict | None = None) -> str | None:
    outcome = book.decide("alpha", "charge", tenant, context or {"request": {"amount": 10}})
    return outcome.status if outcome is not None else None


def test_an_empty_book_decides_nothing():
    book = RuleBook()
    assert not book and decided(book) is None
    book.load("s1", "one", [charge("failed")])
    assert book


def test_the_first_matching_rule_wins_and_counts_as_fired():
    book = RuleBook()
    book.load("s1", "first", [
        charge("failed", when={"request.amount": {"gt": 100}}),  # does not hold
        charge("succeeded"),
        charge("failed"),
    ])
    book.load("s2", "later", [charge("failed")])
    assert [decided(book) for _ in range(3)] == ["succeeded"] * 3
    assert book.get("s1").fired == [0, 3, 0] and book.get("s2").fired == [0]
    assert decided(book, context={"request": {"amount": 500}}) == "failed"
    assert book.get("s1").fired == [1, 3, 0]


def test_rules_for_another_operation_or_provider_are_not_considered():
    book = RuleBook()
    book.load("s1", "mixed", [
        rule(provider="beta", on="deliver", then={"delivery": {"status": 500}}),
        rule(on="request", then={"fault": {"status": 503}}),
        charge("failed"),
    ])
    assert decided(book) == "failed"
    assert book.decide("beta", "deliver", "t1", {}).delivery.status == 500
    assert book.decide(None, "request", "t1", {}).fault.status == 503
    assert book.decide("alpha", "deliver", "t1", {}) is None
    assert book.get("s1").fired == [1, 1, 1]


def test_times_limits_a_rule_then_the_next_one_decides():
    book = RuleBook()
    book.load("s1", "twice", [charge("failed", times=2), charge("succeeded", times=1)])
    assert [decided(book) for _ in range(4)] == ["failed", "failed", "succeeded", None]
    assert book.get("s1").fired == [2, 1]
    assert book.get("s1").to_wire()["rules"][0] == {
        "provider": "alpha", "on": "charge", "when": {}, "then": {"status": "failed"}, "times": 2, "fired": 2,
    }


def test_a_rule_whose_conditions_fail_does_not_use_up_its_times():
    book = RuleBook()
    book.load("s1", "once", [charge("failed", times=1, when={"request.amount": 99})])
    assert decided(book) is None
    assert decided(book, context={"request": {"amount": 99}}) == "failed"
    assert decided(book, context={"request": {"amount": 99}}) is None


def test_rules_loaded_for_a_tenant_apply_only_to_it():
    book = RuleBook()
    book.load("s1", "for t2", [charge("failed")], tenant="t2")
    assert decided(book, "t1") is None
    assert decided(book, None) is None  # a request without a tenant is nobody's
    assert decided(book, "t2") == "failed"
    book.load("s2", "for everyone", [charge("succeeded")])
    assert (decided(book, "t1"), decided(book, "t2")) == ("succeeded", "failed")


def test_unloading_removes_the_rules():
    book = RuleBook()
    book.load("s1", "one", [charge("failed")])
    assert book.unload("s1") is True and book.unload("s1") is False
    assert not book and decided(book) is None and book.all() == []


def draws(seed: int, n: int = 40) -> list[str | None]:
    book = RuleBook(Random(f"{seed}:rules").random)
    book.load("s1", "sometimes", [charge("failed", probability=0.5), charge("succeeded")])
    return [decided(book) for _ in range(n)]


def test_probability_repeats_with_the_seed():
    first = draws(7)
    assert first == draws(7)
    assert set(first) == {"failed", "succeeded"}  # a skipped draw falls through to the next rule
    assert first != draws(8)  # another seed, another sequence (fixed seeds: this never flakes)


def test_probability_counts_only_the_draws_that_fire():
    values = iter([0.9, 0.1, 0.5, 0.49])
    book = RuleBook(lambda: next(values))
    book.load("s1", "half", [charge("failed", probability=0.5)])
    assert [decided(book) for _ in range(4)] == [None, "failed", None, "failed"]
    assert book.get("s1").fired == [2]


def test_the_default_random_is_seeded_too():
    def run() -> list[str | None]:
        book = RuleBook()
        book.load("s1", "p", [charge("failed", probability=0.3)])
        return [decided(book) for _ in range(30)]

    assert run() == run()


# -- validation against the catalog ------------------------------------------------------------

def test_the_catalog_lists_core_and_provider_operations():
    assert CATALOG.providers == ("alpha", "beta")
    assert dict(CATALOG.models) == {
        (None, "request"): RequestOutcome,
        ("alpha", "deliver"): DeliveryOutcome, ("alpha", "charge"): Charge,
        ("beta", "deliver"): DeliveryOutcome,
    }


def test_a_valid_rule_parses_its_outcome_once():
    parsed = charge("failed", when={"request.amount": {"gte": 5}}, times=3, probability=0.25)
    assert parsed.outcome() == Charge(status="failed")
    assert parsed.times == 3 and parsed.probability == 0.25


def test_an_unknown_provider_is_refused_naming_the_field_and_the_choices():
    loc, message = refusal({"provider": "gamma", "on": "charge", "then": {"status": "failed"}})
    assert loc == ("provider",) and "input should be 'alpha' or 'beta'" in message


def test_an_unknown_operation_is_refused_listing_what_is_supported():
    _, message = refusal({"provider": "beta", "on": "charge", "then": {"status": "failed"}})
    assert "no rules for beta/charge yet" in message
    assert "supported: (no provider)/request, alpha/deliver, alpha/charge, beta/deliver" in message
    _, message = refusal({"on": "deliver", "then": {"delivery": {"status": 500}}})  # deliver needs a provider
    assert "no rules for (no provider)/deliver yet" in message
    _, message = refusal({"provider": "alpha", "on": "request", "then": {"fault": {"status": 500}}})
    assert "no rules for alpha/request yet" in message


@pytest.mark.parametrize(("data", "wanted"), [
    ({"provider": "alpha", "on": "charge", "then": {"status": "maybe"}}, "then.status: input should be 'succeeded' or 'failed'"),
    ({"provider": "alpha", "on": "deliver", "then": {"delivery": {}}}, "then.delivery: a delivery outcome needs status or latency_ms"),
    ({"on": "request", "then": {"fault": {}}}, "then.fault: a fault needs status, latency_ms or drop"),
    ({"on": "request", "when": {"path": {"like": "/x"}}, "then": {"fault": {"status": 500}}}, "when.path: unknown operator 'like'"),
    ({"on": "request", "when": {"path": {"regex": "("}}, "then": {"fault": {"status": 500}}}, "when.path: invalid regex"),
    ({"on": "request", "when": {"path": {"regex": 5}}, "then": {"fault": {"status": 500}}}, "when.path: invalid regex"),
])
def test_bad_rules_say_where(data, wanted):
    assert wanted in refusal(data)[1]


@pytest.mark.parametrize("data", [
    {"provider": "alpha", "on": "charge", "then": {"status": "failed"}, "times": 0},
    {"provider": "alpha", "on": "charge", "then": {"status": "failed"}, "probability": 0},
    {"provider": "alpha", "on": "charge", "then": {"status": "failed"}, "probability": 1.5},
    {"provider": "alpha", "on": "charge", "then": {"status": "failed"}, "unknown": 1},
])
def test_limits_and_unknown_keys_are_refused(data):
    refusal(data)


def test_rules_need_the_catalog_as_context():
    for context in (None, {}, {"catalog": "not a catalog"}):
        with pytest.raises(ValidationError, match=r"context\['catalog'\]"):
            Rule.model_validate({"on": "request", "then": {"fault": {"status": 500}}}, context=context)


def test_the_sandbox_catalog_knows_every_provider():
    catalog = sandbox_catalog()
    assert set(catalog.providers) == {"dino", "crossmint", "basistheory", "btplatform"}
    assert all(catalog.model(name, "deliver") is DeliveryOutcome for name in catalog.providers)
    loc, message = refusal({"provider": "stripe", "on": "deliver", "then": {"delivery": {"status": 500}}}, catalog)
    assert loc == ("provider",) and "'btplatform'" in message and "'dino'" in message


def test_a_btplatform_deliver_rule_validates_with_the_sandbox_catalog():
    data = {"provider": "btplatform", "on": "deliver", "when": {"event.type": "token.created"}, "then": {"delivery": {"status": 500}}}
    parsed = Rule.model_validate({**data, "times": 1}, context={"catalog": sandbox_catalog()})
    assert parsed.outcome().delivery.status == 500 and parsed.outcome().delivery.retry_after is None
    _, message = refusal({"provider": "btplatform", "on": "create_token", "then": {}}, sandbox_catalog())
    assert "no rules for btplatform/create_token yet" in message and "btplatform/deliver" in message


def test_exists_takes_a_boolean_only():
    data = {"provider": "dino", "on": "authorize", "when": {"x": {"exists": "no"}}, "then": {"status": "approved"}}
    with pytest.raises(ValidationError, match="exists takes true or false"):
        Rule.model_validate(data, context={"catalog": sandbox_catalog()})
