"""The scenario format (docs/scenarios.md): pydantic models behind the YAML loader.

Besides the shape of each field, `reference_problems` checks every `${…}` reference before
anything is sent: a step name must be defined by an earlier request step, a var declared, a
fake kind known; what a replay would refuse, `sandbox scenarios validate` reports.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationInfo, field_validator

from sandbox.core.clock import MAX_TIMESTAMP, parse_instant
from sandbox.core.errors import FieldError, model_errors
from sandbox.core.fields import Url
from sandbox.core.scenarios.rules import OutcomeCatalog, Rule, Strict, catalog_of
from sandbox.core.webhooks.signing import checked_secret

# `${root.part.part}`: an earlier answer (`${create.id}`), `${vars.name}`, `${run.id}`, `${fake.email}`, …
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_\-]+)*)\}")
# A whole value taken from `vars` or an earlier answer, e.g. `headers: "${vars.auth}"`.
Reference = Annotated[str, Field(pattern=r"^\$\{[A-Za-z_][A-Za-z0-9_.\-]*\}$")]
# Roots that are not step names: a step may not be called one of them.
RESERVED = ("vars", "run", "fake", "tokens", "webhooks")
RUN_FIELDS = ("id",)  # `${run.id}`: new for every run against a shared sandbox
# `${fake.<kind>}` and `${fake.<kind>.<label>}`: realistic values, the same for the same reference.
FAKE_KINDS = (
    "name", "first_name", "last_name", "email", "phone", "company",
    "address", "city", "state", "postal_code", "country_code", "uuid",
)
MAX_ADVANCE_SECONDS = 10 * 365 * 86400  # what `POST /_sandbox/clock/advance` accepts


def _checked_later(check):
    """A validator that leaves values holding a `${…}` reference to the run, which fills them in."""

    def validate(value: str) -> str:
        return value if REFERENCE.search(value) else check(value)

    return AfterValidator(validate)


_URL = TypeAdapter(Url)


def _endpoint_url(value: str) -> str:
    _URL.validate_python(value)
    return value


def _scenario_instant(value: str) -> str:
    try:
        moment = parse_instant(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 instant, e.g. 2026-01-01T00:00:00Z") from None
    if not 0 <= moment.timestamp() < MAX_TIMESTAMP:
        raise ValueError("must be between 1970 and the year 9000")
    return value


class Request(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: Annotated[str, Field(pattern=r"^(/|\$\{)")]
    headers: dict[str, str] | Reference = Field(default_factory=dict)
    body: Any = None


class Expect(Strict):
    status: Annotated[int, Field(ge=100, le=599)] | None = None
    body: Any = None  # a subset: every key given must match; lists match item by item
    headers: dict[str, str] = Field(default_factory=dict)


class RequestStep(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    request: Request
    expect: Expect | None = None


class Advance(Strict):
    seconds: Annotated[float, Field(gt=0, le=MAX_ADVANCE_SECONDS)]


class ClockStep(Strict):
    name: str | None = None
    advance_clock: Advance


def _registered(value: str, info: ValidationInfo) -> str:
    return catalog_of(info).check_provider(value)


ProviderName = Annotated[str, AfterValidator(_registered)]  # one of the registered providers


class WebhookExpectation(Strict):
    provider: ProviderName
    type: Annotated[str, Field(min_length=1)]
    object_id: str | None = None


class WebhookStep(Strict):
    name: str | None = None
    expect_webhook: WebhookExpectation


STEP_KINDS: dict[str, type[Strict]] = {"request": RequestStep, "advance_clock": ClockStep, "expect_webhook": WebhookStep}


class EndpointSpec(Strict):
    """A webhook endpoint registered before the first step (and removed after a shared run)."""

    provider: ProviderName
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2048), _checked_later(_endpoint_url)]
    secret: Annotated[str, _checked_later(checked_secret)] | None = None
    tenant: Annotated[str, Field(min_length=1, max_length=300)] | None = None  # only this tenant's events
    events: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Scenario(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    seed: int | None = None
    clock: str | None = None  # freezes the start time, e.g. "2026-01-01T00:00:00Z"
    tenant: Annotated[str, Field(min_length=1, max_length=300)] | None = None  # the only tenant the rules apply to
    tokens: dict[Name, dict[str, Any]] = Field(default_factory=dict)  # ${tokens.name}: a JWT with these claims
    vars: dict[Name, Any] = Field(default_factory=dict)  # ${vars.name}
    webhooks: list[EndpointSpec] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)  # typed one by one: see `typed_steps`

    @field_validator("clock")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        return value if value is None else _scenario_instant(value)


Step = RequestStep | ClockStep | WebhookStep


def json_schema() -> str:
    """The JSON Schema of a scenario file, for editors; steps are one of the three step kinds."""
    schema = Scenario.model_json_schema()
    steps = [model.model_json_schema() for model in STEP_KINDS.values()]
    schema["properties"]["steps"] = {"type": "array", "items": {"oneOf": steps}}
    return json.dumps(schema, indent=2)


def typed_steps(steps: list[dict[str, Any]], catalog: OutcomeCatalog) -> tuple[list[Step], list[FieldError]]:
    """Each step is told apart by its one action key, so that errors name that step's fields."""
    typed: list[Step] = []
    problems: list[FieldError] = []
    for index, step in enumerate(steps):
        kinds = [kind for kind in STEP_KINDS if kind in step]
        if len(kinds) != 1:
            close = [m for key in step for m in difflib.get_close_matches(str(key), STEP_KINDS, n=1)]
            hint = f"; did you mean {close[0]!r}?" if close and not kinds else ""
            problems.append(FieldError(f"steps.{index}", f"a step has exactly one of: {', '.join(STEP_KINDS)}{hint}"))
            continue
        model = STEP_KINDS[kinds[0]]
        context = {"catalog": catalog}
        found = model_errors(model, step, ("steps", index), context=context)
        if found:
            problems += found
        else:
            typed.append(model.model_validate(step, context=context))  # type: ignore[arg-type]
    return typed, problems


def reference_problems(scenario: Scenario, steps: list[Step]) -> list[FieldError]:
    """Every `${…}` a replay could not fill in, found before anything is sent.

    Each part of a scenario may refer to what exists when it is used: token claims to `run` and
    `fake`; a var to those, `tokens` and the vars above it; the tenant and webhooks to those and
    every var; rules also to
    `webhooks` (the endpoints registered); a step to all of them and to the answers of earlier
    named request steps (an expectation also to its own step's answer).
    """
    check = _References(scenario)
    early = {"run", "fake"}
    check.scan(scenario.tokens, "tokens", early)
    for name, value in scenario.vars.items():  # a var may use the vars declared before it
        check.scan(value, f"vars.{name}", early | {"tokens", "vars"})
        check.declared.add(name)
    setup = early | {"tokens", "vars"}
    check.declared = set(scenario.vars)
    check.scan(scenario.tenant, "tenant", setup)
    check.scan([hook.model_dump(exclude_none=True) for hook in scenario.webhooks], "webhooks", setup)
    roots = setup | {"webhooks"}  # the rules are loaded once the endpoints are registered
    check.scan([rule.model_dump(exclude_none=True) for rule in scenario.rules], "rules", roots)
    answers: set[str] = set()
    for index, step in enumerate(steps):
        where = f"steps.{index}"
        if step.name in RESERVED:
            check.problems.append(FieldError(f"{where}.name", f"{step.name!r} is reserved ({', '.join(RESERVED)}); choose another name"))
        if isinstance(step, RequestStep):
            check.scan(step.request.model_dump(), f"{where}.request", roots, answers)
            check.headers(step.request.headers, f"{where}.request.headers")
            if step.expect is not None:
                own = answers | {step.name} if step.name else answers
                check.scan(step.expect.model_dump(), f"{where}.expect", roots, own)
            if step.name:
                answers.add(step.name)
        elif isinstance(step, WebhookStep):
            check.scan(step.expect_webhook.object_id, f"{where}.expect_webhook.object_id", roots, answers)
    return check.problems


_ABSENT = object()


class _References:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.problems: list[FieldError] = []
        self.declared: set[str] = set()  # the vars filled in so far: all of them once the vars are done
        self.named = {step.get("name"): step for step in scenario.steps if isinstance(step.get("name"), str)}

    def scan(self, value: Any, where: str, roots: set[str], answers: set[str] | None = None) -> None:
        for path, text in _texts(value, where):
            for match in REFERENCE.finditer(text):
                problem = self._problem(match, roots, answers)
                if problem:
                    self.problems.append(FieldError(path, problem))

    def headers(self, headers: dict[str, str] | str, where: str) -> None:
        """`headers: "${vars.auth}"` must name a mapping of texts, when the var is known now."""
        whole = REFERENCE.fullmatch(headers) if isinstance(headers, str) else None
        if whole is None or whole.group(1) != "vars":
            return
        value = self._var([p for p in whole.group(2).split(".") if p])
        if value is _ABSENT or (isinstance(value, str) and REFERENCE.search(value)):
            return
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.problems.append(FieldError(where, f"{headers} must be a mapping of header names to texts, got {value!r}"))

    def _problem(self, match: re.Match[str], roots: set[str], answers: set[str] | None) -> str | None:
        ref, root = match.group(0), match.group(1)
        parts = [p for p in match.group(2).split(".") if p]
        if root in RESERVED and root not in roots:
            return f"{ref}: {root} cannot be used here (only {', '.join(r for r in RESERVED if r in roots)})"
        if root == "run":
            if len(parts) == 1 and parts[0] in RUN_FIELDS:
                return None
            return f"{ref}: a run offers only {', '.join('${run.' + name + '}' for name in RUN_FIELDS)}"
        if root == "fake":
            return self._fake(ref, parts)
        if root == "tokens":
            if len(parts) == 1 and parts[0] in self.scenario.tokens:
                return None
            return f"{ref}: no token {'.'.join(parts)!r} is declared in tokens{_close(parts[:1], self.scenario.tokens)}"
        if root == "vars":
            if not parts:
                return f"{ref}: name a var, e.g. ${{vars.key}}"
            if parts[0] not in self.scenario.vars:
                return f"{ref}: no var {parts[0]!r} is declared in vars{_close(parts[:1], self.scenario.vars)}"
            if parts[0] not in self.declared:
                return f"{ref}: a var may use only the vars declared above it"
            return None if self._var(parts) is not _ABSENT else f"{ref}: vars.{parts[0]} has no {'.'.join(parts[1:])!r}"
        if root == "webhooks":
            count = len(self.scenario.webhooks)
            if parts and parts[0].isdigit() and int(parts[0]) < count:
                return None
            return f"{ref}: the scenario registers {count} webhook endpoint(s); refer to one as ${{webhooks.0.id}}, ${{webhooks.0.secret}}"
        if answers is None:
            return f"{ref}: the answers of steps are not known yet here"
        if root in answers:
            return None
        if root in self.named:
            if "request" in self.named[root]:
                return f"{ref}: step {root!r} has not answered yet here; refer only to earlier steps"
            return f"{ref}: step {root!r} is not a request step: it has no answer"
        return f"{ref} refers to no earlier named request step {root!r}{_close([root], answers)}"

    def _fake(self, ref: str, parts: list[str]) -> str | None:
        if parts and parts[0] in FAKE_KINDS and len(parts) <= 2:
            return None
        if parts and parts[0] in FAKE_KINDS:
            return f"{ref}: a fake value takes at most one label, e.g. ${{fake.{parts[0]}.buyer}}"
        return f"{ref}: unknown fake value{_close(parts[:1], FAKE_KINDS)}; one of: {', '.join(FAKE_KINDS)}"

    def _var(self, parts: list[str]) -> Any:
        """The value of `vars.a.b…` as written, or _ABSENT; a value that is filled in at run time stops the walk."""
        value: Any = self.scenario.vars.get(parts[0], _ABSENT)
        for part in parts[1:]:
            if value is _ABSENT or (isinstance(value, str) and REFERENCE.search(value)):
                return value
            if isinstance(value, dict):
                value = value.get(part, _ABSENT)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return _ABSENT
        return value


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in `value` with its dotted path (mapping keys are sent as written)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{where}.{index}")


def _close(words: list[str], known: Any) -> str:
    found = difflib.get_close_matches(words[0], [str(k) for k in known], n=1) if words else []
    return f"; did you mean {found[0]!r}?" if found else ""
