"""Outcome rules: a scenario scripts what a provider decides, first matching rule wins.

A rule names an operation (`on`), optional conditions on the request and on the object's
state (`when`, dotted paths with eq / ne / in / gte / lte / gt / lt / regex / exists), and
the outcome (`then`). Rules loaded for a tenant apply only to it; `times` limits how often a
rule fires. Supported so far: HTTP faults (`on: request`) and Dino's authorize decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sandbox.core.errors import from_validation

OPERATORS = ("eq", "ne", "in", "gte", "lte", "gt", "lt", "regex", "exists")
MISSING = object()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(Strict):
    status: Annotated[int, Field(ge=400, le=599)] | None = None
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    drop: bool = False  # close the connection without an answer
    body: Any = None  # answer this exact body instead of the provider's error shape

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        if self.status is None and not self.drop and not self.latency_ms:
            raise ValueError("a fault needs status, latency_ms or drop")
        return self


class RequestOutcome(Strict):
    fault: Fault


class Later(Strict):
    seconds: Annotated[float, Field(gt=0)]
    status: Literal["approved", "declined"]


class AuthorizeOutcome(Strict):
    status: Literal["approved", "declined", "needs_approval"]
    decision_reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    after: Later | None = None  # for needs_approval: the operator's decision, on the sandbox clock

    @model_validator(mode="after")
    def _after_only_when_waiting(self) -> AuthorizeOutcome:
        if self.after is not None and self.status != "needs_approval":
            raise ValueError("after applies only to status needs_approval")
        return self


CHALLENGES = {  # Basis Theory verification flows by the names scenarios use
    "otp": "visa_otp", "frictionless": "visa_frictionless", "passkey": "mastercard", "fails": "declined",
    "mock_otp": "mock_visa_otp", "mock_success": "mock_visa_frictionless", "mock_popup": "mock_mastercard",
}


class PurchaseIntentOutcome(Strict):
    status: Literal["verify", "active", "pending"] | None = None
    challenge: Literal[tuple(CHALLENGES)] | None = None  # type: ignore[valid-type]  # with status verify
    pending_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 60  # with status pending
    declined: bool = False  # refuse the intent (402 card_declined)

    @model_validator(mode="after")
    def _consistent(self) -> PurchaseIntentOutcome:
        if not self.declined and self.status is None:
            raise ValueError("give a status (verify, active, pending) or declined: true")
        if self.challenge is not None and self.status != "verify":
            raise ValueError("challenge applies only to status verify")
        return self


class OrderIntentOutcome(Strict):
    phase: Literal["requires-payment-method", "requires-verification", "active"]
    challenge: Literal[tuple(CHALLENGES)] | None = None  # type: ignore[valid-type]  # with requires-verification


class ExecutionOutcome(Strict):
    status: Literal["completed", "failed"]
    failure_reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OtpOutcome(Strict):
    result: Literal["accept", "reject"]  # whatever code the cardholder typed


class Refusal(Strict):
    status: Annotated[int, Field(ge=400, le=599)] = 422
    code: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    message: Annotated[str, Field(min_length=1, max_length=500)] = "Refused by a sandbox scenario"


class CredentialsOutcome(Strict):
    refuse: Refusal


class Delivery(Strict):
    status: Annotated[int, Field(ge=100, le=599)] | None = None  # the receiver's scripted answer; it is not called
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0  # delays the attempt
    retry_after: Annotated[float, Field(ge=0, le=7 * 86400)] | None = None  # a scripted Retry-After, in seconds

    @model_validator(mode="after")
    def _does_something(self) -> Delivery:
        if self.status is None and not self.latency_ms:
            raise ValueError("a delivery outcome needs status or latency_ms")
        return self


class DeliveryOutcome(Strict):
    delivery: Delivery


OUTCOMES: dict[tuple[str | None, str], type[Strict]] = {
    (None, "request"): RequestOutcome,
    ("dino", "authorize"): AuthorizeOutcome,
    ("dino", "execute"): ExecutionOutcome,
    ("basistheory", "create_purchase_intent"): PurchaseIntentOutcome,
    ("crossmint", "create_order_intent"): OrderIntentOutcome,
    ("basistheory", "validate_otp"): OtpOutcome,
    ("crossmint", "issue_credentials"): CredentialsOutcome,
    ("dino", "deliver"): DeliveryOutcome,
    ("crossmint", "deliver"): DeliveryOutcome,
    ("basistheory", "deliver"): DeliveryOutcome,
}


class Rule(Strict):
    provider: Literal["dino", "crossmint", "basistheory"] | None = None
    on: str
    when: dict[str, Any] = Field(default_factory=dict)
    then: dict[str, Any]
    times: Annotated[int, Field(ge=1)] | None = None
    probability: Annotated[float, Field(gt=0, le=1)] | None = None  # fires this often, drawn from the seed

    @model_validator(mode="after")
    def _known_operation(self) -> Rule:
        if (self.provider, self.on) not in OUTCOMES:
            known = ", ".join(f"{p or '(no provider)'}/{o}" for p, o in OUTCOMES)
            raise ValueError(f"no rules for {self.provider or '(no provider)'}/{self.on} yet; supported: {known}")
        for path, condition in self.when.items():
            if isinstance(condition, dict):
                unknown = set(condition) - set(OPERATORS)
                if unknown:
                    raise ValueError(f"when.{path}: unknown operator {sorted(unknown)[0]!r}; use {', '.join(OPERATORS)}")
                if "regex" in condition:
                    try:
                        re.compile(condition["regex"])
                    except (re.error, TypeError) as exc:
                        raise ValueError(f"when.{path}: invalid regex: {exc}") from None
        try:
            OUTCOMES[(self.provider, self.on)].model_validate(self.then)
        except ValidationError as exc:
            first = from_validation(exc).fields[0]
            where = "then" if first.field == "body" else f"then.{first.field}"  # "body": the outcome as a whole
            raise ValueError(f"{where}: {first.message}") from None
        return self

    def outcome(self) -> Any:
        return OUTCOMES[(self.provider, self.on)].model_validate(self.then)


def matches(when: dict[str, Any], context: dict[str, Any]) -> bool:
    return all(_holds(condition, _lookup(context, path)) for path, condition in when.items())


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:  # header names and the like compare without case
                part = next((k for k in value if isinstance(k, str) and k.lower() == part.lower()), part)
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _holds(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return value is not MISSING and value == condition
    for op, wanted in condition.items():
        if op == "exists":
            if (value is not MISSING) != bool(wanted):
                return False
            continue
        if value is MISSING:
            return False
        try:
            ok = {
                "eq": lambda: value == wanted, "ne": lambda: value != wanted, "in": lambda: value in wanted,
                "gte": lambda: value >= wanted, "lte": lambda: value <= wanted,
                "gt": lambda: value > wanted, "lt": lambda: value < wanted,
                "regex": lambda: isinstance(value, str) and re.search(wanted, value) is not None,
            }[op]()
        except TypeError:  # e.g. a number compared with a string: the condition does not hold
            ok = False
        if not ok:
            return False
    return True


@dataclass(slots=True)
class Loaded:
    id: str
    name: str
    tenant: str | None
    rules: list[Rule]
    fired: list[int] = field(default_factory=list)  # per rule

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "tenant": self.tenant,
            "rules": [{**r.model_dump(exclude_none=True), "fired": n} for r, n in zip(self.rules, self.fired)],
        }


class RuleBook:
    """The scenarios loaded into a running sandbox, searched in load order."""

    def __init__(self, random: Callable[[], float] | None = None) -> None:
        self._loaded: dict[str, Loaded] = {}
        self._random = random or Random(0).random  # the sandbox passes one drawn from its seed

    def load(self, scenario_id: str, name: str, rules: list[Rule], tenant: str | None = None) -> Loaded:
        loaded = Loaded(scenario_id, name, tenant, list(rules), [0] * len(rules))
        self._loaded[scenario_id] = loaded
        return loaded

    def unload(self, scenario_id: str) -> bool:
        return self._loaded.pop(scenario_id, None) is not None

    def __bool__(self) -> bool:
        """Whether any scenario is loaded: the one check on the hot path when none is."""
        return bool(self._loaded)

    def all(self) -> list[Loaded]:
        return list(self._loaded.values())

    def get(self, scenario_id: str) -> Loaded | None:
        return self._loaded.get(scenario_id)

    def clear(self) -> None:
        self._loaded.clear()

    def decide(self, provider: str | None, operation: str, tenant: str | None, context: dict[str, Any]) -> Any | None:
        """The outcome of the first rule that matches (and counts as fired), or None."""
        if not self._loaded:
            return None
        for loaded in self._loaded.values():
            if loaded.tenant is not None and loaded.tenant != tenant:
                continue
            for index, rule in enumerate(loaded.rules):
                if rule.provider != provider or rule.on != operation:
                    continue
                if rule.times is not None and loaded.fired[index] >= rule.times:
                    continue
                if matches(rule.when, context):
                    if rule.probability is not None and self._random() >= rule.probability:
                        continue
                    loaded.fired[index] += 1
                    return rule.outcome()
        return None
