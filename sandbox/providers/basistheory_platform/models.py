"""Basis Theory platform request bodies (snake_case, as the SDK sends them) and stored objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from sandbox.core.cards import number_problem
from sandbox.core.fields import Email
from sandbox.core.verification import ACTIONS
from sandbox.providers.basistheory_platform.brands import brand_name

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,4})?$", re.ASCII)


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _not_bool(value: Any) -> Any:
    """A JSON `true` is no month or year (pydantic's lax mode would read it as 1)."""
    if isinstance(value, bool):
        raise ValueError("The value must be a number, not a boolean.")
    return value


ExpiryPart = Annotated[int, BeforeValidator(_not_bool)]  # an expiration month or year


class Body(BaseModel):
    # The SDK's models allow extra fields; unknown ones are accepted and ignored here too.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CardData(Body):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    expiration_month: Annotated[ExpiryPart, Field(ge=1, le=12)]
    expiration_year: Annotated[ExpiryPart, Field(ge=2000, le=2100)]
    cvc: Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^\d{3,4}$")] | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        problem = number_problem(value)
        if problem:
            raise ValueError(f"The number {problem}.")
        return value


# A container is a path of segments, `/pci/high/`; search indexes and the fingerprint expression are
# kept and shown, not evaluated (docs/basistheory.md, Tokens).
Container = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9_-]{1,64}){1,8}/$")]
SearchIndex = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Metadata = dict[MetadataKey, Annotated[str, StringConstraints(max_length=10_000)] | None]


class TokenCreate(Body):
    type: Literal["card"]
    data: CardData
    metadata: Metadata | None = None
    search_indexes: Annotated[list[SearchIndex], Field(max_length=20)] | None = None
    fingerprint_expression: NonEmpty | None = None
    containers: Annotated[list[Container], Field(min_length=1, max_length=20)] | None = None


class CardDataPatch(Body):
    """What a merge patch may say of a card's data: each field replaces, a null removes (and the
    merged card must still be a card)."""

    number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    expiration_month: ExpiryPart | None = None
    expiration_year: ExpiryPart | None = None
    cvc: Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^\d{3,4}$")] | None = None


class TokenUpdate(Body):
    """`PATCH /tokens/{id}`, a JSON merge patch (RFC 7396): objects merge, a null removes, lists replace.
    `type` cannot change; `mask`, `privacy`, `expires_at` and `deduplicate_token` are accepted and ignored."""

    data: CardDataPatch | None = None
    metadata: Metadata | None = None
    search_indexes: Annotated[list[SearchIndex], Field(max_length=20)] | None = None
    fingerprint_expression: NonEmpty | None = None
    containers: Annotated[list[Container], Field(min_length=1, max_length=20)] | None = None


PageSize = Annotated[int, Field(ge=1, le=100)]


class TokenSearch(Body):
    """`POST /tokens/search` (v1): offset pages."""

    query: Annotated[str, StringConstraints(max_length=2000)] | None = None
    page: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    size: PageSize | None = None


class TokenSearchV2(Body):
    """`POST /v2/tokens/search`: cursor pages (`start` is the previous page's `pagination.next`)."""

    query: Annotated[str, StringConstraints(max_length=2000)] | None = None
    start: Annotated[str, StringConstraints(max_length=200)] | None = None
    size: PageSize | None = None


class InstanceDetails(Body):
    ip_address: str | None = None
    brand: str | None = None
    type: str | None = None


class AgentCreate(Body):
    name: NonEmpty
    enrollment_ids: list[str] | None = None
    instance_details: InstanceDetails | None = None


class AgentUpdate(Body):
    name: NonEmpty | None = None
    enrollment_ids: list[str] | None = None
    instance_details: InstanceDetails | None = None


class Consumer(Body):
    email: Email
    id: str | None = None
    country_code: str | None = None
    language_code: str | None = None


class EnrollmentCreate(Body):
    token_id: NonEmpty
    consumer: Consumer
    agent_id: str | None = None
    agent_ids: list[str] | None = None
    wallet_name: str | None = None
    type: Literal["agentic", "autofill", "spt"] = "agentic"
    provider: Literal["stripe"] | None = None

    @model_validator(mode="after")
    def _rules(self) -> EnrollmentCreate:
        if self.agent_id is not None and self.agent_ids is not None:
            raise ValueError("agent_id and agent_ids are mutually exclusive")
        if self.type == "spt" and self.provider is None:
            raise ValueError("provider is required when type is spt")
        if self.type != "spt" and self.provider is not None:
            raise ValueError("provider is only allowed when type is spt")
        return self


class DeviceContext(Body):
    screen_height: int
    screen_width: int
    user_agent_string: str
    language_code: str
    time_zone: str
    java_script_enabled: bool
    client_device_id: str
    client_reference_id: str
    platform_type: Literal["WEB", "MOBILE", "NATIVE"]


class VerifyStart(Body):
    device_context: DeviceContext


class VerifyMethod(Body):
    method_id: NonEmpty


class VerifyOtp(Body):
    otp_code: NonEmpty


class VerifyComplete(Body):
    assurance_data: dict[str, Any] | None = None
    src_correlation_id: str | None = None


class VerifyPasskey(Body):
    assurance_data: dict[str, Any]
    src_correlation_id: str | None = None
    flow_id: str | None = None


class Amount(Body):
    value: str
    currency: str | None = "USD"

    @field_validator("value", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        if not isinstance(value, str) or not AMOUNT.fullmatch(value):
            raise ValueError("The value must be a decimal string such as \"25.00\".")
        if Decimal(value) <= 0:
            raise ValueError("The value must be more than 0.")
        return value


def _in_range(value: datetime | None) -> datetime | None:
    """Naive instants are UTC; the year must stay where timestamps can be computed."""
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # Years 1 and 9999 are checked first: converting them to UTC can overflow datetime.
    if value.year in (1, 9999) or not 1970 <= value.astimezone(UTC).year < 9000:
        raise ValueError("The expires_at must be between 1970 and 9000.")
    return value


Instant = Annotated[datetime, AfterValidator(_in_range)]


class Recurring(Body):
    frequency: Literal["weekly", "monthly", "yearly"]


class InstructionCreate(Body):
    enrollment_id: NonEmpty
    amount: Amount
    description: NonEmpty
    expires_at: Instant
    recurring: Recurring | None = None


class InstructionUpdate(Body):
    amount: Amount | None = None
    description: NonEmpty | None = None
    expires_at: Instant | None = None


class Merchant(Body):
    name: NonEmpty
    url: NonEmpty
    country_code: NonEmpty
    category_code: str | None = None


class Product(Body):
    name: str
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    quantity: Annotated[int, Field(ge=1)]


class CredentialsCreate(Body):
    merchant: Merchant | None = None
    products: list[Product] | None = None
    amount: Amount | None = None


def _clamp(value: Any) -> Any:
    """The SDK declares no 400 for lists, so an out-of-range limit is brought into range."""
    try:
        return min(max(int(value), 1), 100)
    except (TypeError, ValueError):
        return value


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: Annotated[int, BeforeValidator(_clamp)] = 20
    cursor: str | None = None
    enrollment_id: str | None = None


def _first_page(value: Any) -> Any:
    """A page before the first is the first."""
    try:
        return min(max(int(value), 1), 1_000_000)
    except (TypeError, ValueError):
        return value


class TokenListQuery(BaseModel):
    """`GET /tokens` (v1): offset pages; `id` and `type` may repeat (any of them), `metadata.<key>=value`
    filters too. A size outside 1-100 is brought into range, as for the agentic lists."""

    model_config = ConfigDict(extra="ignore")
    page: Annotated[int, BeforeValidator(_first_page)] = 1
    size: Annotated[int, BeforeValidator(_clamp)] = 20
    id: str | None = None
    type: str | None = None


class TokenListV2Query(BaseModel):
    """`GET /v2/tokens`: cursor pages. `metadata` is a JSON object (as the Node SDK sends it);
    `metadata[key]=value` (the Python SDK's form) filters too."""

    model_config = ConfigDict(extra="ignore")
    type: str | None = None
    container: str | None = None
    fingerprint: str | None = None
    metadata: str | None = None
    start: str | None = None
    size: Annotated[int, BeforeValidator(_clamp)] = 20


@dataclass(slots=True)
class Token:
    id: str
    tenant_id: str
    brand: str
    bin: str
    last4: str
    expiration_month: int
    expiration_year: int
    fingerprint: str
    number: str  # kept for the mock PAN only; never rendered
    metadata: dict[str, Any] | None
    created_at: str
    seq: int = 0  # creation order in the tenant: lists and searches are newest first, cursors name it
    containers: list[str] = field(default_factory=lambda: ["/pci/high/"])
    search_indexes: list[str] | None = None
    fingerprint_expression: str = "{{ data.number }}"
    modified_at: str | None = None

    def card(self) -> dict[str, Any]:
        return {"bin": self.bin, "last4": self.last4, "expiration_month": self.expiration_month,
                "expiration_year": self.expiration_year, "brand": brand_name(self.brand), "funding": "credit"}

    def to_wire(self) -> dict[str, Any]:
        masked = "X" * (len(self.number) - 4) + self.last4
        return {
            "id": self.id, "type": "card", "tenant_id": self.tenant_id,
            "data": {"number": masked, "expiration_month": self.expiration_month, "expiration_year": self.expiration_year},
            "card": self.card(), "fingerprint": self.fingerprint, "metadata": self.metadata,
            "mask": {"number": "{{ data.number | reveal_last: 4 }}"}, "created_at": self.created_at,
            "containers": list(self.containers), "search_indexes": self.search_indexes,
            "fingerprint_expression": self.fingerprint_expression, "modified_at": self.modified_at,
        }


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    enrollment_ids: list[str]
    instance_details: dict[str, Any] | None
    created_at: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": "active", "enrollment_ids": list(self.enrollment_ids),
                "instance_details": self.instance_details, "created_at": self.created_at}


@dataclass(slots=True)
class Enrollment:
    id: str
    token_id: str
    card: dict[str, Any]
    agent_ids: list[str]
    wallet_name: str
    type: str
    provider: str
    status: str
    created_at: str
    profile: Any  # magic.Profile
    step: str = "new"  # verification progress: new -> challenge -> otp_sent -> device_bound | redirect | passkey
    method_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "token_id": self.token_id, "card": self.card, "agent_ids": list(self.agent_ids),
                "wallet_name": self.wallet_name, "type": self.type, "provider": self.provider, "status": self.status,
                "created_at": self.created_at}


@dataclass(slots=True)
class Instruction:
    id: str
    agent_id: str
    enrollment_id: str
    amount: dict[str, Any]
    description: str
    expires_at: str
    expires_ts: float
    status: str
    type: str
    created_at: str
    recurring: dict[str, Any] | None = None
    credential_type: str = "card"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "enrollment_id": self.enrollment_id, "amount": self.amount, "description": self.description,
                "expires_at": self.expires_at, "recurring": self.recurring, "status": self.status, "type": self.type,
                "credential_type": self.credential_type, "created_at": self.created_at}


class CeremonyStep(Body):
    """One action of the card networks' verification ceremony (the operator's walk-through)."""

    action: Literal[ACTIONS]  # type: ignore[valid-type]
    payload: dict[str, Any] = Field(default_factory=dict)


class ChallengeForm(BaseModel):
    """The 3-D Secure challenge page's form (documentation: the page reads it as a form)."""

    code: str | None = None
    action: Literal["submit", "approve", "cancel"] | None = None
    return_url: str | None = None


class RedirectForm(BaseModel):
    """Mastercard's hosted page's form (documentation: the page reads it as a form)."""

    action: Literal["authenticate", "cancel"]
    return_url: str | None = None
