"""What scenario rules may script for Basis Theory AI: a new purchase intent's path, OTP results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from sandbox.core.scenarios.rules import Strict
from sandbox.core.verification import CHALLENGES


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


class OtpOutcome(Strict):
    result: Literal["accept", "reject"]  # whatever code the cardholder typed


OUTCOMES: dict[str, type[BaseModel]] = {"create_purchase_intent": PurchaseIntentOutcome, "validate_otp": OtpOutcome}
