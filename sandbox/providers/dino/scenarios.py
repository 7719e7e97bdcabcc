"""What scenario rules may script for Dino: the authorize decision, the checkout outcome and a spend
request's decision."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from sandbox.core.scenarios.rules import Strict


class Later(Strict):
    seconds: Annotated[float, Field(gt=0)]
    status: Literal["approved", "declined"]


class AuthorizeOutcome(Strict):
    status: Literal["approved", "declined", "needs_approval"]
    decision_reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    after: Later | None = None  # for needs_approval: the operator's decision, on the sandbox clock
    # (a spend request's decision has the same shape: `on: spend_request`)

    @model_validator(mode="after")
    def _after_only_when_waiting(self) -> AuthorizeOutcome:
        if self.after is not None and self.status != "needs_approval":
            raise ValueError("after applies only to status needs_approval")
        return self


class ExecutionOutcome(Strict):
    status: Literal["completed", "failed"]
    failure_reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


OUTCOMES: dict[str, type[BaseModel]] = {"authorize": AuthorizeOutcome, "execute": ExecutionOutcome, "spend_request": AuthorizeOutcome}
