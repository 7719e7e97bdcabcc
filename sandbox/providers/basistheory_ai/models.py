"""Basis Theory AI request bodies (pydantic) and the stored payment methods and purchase intents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from sandbox.core.cards import number_problem
from sandbox.core.verification import ACTIONS, Session
from sandbox.providers.basistheory_ai.magic import Profile
from sandbox.providers.basistheory_ai.mandates import Mandate

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _digits(value: Any) -> Any:
    """Months and years arrive as strings ("03") or, from older clients, as numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Body(BaseModel):
    # The provider's clients send extra fields (e.g. `iframeData`); they are accepted and ignored.
    # defer_build: each model's validator is built by its first use, not at import (start-up time)
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class CardInput(Body):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    expirationMonth: Annotated[str, BeforeValidator(_digits), StringConstraints(pattern=r"^(0?[1-9]|1[0-2])$")]
    expirationYear: Annotated[str, BeforeValidator(_digits), StringConstraints(pattern=r"^\d{4}$")]
    cvc: Annotated[str, StringConstraints(pattern=r"^\d{3,4}$")]

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        problem = number_problem(value.replace(" ", ""))
        if problem:
            raise ValueError(f"card number {problem}")
        return value.replace(" ", "")


class CreatePaymentMethod(Body):
    entityId: EntityId
    card: CardInput | None = None
    tokenId: Uuid | None = None
    encryptedCard: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CreatePaymentMethod:
        given = [name for name in ("card", "tokenId", "encryptedCard") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("exactly one of card, tokenId or encryptedCard is required")
        if given != ["card"]:
            raise ValueError(f"{given[0]} is not supported by the sandbox yet; send card")
        return self


class CreatePurchaseIntent(Body):
    entityId: EntityId
    credentialType: str
    paymentMethodId: str
    mandates: list[Mandate] = Field(default_factory=list, max_length=6)

    @field_validator("credentialType")
    @classmethod
    def _virtual_card(cls, value: str) -> str:
        if value != "virtual-card":
            raise ValueError("Credential type must be: virtual-card (other types not currently supported)")
        return value

    @field_validator("paymentMethodId")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not _UUID.fullmatch(value):
            raise ValueError("Payment method ID must be a valid UUID.")
        return value


class Verify(Body):
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    payload: dict[str, Any] = Field(default_factory=dict)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    offset: Annotated[int, Field(ge=0)] = 0


@dataclass(slots=True)
class PaymentMethod:
    id: str
    entity_id: str
    brand: str
    bin: str
    last4: str
    expiration_month: str
    expiration_year: str
    profile: Profile  # the magic card's path for its purchase intents
    created_at: str
    intent_ids: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "card",
            "entityId": self.entity_id,
            "card": {
                "brand": self.brand,
                "type": "credit",
                "details": {
                    "bin": self.bin, "last4": self.last4,
                    "expirationMonth": self.expiration_month, "expirationYear": self.expiration_year,
                },
            },
            "credentialTypes": ["virtual-card"],
            "createdAt": self.created_at,
        }


@dataclass(slots=True)
class VirtualCard:
    number: str
    expiration_month: str
    expiration_year: str
    cvc: str

    def to_wire(self) -> dict[str, str]:
        return {"number": self.number, "expirationMonth": self.expiration_month, "expirationYear": self.expiration_year, "cvc": self.cvc}


@dataclass(slots=True)
class PurchaseIntent:
    id: str
    project_id: str
    entity_id: str
    payment_method_id: str
    credential_type: str
    mandates: list[dict[str, Any]]
    status: str
    created_at: str
    expires_at: str
    expires_ts: float
    ready_ts: float | None = None  # when a pending intent becomes active
    verification: Session | None = None
    card: VirtualCard | None = None

    def to_wire(self, *, with_card: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "entityId": self.entity_id,
            "credentialType": self.credential_type,
            "status": self.status,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "paymentMethodId": self.payment_method_id,
            "projectId": self.project_id,
            "mandates": self.mandates,
        }
        if with_card and self.status == "active" and self.card is not None:
            body["card"] = self.card.to_wire()
        return body


class VerificationForm(BaseModel):
    """The verification page's form (documentation: the page reads it as a form, not JSON): one
    step of the ceremony, as the API's verify takes it, or CANCEL."""

    action: Literal[(*ACTIONS, "CANCEL")]  # type: ignore[valid-type]
    methodId: str | None = None
    otpCode: str | None = None
    return_url: str | None = None
