"""The scenario format (docs/scenarios.md): pydantic models behind the YAML loader."""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo

from sandbox.core.errors import FieldError, model_errors
from sandbox.core.scenarios.rules import OutcomeCatalog, Rule, Strict, catalog_of

# A whole value taken from `vars` or an earlier answer, e.g. `headers: "${vars.auth}"`.
Reference = Annotated[str, Field(pattern=r"^\$\{[A-Za-z_][A-Za-z0-9_.\-]*\}$")]


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
    seconds: Annotated[float, Field(gt=0)]


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
    provider: ProviderName
    url: Annotated[str, Field(pattern=r"^https?://")]
    secret: str | None = None


class Scenario(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    seed: int | None = None
    clock: str | None = None  # freezes the start time, e.g. "2026-01-01T00:00:00Z"
    vars: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Any] = Field(default_factory=dict)  # ${vars.name}
    webhooks: list[EndpointSpec] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)  # typed one by one: see `typed_steps`


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
