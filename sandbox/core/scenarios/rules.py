"""Outcome rules: a scenario scripts what a provider decides, first matching rule wins.

A rule names an operation (`on`), optional conditions on the request and on the object's
state (`when`, dotted paths with eq / ne / in / gte / lte / gt / lt / regex / exists), and
the outcome (`then`). Rules loaded for a tenant apply only to it; `times` limits how often a
rule fires. Core scripts HTTP faults (`on: request`) and webhook delivery outcomes
(`on: deliver`); every other operation is declared by its provider (its `scenarios.py`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from sandbox.core.errors import from_validation
from sandbox.core.regex import linear_regex, re2

OPERATORS = ("eq", "ne", "in", "gte", "lte", "gt", "lt", "regex", "exists")
MISSING = object()


class Strict(BaseModel):
    # defer_build: each model's validator is built by its first use, not at import (start-up time)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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


class ScriptedDelivery(Strict):
    status: Annotated[int, Field(ge=100, le=599)] | None = None  # the receiver's scripted answer; it is not called
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0  # delays the attempt
    retry_after: Annotated[float, Field(ge=0, le=7 * 86400)] | None = None  # a scripted Retry-After, in seconds

    @model_validator(mode="after")
    def _does_something(self) -> ScriptedDelivery:
        if self.status is None and not self.latency_ms:
            raise ValueError("a delivery outcome needs status or latency_ms")
        return self


class DeliveryOutcome(Strict):
    delivery: ScriptedDelivery


def one_of(names: Sequence[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


@dataclass(frozen=True, slots=True)
class OutcomeCatalog:
    """Every (provider, operation) a rule may script, with the model of its `then`.

    Built from the registered providers: core adds HTTP faults (no provider) and webhook
    delivery outcomes (every provider); each provider adds its own operations.
    """

    models: Mapping[tuple[str | None, str], type[BaseModel]]
    providers: tuple[str, ...]

    @classmethod
    def of(cls, providers: Iterable[ScriptedProvider]) -> OutcomeCatalog:
        models: dict[tuple[str | None, str], type[BaseModel]] = {(None, "request"): RequestOutcome}
        names = []
        for provider in providers:
            names.append(provider.name)
            models[(provider.name, "deliver")] = DeliveryOutcome
            models.update({(provider.name, operation): model for operation, model in provider.outcomes.items()})
        return cls(models, tuple(names))

    def check_provider(self, name: str) -> str:
        if name not in self.providers:
            raise ValueError(f"input should be {one_of(self.providers)}")
        return name

    def model(self, provider: str | None, operation: str) -> type[BaseModel]:
        found = self.models.get((provider, operation))
        if found is None:
            known = ", ".join(f"{p or '(no provider)'}/{o}" for p, o in self.models)
            raise ValueError(f"no rules for {provider or '(no provider)'}/{operation} yet; supported: {known}")
        return found


class ScriptedProvider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def outcomes(self) -> Mapping[str, type[BaseModel]]: ...


def catalog_of(info: ValidationInfo) -> OutcomeCatalog:
    """The catalog a scenario is validated against, passed as pydantic's validation context."""
    catalog = (info.context or {}).get("catalog")
    if not isinstance(catalog, OutcomeCatalog):
        raise ValueError("scenarios are validated against the registered providers (context['catalog'])")
    return catalog


class Rule(Strict):
    provider: str | None = None
    on: str
    when: dict[str, Any] = Field(default_factory=dict)
    then: dict[str, Any]
    times: Annotated[int, Field(ge=1)] | None = None
    probability: Annotated[float, Field(gt=0, le=1)] | None = None  # fires this often, drawn from the seed
    _outcome: Any = PrivateAttr(None)  # `then`, parsed once with its operation's model
    # Its `regex` conditions, compiled once: the shared cache holds 1024 patterns, and a scenario
    # with more recompiled every one of them on every request (200 ms for 5000 rules).
    _regexes: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("provider")
    @classmethod
    def _registered(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if value is None else catalog_of(info).check_provider(value)

    @model_validator(mode="after")
    def _known_operation(self, info: ValidationInfo) -> Rule:
        model = catalog_of(info).model(self.provider, self.on)
        for path, condition in self.when.items():
            if isinstance(condition, dict):
                unknown = set(condition) - set(OPERATORS)
                if unknown:
                    raise ValueError(f"when.{path}: unknown operator {sorted(unknown)[0]!r}; use {', '.join(OPERATORS)}")
                if "exists" in condition and not isinstance(condition["exists"], bool):
                    raise ValueError(f"when.{path}: exists takes true or false")
                if "regex" in condition:
                    try:
                        self._regexes[condition["regex"]] = linear_regex(condition["regex"])
                    except (re2.error, TypeError) as exc:
                        raise ValueError(f"when.{path}: invalid regex: {exc}") from None
        try:
            self._outcome = model.model_validate(self.then)
        except ValidationError as exc:
            first = from_validation(exc).fields[0]
            where = "then" if first.field == "body" else f"then.{first.field}"  # "body": the outcome as a whole
            raise ValueError(f"{where}: {first.message}") from None
        return self

    def outcome(self) -> Any:
        return self._outcome

    def regexes(self) -> dict[str, Any]:
        return self._regexes


def matches(when: dict[str, Any], context: dict[str, Any], regexes: dict[str, Any] | None = None) -> bool:
    """Whether every condition of `when` holds; `regexes` are its patterns compiled (`Rule.regexes`)."""
    return all(_holds(condition, _lookup(context, path), regexes) for path, condition in when.items())


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


def _regex(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and linear_regex(pattern).search(value) is not None


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "in": lambda value, wanted: value in wanted,
    "gte": operator.ge, "lte": operator.le, "gt": operator.gt, "lt": operator.lt, "regex": _regex,
}


def _holds(condition: Any, value: Any, regexes: dict[str, Any] | None = None) -> bool:
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
            compiled = regexes.get(wanted) if op == "regex" and regexes and isinstance(wanted, str) else None
            ok = COMPARE[op](value, wanted) if compiled is None else isinstance(value, str) and compiled.search(value) is not None
        except TypeError:  # e.g. a number compared with a string: the condition does not hold
            ok = False
        if not ok:
            return False
    return True


@dataclass(slots=True)
class LoadedRules:
    id: str
    name: str
    tenant: str | None
    rules: list[Rule]
    fired: list[int] = field(default_factory=list)  # per rule

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "tenant": self.tenant,
            "rules": [{**r.model_dump(exclude_none=True), "fired": n} for r, n in zip(self.rules, self.fired, strict=True)],
        }


# Every request a rule could concern is checked against each loaded rule in turn: 5,472 regex rules
# (a full 512 KiB file of them) cost a request 30-50 ms (benchmarks/event_loop.py), so this many keeps
# it under the 100 ms a request may take, across however many scenarios hold them.
MAX_LOADED_RULES = 10_000


class TooManyRules(ValueError):
    pass


class RuleBook:
    """The scenarios loaded into a running sandbox, searched in load order."""

    def __init__(self, random: Callable[[], float] | None = None, *, seed: int | None = None) -> None:
        self._loaded: dict[str, LoadedRules] = {}
        self._random = random or Random(0).random  # one stream for everything, unless seeded per scope
        self._seed = seed
        self._streams: dict[tuple[str, str | None, str | None], Random] = {}
        self.touched: set[str] | None = None  # scenarios loaded, unloaded or fired, when a durable backend asks
        self.touched_streams: set[tuple[str, str | None, str | None]] | None = None

    def check_room(self, count: int) -> None:
        """Refuse `count` more rules past the bound, before anything (such as an id) is spent on them."""
        held = sum(len(loaded.rules) for loaded in self._loaded.values())
        if held + count > MAX_LOADED_RULES:
            raise TooManyRules(
                f"{count} more rules would make {held + count} loaded; at most {MAX_LOADED_RULES} are held at once "
                "(unload a scenario first: DELETE /_sandbox/scenarios/{id})",
            )

    def load(self, scenario_id: str, name: str, rules: list[Rule], tenant: str | None = None) -> LoadedRules:
        self.check_room(len(rules))
        loaded = LoadedRules(scenario_id, name, tenant, list(rules), [0] * len(rules))
        self.restore(scenario_id, loaded)
        if self.touched is not None:
            self.touched.add(scenario_id)
        return loaded

    def restore(self, scenario_id: str, loaded: LoadedRules | None) -> None:
        """Put back a scenario as a durable backend kept it (None: unloaded)."""
        if loaded is None:
            self._loaded.pop(scenario_id, None)
        else:
            self._loaded[scenario_id] = loaded

    def unload(self, scenario_id: str) -> bool:
        if self.touched is not None:
            self.touched.add(scenario_id)
        return self._loaded.pop(scenario_id, None) is not None

    def stream_state(self, key: tuple[str, str | None, str | None]) -> object | None:
        stream = self._streams.get(key)
        return None if stream is None else stream.getstate()

    def restore_stream(self, key: tuple[str, str | None, str | None], state: object | None) -> None:
        if state is None:
            self._streams.pop(key, None)
        else:
            self._streams.setdefault(key, Random()).setstate(state)  # type: ignore[arg-type]

    def stream_keys(self) -> list[tuple[str, str | None, str | None]]:
        return list(self._streams)

    def __bool__(self) -> bool:
        """Whether any scenario is loaded: the one check on the hot path when none is."""
        return bool(self._loaded)

    def _draw(self, scenario_id: str, provider: str | None, tenant: str | None) -> float:
        """With a seed, one stream per scenario, provider and tenant: whether a rule fires for a tenant
        depends on the seed and that tenant's own requests, never on other tenants or on timing."""
        if self._seed is None:
            return self._random()
        key = (scenario_id, provider, tenant)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = Random(f"{self._seed}:rules:{scenario_id}:{provider}:{tenant}")
        if self.touched_streams is not None:
            self.touched_streams.add(key)
        return stream.random()

    def forget(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Restart the probability streams of a reset scope."""
        for key in [k for k in self._streams if provider in (None, k[1]) and tenant in (None, k[2])]:
            del self._streams[key]

    def all(self) -> list[LoadedRules]:
        return list(self._loaded.values())

    def get(self, scenario_id: str) -> LoadedRules | None:
        return self._loaded.get(scenario_id)

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
                if matches(rule.when, context, rule.regexes()):
                    if rule.probability is not None and self._draw(loaded.id, provider, tenant) >= rule.probability:
                        continue
                    loaded.fired[index] += 1
                    if self.touched is not None:
                        self.touched.add(loaded.id)
                    return rule.outcome()
        return None
