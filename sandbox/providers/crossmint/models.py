"""Crossmint request bodies (pydantic) and the stored agents, payment methods and order intents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sandbox.core.cards import number_problem
from sandbox.core.errors import FieldError, model_errors
from sandbox.core.fields import Url
from sandbox.core.verification import ACTIONS, Session
from sandbox.providers.crossmint.magic import Profile

# The seed's pattern for expiresAt: a calendar-valid UTC instant ending in Z (leap years included).
EXPIRES_AT = re.compile(
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])"
    r"-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3])"
    r":[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z))$",
    re.ASCII,  # \d means 0-9 only, not every Unicode digit
)
EMAIL = re.compile(r"^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$")
DECIMAL = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
CURRENCIES = ("usd", "eur", "aud", "gbp", "jpy", "sgd", "hkd", "krw", "inr", "vnd", "cop")
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("must be an email")
    return value


# Crossmint's own pattern (with look-aheads, which pydantic's patterns do not support).
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- agents --------------------------------------------------------------------------------


class AgentMetadata(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    imageUrl: Url | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AgentBody(Body):
    metadata: AgentMetadata


# -- payment methods (no public create exists; this one is the sandbox's) ----------------


class Expiration(Body):
    month: Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-2])$")]
    year: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class CardBody(Body):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    expiration: Expiration
    cvc: Annotated[str, StringConstraints(pattern=r"^\d{3,4}$")] | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        problem = number_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class Address(Body):
    line1: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    line2: Annotated[str, StringConstraints(max_length=60)] | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    stateOrRegion: Annotated[str, StringConstraints(max_length=50)] | None = None
    postalCode: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Billing(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    address: Address | None = None
    phone: Annotated[str, StringConstraints(max_length=30)] | None = None


class PaymentMethodBody(Body):
    card: CardBody
    billing: Billing = Billing(name="Sandbox Cardholder")


class EnrollmentBody(Body):
    email: Email | None = None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: str | None = None


# -- order intents -------------------------------------------------------------------------


class MaxAmountDetails(Body):
    currency: Literal[CURRENCIES]  # type: ignore[valid-type]
    period: Literal["weekly", "monthly", "yearly"] | None = None


class MaxAmount(Body):
    type: Literal["maxAmount"]
    value: str
    details: MaxAmountDetails

    @field_validator("value")
    @classmethod
    def _decimal(cls, value: str) -> str:
        if not DECIMAL.fullmatch(value) or Decimal(value) <= 0:
            raise ValueError('must be a positive decimal amount such as "100.00"')
        return value


class ConsumerDetails(Body):
    email: Email


class Consumer(Body):
    type: Literal["consumer"]
    details: ConsumerDetails


class TextMandate(Body):
    type: Literal["description", "prompt"]
    value: Text


MANDATE_MODELS: dict[str, type[BaseModel]] = {
    "maxAmount": MaxAmount, "consumer": Consumer, "description": TextMandate, "prompt": TextMandate,
}


class Payment(Body):
    paymentMethodId: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OrderIntentBody(Body):
    agentId: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    payment: Payment
    mandates: list[dict[str, Any]] = Field(max_length=20)
    expiresAt: str | None = None

    @field_validator("expiresAt")
    @classmethod
    def _expires(cls, value: str | None) -> str | None:
        message = "must be a UTC date-time such as 2026-12-31T23:59:59Z (a real calendar date, ending in Z)"
        if value is not None:
            if not EXPIRES_AT.fullmatch(value):
                raise ValueError(message)
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:  # year 0000, which the pattern allows but no calendar has
                raise ValueError(message) from None
        return value

    def mandate_problems(self) -> list[FieldError]:
        """Each mandate checked against the model its `type` names."""
        problems: list[FieldError] = []
        for index, mandate in enumerate(self.mandates):
            kind = mandate.get("type")
            model = MANDATE_MODELS.get(kind) if isinstance(kind, str) else None
            if model is None:
                kinds = ", ".join(MANDATE_MODELS)
                problems.append(FieldError(f"mandates.{index}.type", f"must be one of the following values: {kinds}"))
            else:
                problems += model_errors(model, mandate, ("mandates", index))
        return problems


class Merchant(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    url: Url
    countryCode: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Product(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    price: Annotated[float, Field(ge=0)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=2**53 - 1)]


class CredentialsBody(Body):
    merchant: Merchant
    products: Annotated[list[Product], Field(min_length=1)] | None = None

    def total(self) -> Decimal:
        return sum((Decimal(str(p.price)) * p.quantity for p in self.products or ()), Decimal(0))


class VerifyShortcut(Body):
    outcome: Literal["success", "failure"] = "success"


class VerificationForm(BaseModel):
    """The verification page's form (documentation: the page reads it as a form, not JSON): one
    step of the card networks' ceremony, FAIL (the cardholder fails it) or CANCEL."""

    action: Literal[(*ACTIONS, "FAIL", "CANCEL")]  # type: ignore[valid-type]
    methodId: str | None = None
    otpCode: str | None = None
    return_url: str | None = None


class EnrollmentOutcome(Body):
    outcome: Literal["active", "failed"] = "active"


# -- stored objects ------------------------------------------------------------------------


@dataclass(slots=True)
class Agent:
    id: str
    metadata: dict[str, Any]
    created_at: str
    bt_agent_id: str  # the Basis Theory agent behind verificationConfig.agentId

    def to_wire(self) -> dict[str, Any]:
        return {"agentId": self.id, "metadata": self.metadata}


@dataclass(slots=True)
class Enrollment:
    id: str
    status: str  # pending | active | failed
    email: str | None
    public_api_key: str
    ready_ts: float | None = None  # a pending enrollment completes by itself at this time
    settled_ts: float | None = None  # when it became active or failed
    attempts: int = 1

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"enrollmentId": self.id, "status": self.status}
        if self.status == "pending":
            body["verificationConfig"] = {"environment": "test", "publicApiKey": self.public_api_key}
        return body


@dataclass(slots=True)
class PaymentMethod:
    id: str
    brand: str
    bin: str
    last4: str
    expiration: dict[str, str]
    billing: dict[str, Any]
    source_id: str
    profile: Profile
    created_at: str
    enrollment: Enrollment | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "card",
            "paymentMethodId": self.id,
            "card": {
                "source": {"type": "basis-theory-token", "id": self.source_id},
                "brand": self.brand,
                "last4": self.last4,
                "expiration": dict(self.expiration),
                "billing": self.billing,
                "fundingType": "credit",
                "bin": self.bin,
            },
        }


@dataclass(slots=True)
class OrderIntent:
    id: str
    agent_id: str
    payment_method_id: str
    mandates: list[dict[str, Any]]
    phase: str
    created_at: str
    created_ts: float
    expires_at: str | None
    expires_ts: float | None
    public_api_key: str
    bt_agent_id: str
    bt_instruction_id: str
    session: Session | None = None
    spends: list[tuple[float, Decimal]] = field(default_factory=list)  # (when, amount) per credential

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "orderIntentId": self.id,
            "agentId": self.agent_id,
            "phase": self.phase,
            "payment": {"paymentMethodId": self.payment_method_id},
            "mandates": self.mandates,
        }
        if self.phase == "requires-verification":
            body["verificationConfig"] = {
                "environment": "test",
                "publicApiKey": self.public_api_key,
                "agentId": self.bt_agent_id,
                "instructionId": self.bt_instruction_id,
            }
        if self.expires_at is not None:
            body["expiresAt"] = self.expires_at
        body["createdAt"] = self.created_at
        return body
