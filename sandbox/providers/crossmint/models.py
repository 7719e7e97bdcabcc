"""Crossmint request bodies (pydantic) and the stored agents, payment methods and order intents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, StringConstraints, field_validator, model_validator

from sandbox.core.cards import number_problem
from sandbox.core.errors import FieldError, model_errors
from sandbox.core.fields import Url
from sandbox.core.verification import ACTIONS, Session
from sandbox.providers.crossmint import jwe
from sandbox.providers.crossmint.magic import LUHN_EXEMPT, NO_AGENTIC_TOKEN, Profile, RailsProfile

# The seed's pattern for expiresAt: a calendar-valid UTC instant ending in Z (leap years included).
EXPIRES_AT = re.compile(
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])"
    r"-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3])"
    r":[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z))$",
    re.ASCII,  # \d means 0-9 only, not every Unicode digit
)
EMAIL = re.compile(r"^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$")
DECIMAL = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")  # ASCII digits: `\d` would take any script's
CURRENCIES = ("usd", "eur", "aud", "gbp", "jpy", "sgd", "hkd", "krw", "inr", "vnd", "cop")
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("must be an email")
    return value


# Crossmint's own pattern (with look-aheads, which pydantic's patterns do not support).
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]


class Body(BaseModel):
    # defer_build: each model's validator is built by its first use, not at import (start-up time)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _utc_instant(value: str) -> str:
    """The seed's `expiresAt` rule, for both generations of order intents."""
    message = "must be a UTC date-time such as 2026-12-31T23:59:59Z (a real calendar date, ending in Z)"
    if not EXPIRES_AT.fullmatch(value):
        raise ValueError(message)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # year 0000, which the pattern allows but no calendar has
        raise ValueError(message) from None
    return value


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
    year: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]


class CardBody(Body):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    expiration: Expiration
    cvc: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$")] | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        problem = number_problem(value)
        if problem and value not in LUHN_EXEMPT:
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
        return _utc_instant(value) if value is not None else None

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


# -- Gen-2: order-intent registration, amount-based order intents, rail credentials ---------

AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,4})?$")
GEN2_CURRENCIES = tuple(code.upper() for code in CURRENCIES)
GEN1_CREATE_KEYS = frozenset({"agentId", "payment", "mandates"})
RAILS = ("agentic-token", "encrypted-card", "spt")


def is_gen2_create(body: Any) -> bool:
    """A create body with top-level `paymentMethodId` or `amount` and none of Gen-1's keys is Gen-2."""
    return isinstance(body, dict) and not GEN1_CREATE_KEYS & body.keys() and bool({"paymentMethodId", "amount"} & body.keys())


def is_gen2_credentials(body: Any) -> bool:
    """A credentials body that picks a `rail` is Gen-2."""
    return isinstance(body, dict) and "rail" in body


def _country(value: str) -> str:
    if len(value) == 2 and value.isascii() and value.isalpha() and not value.isupper():
        raise ValueError("must be upper case")
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as US")
    return value


Country = Annotated[str, AfterValidator(_country)]


class RegistrationBody(Body):
    email: Email | None = None
    countryCode: Country | None = None
    languageCode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")] | None = None


class Amount(Body):
    value: str
    currency: str

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if not AMOUNT.fullmatch(value) or Decimal(value) <= 0:
            raise ValueError('must be a decimal string greater than 0 with at most 4 decimals, such as "25.00"')
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not value.isascii() or value.upper() not in GEN2_CURRENCIES:  # "uſd".upper() is "USD"
            raise ValueError(f"must be one of the following values: {', '.join(GEN2_CURRENCIES)}")
        return value.upper()

    def decimal(self) -> Decimal:
        return Decimal(self.value)


class AllowanceMerchant(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    url: Url
    countryCode: Country
    categoryCode: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None  # the merchant category code (MCC)
    acquirerBin: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,11}$")] | None = None


class AllowanceBody(Body):
    """Gen-2 `POST /order-intents`: an allowance of `amount` on a registered card."""

    paymentMethodId: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    amount: Amount
    description: Text
    expiresAt: str
    merchant: AllowanceMerchant | None = None

    @field_validator("expiresAt")
    @classmethod
    def _expires(cls, value: str) -> str:
        return _utc_instant(value)


class CardFormat(Body):
    format: Literal["card", "network-token"]


class PublicJwk(Body):
    """The RSA public key the encrypted-card rail encrypts to (a browser's exported JWK)."""

    kty: Literal["RSA"]
    n: Annotated[str, StringConstraints(min_length=1, max_length=1400)]
    e: Annotated[str, StringConstraints(min_length=1, max_length=12)]
    alg: Literal["RSA-OAEP-256"] | None = None
    use: Literal["enc"] | None = None
    kid: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    ext: bool | None = None
    key_ops: Annotated[list[Literal["encrypt", "wrapKey"]], Field(max_length=2)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _public_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"d", "p", "q", "dp", "dq", "qi", "oth"} & data.keys():
            raise ValueError("must be a public key: private members (d, p, q, dp, dq, qi) are refused")
        return data

    @model_validator(mode="after")
    def _usable(self) -> PublicJwk:
        try:
            jwe.public_key(self.n, self.e)
        except jwe.BadKey as exc:
            raise ValueError(str(exc)) from None
        return self


class EncryptedCardFormat(Body):
    format: Literal["card"]
    publicKey: PublicJwk


class SptPayload(Body):
    networkBusinessProfile: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SptFormat(Body):
    format: Literal["identifier"]
    payload: SptPayload


class AgenticTokenRequest(Body):
    rail: Literal["agentic-token"]
    provider: Literal["vic", "agentpay"] | None = None
    amount: Amount | None = None
    credential: CardFormat
    merchant: AllowanceMerchant | None = None


class EncryptedCardRequest(Body):
    rail: Literal["encrypted-card"]
    amount: Amount | None = None
    credential: EncryptedCardFormat
    merchant: AllowanceMerchant | None = None


class SptRequest(Body):
    rail: Literal["spt"]
    provider: Literal["stripe"] | None = None
    amount: Amount | None = None
    credential: SptFormat
    merchant: AllowanceMerchant | None = None


RailRequest = AgenticTokenRequest | EncryptedCardRequest | SptRequest
RAIL_REQUESTS: dict[str, type[AgenticTokenRequest] | type[EncryptedCardRequest] | type[SptRequest]] = {
    "agentic-token": AgenticTokenRequest, "encrypted-card": EncryptedCardRequest, "spt": SptRequest,
}


class OrderIntentCreate(RootModel[OrderIntentBody | AllowanceBody]):
    """Either generation's create body (documentation: the body's keys decide which is parsed)."""


class CredentialsRequest(RootModel[CredentialsBody | AgenticTokenRequest | EncryptedCardRequest | SptRequest]):
    """Either generation's credentials body (documentation: a `rail` makes it Gen-2)."""


class CvcOutcome(Body):
    """The vaulted CVC ages out (`expired`), or the cardholder types it again (`recollected`)."""

    outcome: Literal["expired", "recollected"]


class SettleOutcome(Body):
    """A credential's reservation: the merchant charged it (`captured`) or never will (`released`)."""

    outcome: Literal["captured", "released"] = "captured"


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
    rails: RailsProfile = NO_AGENTIC_TOKEN  # what the Gen-2 registration and allowances do with this card
    cvc_on_file: bool = True  # a CVC was saved (never the CVC itself); the encrypted-card rail needs one
    registration: Registration | None = None

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


# -- Gen-2 stored objects --------------------------------------------------------------------


@dataclass(slots=True)
class RegisteredRail:
    rail: str  # agentic-token | spt
    provider: str
    status: str  # enabled | pending | error
    error_code: str | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rail": self.rail, "provider": self.provider, "status": self.status}
        if self.status == "error":
            body["error"] = {"code": self.error_code or "unknown"}
        return body


@dataclass(slots=True)
class Registration:
    """A card's order-intent registration: the rails provisioned for it (Gen-2's card prerequisite)."""

    payment_method_id: str
    rails: list[RegisteredRail]
    email: str | None
    country_code: str | None
    language_code: str | None
    created_at: str

    def rail(self, name: str) -> RegisteredRail | None:
        return next((rail for rail in self.rails if rail.rail == name), None)

    def to_wire(self) -> dict[str, Any]:
        return {"paymentMethodId": self.payment_method_id, "rails": [rail.to_wire() for rail in self.rails]}


@dataclass(slots=True)
class Rail:
    """One way to pay from an allowance, with its own status (`RAIL_TRANSITIONS` in machine.py)."""

    rail: str  # agentic-token | encrypted-card | spt
    provider: str | None  # vic | agentpay | stripe; none for encrypted-card
    status: str  # active | pending_verification | pending_cvc_recollection | error
    formats: tuple[str, ...]
    error_code: str | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rail": self.rail}
        if self.provider is not None:
            body["provider"] = self.provider
        body["status"] = self.status
        if self.status == "error":
            body["error"] = {"code": self.error_code or "unknown"}
        body["credentialFormats"] = list(self.formats)
        return body


@dataclass(slots=True)
class Reservation:
    """What one issued credential holds of its allowance, until it is captured or released."""

    id: str  # the credential's id
    rail: str
    amount: Decimal
    expires_ts: float  # a credential still reserved then is captured (the sandbox has no merchant side)
    state: str = "reserved"  # reserved | captured | released


def money(amount: Decimal) -> str:
    """Two decimals, or as many as the amount has (at most four)."""
    return f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else format(amount.normalize(), "f")


@dataclass(slots=True)
class Allowance:
    """A Gen-2 order intent: an amount the agent may spend on one card, through its rails."""

    id: str
    payment_method_id: str
    status: str  # active | cancelled | expired
    total: Decimal
    currency: str
    description: str
    merchant: dict[str, Any] | None
    rails: list[Rail]
    brand: str  # the card's (with its BIN, last four and expiry), kept for credentials once the card is deleted
    card_bin: str
    card_last4: str
    card_expiration: dict[str, str]
    created_at: str
    created_ts: float
    expires_at: str
    expires_ts: float
    public_api_key: str
    allowance_id: str  # verificationConfig.allowanceId, the Basis Theory allowance behind the agentic-token rail
    session: Session | None = None  # the ceremony verifying the allowance
    reservations: list[Reservation] = field(default_factory=list)

    def rail(self, name: str) -> Rail | None:
        return next((rail for rail in self.rails if rail.rail == name), None)

    def _held(self, state: str) -> Decimal:
        return sum((r.amount for r in self.reservations if r.state == state), Decimal(0))

    @property
    def spent(self) -> Decimal:
        return self._held("captured")

    @property
    def reserved(self) -> Decimal:
        return self._held("reserved")

    @property
    def available(self) -> Decimal:
        return max(self.total - self.spent - self.reserved, Decimal(0))

    @property
    def awaiting_verification(self) -> bool:
        """An active allowance with a rail the cardholder must verify (a cancelled or expired one never shows it)."""
        return self.status == "active" and any(rail.status == "pending_verification" for rail in self.rails)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "orderIntentId": self.id,
            "paymentMethodId": self.payment_method_id,
            "status": self.status,
            "amount": {"total": money(self.total), "spent": money(self.spent), "reserved": money(self.reserved),
                       "available": money(self.available), "currency": self.currency},
        }
        if self.merchant is not None:
            body["merchant"] = self.merchant
        body["description"] = self.description
        body["rails"] = [rail.to_wire() for rail in self.rails]
        if self.awaiting_verification:
            body["verificationConfig"] = {"environment": "test", "publicApiKey": self.public_api_key, "allowanceId": self.allowance_id}
        body["expiresAt"] = self.expires_at
        body["createdAt"] = self.created_at
        return body
