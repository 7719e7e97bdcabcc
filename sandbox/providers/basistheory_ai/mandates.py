"""Purchase-intent mandates (seed 002): one model per type, errors at `mandates.<i>.<field>`.

Mandates are validated one by one rather than as a tagged union so that error paths read
`mandates.0.value` as in the provider's own errors, not `mandates.0.maxAmount.value`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sandbox.core.errors import FieldError, field_path, model_errors
from sandbox.core.fields import Email

DECIMAL = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
DEFAULT_MANDATES: list[dict[str, Any]] = [
    {"type": "maxAmount", "value": "1000.00", "details": {"currency": "840", "period": "transaction"}},
]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class Lenient(BaseModel):
    # defer_build: each model's validator is built by its first use, not at import (start-up time)
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class Mandate(Lenient):
    type: Literal["maxAmount", "expirationTime", "merchant", "description", "prompt", "consumer"]
    value: str
    details: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class MaxAmount(Lenient):
    value: str

    @field_validator("value")
    @classmethod
    def _decimal(cls, value: str) -> str:
        if not DECIMAL.fullmatch(value) or float(value) <= 0:
            raise ValueError('maxAmount value must be a valid decimal amount (e.g., "100.00")')
        return value


class MaxAmountDetails(Lenient):
    currency: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] = Field(description="ISO 4217 numeric, e.g. 840")
    period: Literal["transaction", "daily", "monthly", "yearly"] = "transaction"


class ExpirationTime(Lenient):
    value: str

    @field_validator("value")
    @classmethod
    def _instant(cls, value: str) -> str:
        parse_expiration(value)
        return value


class ExpirationDetails(Lenient):
    timezone: str | None = None
    autoRenew: bool | None = None


class MerchantDetails(Lenient):
    category: str | None = None
    categoryCode: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] | None = None


class Text(Lenient):
    value: NonEmpty


class Address(Lenient):
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    postalCode: str | None = None
    stateCode: str | None = None
    # ISO 3166 alpha-2 or alpha-3: the provider's own playground sends "USA".
    countryCode: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")] | None = None


class ConsumerDetails(Lenient):
    email: Email
    name: str | None = None
    address: Address | None = None


# type -> (model for the whole mandate's value, model for its details, details required?)
_RULES: dict[str, tuple[type[BaseModel] | None, type[BaseModel] | None, bool]] = {
    "maxAmount": (MaxAmount, MaxAmountDetails, True),
    "expirationTime": (ExpirationTime, ExpirationDetails, False),
    "merchant": (Text, MerchantDetails, False),
    "description": (Text, None, False),
    "prompt": (Text, None, False),
    "consumer": (None, ConsumerDetails, True),
}


def parse_expiration(value: str) -> datetime:
    """ISO 8601, or epoch seconds as a digit string (the provider's own playground sends those)."""
    if value.isdigit():
        try:
            return datetime.fromtimestamp(int(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("expirationTime value is out of range") from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("expirationTime value must be an ISO 8601 datetime (e.g. 2030-12-31T23:59:59Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check(mandates: list[Mandate]) -> list[FieldError]:
    """Every rule of every mandate; an empty list means valid."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, mandate in enumerate(mandates):
        where = ("mandates", index)
        if mandate.type in seen:
            problems.append(FieldError(field_path(where + ("type",)), f"only one {mandate.type} mandate is allowed"))
        seen.add(mandate.type)
        value_model, details_model, details_required = _RULES[mandate.type]
        if value_model is not None:
            problems += model_errors(value_model, {"value": mandate.value}, where)
        if details_model is not None:
            if mandate.details is None and details_required:
                problems.append(FieldError(field_path(where + ("details",)), f"{mandate.type} mandate requires details"))
            elif mandate.details is not None:
                problems += model_errors(details_model, mandate.details, where + ("details",))
    return problems

