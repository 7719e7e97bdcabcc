"""Dino request bodies (pydantic) and the stored objects: purchase intents (also served as checkout
intents), spend requests and the key's agent account with its budget policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sandbox.core.fields import Email, Url
from sandbox.core.store import Shared

Status = Literal[
    "intent_created", "approved", "needs_approval", "declined",
    "payment_credential_issued", "execution_started", "completed", "failed",
]

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Cents = Annotated[int, Field(strict=True, gt=0, le=100_000_000_00)]
MetadataKey = Annotated[str, StringConstraints(max_length=40)]
Metadata = Annotated[dict[MetadataKey, Annotated[str, StringConstraints(max_length=500)]], Field(max_length=50)]


@dataclass(frozen=True, slots=True)
class DinoSettings:
    approval_threshold_cents: int = 50_000  # authorize (and a spend request) at or above this needs approval
    wallet_start_cents: int = 1_000_000  # test USD in each new tenant's wallet
    budget_cents: int = 50_000  # each new agent account's budget per period (Dino's quickstart figures)
    approval_timeout_seconds: int = 86_400  # a spend request waiting for approval is cancelled after this


class Strict(BaseModel):
    # Unknown fields are refused, like Stripe: a typo should fail loudly in the sandbox.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Buyer(Strict):
    first_name: Text
    last_name: Text
    email: Email
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ().\-]{5,24}$")] | None = None
    address1: Text
    address2: Text | None = None
    city: Text
    province: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO-3166 alpha-2, upper case")


class CreatePurchaseIntent(Strict):
    product_url: Url
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    # Dino's wallets hold USD only, so purchases are in USD (see docs/dino.md).
    currency: Literal["usd"]
    max_total_cents: Cents
    buyer: Buyer
    metadata: Metadata = Field(default_factory=dict)


class Authorize(Strict):
    expected_total_cents: Cents | None = None  # defaults to max_total_cents (sandbox choice)
    merchant_name: Text | None = None
    reason: Text | None = None


def host_of(value: str) -> str | None:
    """The host a merchant lock or merchant names (a host or a URL); None when it names none."""
    text = value.strip().lower()
    try:
        host = urlsplit(text if "//" in text else "//" + text).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return host.removeprefix("www.") if host else None


def _names_a_host(value: str) -> str:
    if host_of(value) is None:
        raise ValueError("must be a merchant host name or URL, e.g. example.com")
    return value


Merchant = Annotated[str, StringConstraints(min_length=1, max_length=253), AfterValidator(_names_a_host)]


class IssueCredential(Strict):
    provider: Literal["stripe_proxy_card"] = "stripe_proxy_card"
    credential_mode: Literal["one_time_exact_amount"] = "one_time_exact_amount"
    ttl_seconds: Annotated[int, Field(strict=True, ge=60, le=86_400)] = 900
    merchant_lock: Merchant | None = None


class Faucet(Strict):
    amount_cents: Annotated[int, Field(strict=True, gt=0, le=100_000_000)]


class Decision(Strict):
    """The operator's approve or deny."""

    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class Execute(Strict):
    """The merchant's checkout with the issued credential (played by the control plane)."""

    outcome: Literal["started", "completed", "failed"] | None = None
    merchant: Merchant | None = None
    amount_cents: Annotated[int, Field(strict=True, gt=0)] | None = None
    failure_reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ApprovalForm(BaseModel):
    """The approval page's form (documentation: the page reads it as a form, not JSON)."""

    decision: Literal["approve", "deny"]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: str | None = None
    status: Status | None = None


@dataclass(slots=True)
class Wallet:
    """The tenant's test-USD wallet: issuing a credential reserves, checkout settles or releases."""

    available_cents: int
    reserved_cents: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"object": "balance", "currency": "usd", "available_cents": self.available_cents, "reserved_cents": self.reserved_cents}


@dataclass(slots=True)
class Credential:
    handle: str
    provider: str
    mode: str
    approved_amount_cents: int
    merchant_lock: str | None
    ttl_seconds: int
    issued_at: str
    expires_at: str
    expires_ts: float
    released: bool = False  # expired unused: its reserve went back to the wallet


_SHARED = Shared()  # equal buyers, URLs and metadata of stored intents share one copy


@dataclass(slots=True)
class PurchaseIntent:
    """A stored intent, compact: the create body's fields as plain values (not the request model),
    and no rendered copy kept; `to_wire` renders it on each read (docs/performance.md)."""

    id: str
    status: str
    product_url: str
    quantity: int
    currency: str
    max_total_cents: int
    buyer: dict[str, Any]  # the fields the caller set, in the model's order; shared, never changed in place
    metadata: dict[str, str] | None  # None: empty; shared, never changed in place
    created_at: str
    updated_at: str
    expected_total_cents: int | None = None
    merchant_name: str | None = None
    reason: str | None = None
    decision_reason: str | None = None
    decided_at: str | None = None
    approval_url: str | None = None
    credential: Credential | None = None
    failure_reason: str | None = None
    auto_decision: tuple[float, str] | None = None  # a scenario's operator decision: (when, status)

    @classmethod
    def create(cls, intent_id: str, request: CreatePurchaseIntent, now: str) -> PurchaseIntent:
        share = _SHARED
        return cls(
            intent_id, "intent_created", share(request.product_url), request.quantity, share(request.currency),
            request.max_total_cents, share.strings(request.buyer.model_dump(exclude_unset=True)),
            share.strings(request.metadata) if request.metadata else None, now, now,
        )

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickled (a durable backend's state), also as an earlier version kept it: with the create
        body's model (`request`) and a rendered copy (`_wire`)."""
        fields = dict(state[1])
        fields.pop("_wire", None)
        req = fields.pop("request", None)
        if isinstance(req, CreatePurchaseIntent):
            fields.update(
                product_url=req.product_url, quantity=req.quantity, currency=req.currency, max_total_cents=req.max_total_cents,
                buyer=req.buyer.model_dump(exclude_unset=True), metadata=dict(req.metadata) or None,
            )
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def touch(self, now: str) -> None:
        self.updated_at = now

    def to_wire(self) -> dict[str, Any]:
        """The JSON object every endpoint returns, rendered afresh (the caller may keep or change it)."""
        cred = self.credential
        return {
            "id": self.id,
            "object": "purchase_intent",
            "status": self.status,
            "product_url": self.product_url,
            "quantity": self.quantity,
            "currency": self.currency,
            "max_total_cents": self.max_total_cents,
            "buyer": dict(self.buyer),
            "metadata": dict(self.metadata) if self.metadata else {},
            "expected_total_cents": self.expected_total_cents,
            "merchant_name": self.merchant_name,
            "reason": self.reason,
            "decision_reason": self.decision_reason,
            "decided_at": self.decided_at,
            "approval_url": self.approval_url if self.status == "needs_approval" else None,
            "payment_credential_handle": cred.handle if cred else None,
            "one_time_exact_amount": cred.mode == "one_time_exact_amount" if cred else None,
            "approved_amount_cents": cred.approved_amount_cents if cred else None,
            "credential_expires_at": cred.expires_at if cred else None,
            "credential_provider": cred.provider if cred else None,
            "credential_mode": cred.mode if cred else None,
            "credential_ttl_seconds": cred.ttl_seconds if cred else None,
            "merchant_lock": cred.merchant_lock if cred else None,
            "failure_reason": self.failure_reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


# -- spend requests and the agent account --------------------------------------------------------

SpendStatus = Literal["approved", "needs_approval", "declined", "cancelled"]
BudgetPeriod = Literal["daily", "weekly", "monthly"]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Budget = Annotated[int, Field(strict=True, ge=0, le=100_000_000_00)]


class CreateSpendRequest(Strict):
    amount_cents: Cents
    currency: Literal["usd"]
    merchant_name: Text
    reason: Text | None = None
    metadata: Metadata = Field(default_factory=dict)
    # The legacy `POST /v1/spend` took the key in the body too (Dino's older errors page).
    idempotency_key: IdempotencyKey | None = None


class SpendListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: str | None = None
    status: SpendStatus | None = None


class PolicyUpdate(Strict):
    """The operator's changes to a key's agent account and budget policy (control plane); omitted
    fields keep their value."""

    name: Text | None = None
    budget_period: BudgetPeriod | None = None
    budget_cents: Budget | None = None
    monthly_budget_cents: Budget | None = None
    approval_threshold_cents: Cents | None = None
    max_transaction_cents: Cents | None = None  # null: no per-request maximum
    approval_timeout_seconds: Annotated[int, Field(strict=True, ge=60, le=30 * 86_400)] | None = None

    @field_validator("name", "budget_period", "budget_cents", "monthly_budget_cents", "approval_threshold_cents",
                     "approval_timeout_seconds", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # omit a field to keep it; only max_transaction_cents may be cleared
            raise ValueError("cannot be null")
        return value


def period_start(period: str, timestamp: float) -> float:
    """The start of the budget window holding `timestamp`, in UTC: the day, the ISO week (from
    Monday) or the calendar month."""
    day = datetime.fromtimestamp(timestamp, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day.timestamp()
    if period == "weekly":
        return (day - timedelta(days=day.weekday())).timestamp()
    return day.replace(day=1).timestamp()


@dataclass(slots=True)
class Policy:
    budget_period: str
    budget_cents: int
    monthly_budget_cents: int
    approval_threshold_cents: int
    approval_timeout_seconds: int
    max_transaction_cents: int | None = None


@dataclass(slots=True)
class Account:
    """The agent account a key spends from (one per key), holding its budget policy and the
    approved spend that counts against it."""

    id: str
    team_id: str
    name: str
    policy: Policy
    created_at: str
    updated_at: str
    spent: list[tuple[float, int]] = field(default_factory=list)  # (approved at, cents), oldest first
    remaining_budget_cents: int = 0  # as of the last `refresh`
    remaining_monthly_budget_cents: int = 0

    def refresh(self, now: float) -> None:
        """Recount what is left of the budget in the windows holding `now`; forget spend older than
        any window could reach (the ISO week may begin in the previous month, and the operator may
        switch to a weekly period at any time)."""
        start = period_start(self.policy.budget_period, now)
        month = period_start("monthly", now)
        oldest = min(period_start("weekly", now), month)
        self.spent = [entry for entry in self.spent if entry[0] >= oldest]
        in_period = sum(cents for at, cents in self.spent if start <= at <= now)
        in_month = sum(cents for at, cents in self.spent if month <= at <= now)
        self.remaining_budget_cents = max(self.policy.budget_cents - in_period, 0)
        self.remaining_monthly_budget_cents = max(self.policy.monthly_budget_cents - in_month, 0)

    def spend(self, at: float, cents: int) -> None:
        self.spent.append((at, cents))
        self.refresh(at)

    def to_wire(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "id": self.id,
            "object": "account",
            "type": "agent",
            "team_id": self.team_id,
            "name": self.name,
            "status": "active",
            "currency": "usd",
            "budget_period": policy.budget_period,
            "budget_cents": policy.budget_cents,
            "remaining_budget_cents": self.remaining_budget_cents,
            "monthly_budget_cents": policy.monthly_budget_cents,
            "remaining_monthly_budget_cents": self.remaining_monthly_budget_cents,
            "approval_threshold_cents": policy.approval_threshold_cents,
            "max_transaction_cents": policy.max_transaction_cents,
            "approval_timeout_seconds": policy.approval_timeout_seconds,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class SpendRequest:
    id: str
    status: str  # `created` only inside the call that creates it (see machine.py)
    request: CreateSpendRequest
    team_id: str
    agent_account_id: str
    created_at: str
    updated_at: str
    budget_period: str = "monthly"
    remaining_budget_cents: int = 0  # the account's, as of this request's last decision
    remaining_monthly_budget_cents: int = 0
    decision_reason: str | None = None
    decided_at: str | None = None
    approval_url: str | None = None
    expires_at: str | None = None  # while it waits for approval: when it is cancelled
    expires_ts: float | None = None
    auto_decision: tuple[float, str] | None = None  # a scenario's operator decision: (when, status)
    _wire: dict[str, Any] | None = field(default=None, repr=False)

    def touch(self, now: str) -> None:
        self.updated_at = now
        self._wire = None

    def budget(self, account: Account) -> None:
        """Take the account's remaining figures, as they are at this decision."""
        self.budget_period = account.policy.budget_period
        self.remaining_budget_cents = account.remaining_budget_cents
        self.remaining_monthly_budget_cents = account.remaining_monthly_budget_cents
        self._wire = None

    def to_wire(self) -> dict[str, Any]:
        if self._wire is None:
            req = self.request
            self._wire = {
                "id": self.id,
                "object": "spend_request",
                "team_id": self.team_id,
                "agent_account_id": self.agent_account_id,
                "status": self.status,
                "decision_reason": self.decision_reason,
                "budget_period": self.budget_period,
                "remaining_budget_cents": self.remaining_budget_cents,
                "remaining_monthly_budget_cents": self.remaining_monthly_budget_cents,
                "amount_cents": req.amount_cents,
                "currency": req.currency,
                "merchant_name": req.merchant_name,
                "reason": req.reason,
                "metadata": dict(req.metadata),
                "approval_url": self.approval_url if self.status == "needs_approval" else None,
                "expires_at": self.expires_at if self.status == "needs_approval" else None,
                "decided_at": self.decided_at,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
            }
        return self._wire


@dataclass(frozen=True, slots=True)
class BodyKey:
    """A legacy `idempotency_key` body field: the request it was first used with, and the answer."""

    request: dict[str, Any]
    response: dict[str, Any]
