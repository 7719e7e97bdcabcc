"""What scenario rules may script for Crossmint: a new order intent's phase, credential refusals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from sandbox.core.scenarios.rules import Strict
from sandbox.core.verification import CHALLENGES


class OrderIntentOutcome(Strict):
    phase: Literal["requires-payment-method", "requires-verification", "active"]
    challenge: Literal[tuple(CHALLENGES)] | None = None  # type: ignore[valid-type]  # with requires-verification


class Refusal(Strict):
    status: Annotated[int, Field(ge=400, le=599)] = 422
    code: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    message: Annotated[str, Field(min_length=1, max_length=500)] = "Refused by a sandbox scenario"


class CredentialsOutcome(Strict):
    refuse: Refusal


OUTCOMES: dict[str, type[BaseModel]] = {"create_order_intent": OrderIntentOutcome, "issue_credentials": CredentialsOutcome}
