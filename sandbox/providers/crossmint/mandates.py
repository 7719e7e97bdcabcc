"""Card credentials for an active order intent, within its maxAmount mandates.

A mandate caps each purchase and, with a period, the total spent in the current calendar
window (UTC); every credential issued counts its amount towards that total.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.agents import Agents
from sandbox.providers.crossmint.enrollment import PaymentMethods
from sandbox.providers.crossmint.models import CredentialsBody, OrderIntent
from sandbox.providers.crossmint.order_intents import OrderIntents
from sandbox.providers.crossmint.records import PROVIDER, Records

CREDENTIAL_LIFETIME = timedelta(minutes=30)
CARD_YEARS = 3  # how far ahead an issued card's expiry date lies


class Credentials:
    def __init__(self, records: Records, agents: Agents, methods: PaymentMethods, intents: OrderIntents) -> None:
        self.records = records
        self.agents = agents
        self.methods = methods
        self.intents = intents

    def issue(self, project: str, user: str, intent_id: str, body: CredentialsBody) -> dict[str, Any]:
        intent = self.intents.get(project, user, intent_id)
        self._check_usable(project, user, intent)
        self._scripted_refusal(project, intent, body)
        amount, now = body.total(), self.records.now()
        enforce(intent, amount, now)
        # A deleted card still serves its active intents; its brand is then unknown.
        method = self.methods.find(project, user, intent.payment_method_id)
        number, cvc = cards.issue(method.brand if method else "visa", self.records.ids.digits(project, "virtual_card"))
        intent.spends.append((now.timestamp(), amount))
        payload = {"orderIntentId": intent.id, "merchant": body.merchant.model_dump()}
        self.records.emit(project, machine.CREDENTIALS_ISSUED_EVENT, intent.id, payload)
        card = {"number": number, "expirationMonth": f"{now.month:02d}", "expirationYear": str(now.year + CARD_YEARS), "cvc": cvc}
        return {"card": card, "expiresAt": iso(_expiry(intent, now))}

    def _check_usable(self, project: str, user: str, intent: OrderIntent) -> None:
        if intent.phase != "active":
            raise machine.wrong_phase(intent.id, intent.phase, "'active'")
        if not self.agents.exists(project, user, intent.agent_id):
            raise SandboxError(ErrorKind.INVALID_STATE, f"agent {intent.agent_id} was deleted; its order intents no longer work")

    def _scripted_refusal(self, project: str, intent: OrderIntent, body: CredentialsBody) -> None:
        scripted_refusal(self.records, project, body.model_dump(exclude_unset=True), intent.to_wire())


def scripted_refusal(records: Records, project: str, request: dict[str, Any], intent: dict[str, Any]) -> None:
    """A scenario rule's refusal of a credentials request (either generation), raised; nothing when none decides."""
    context = {"request": request, "order_intent": intent}
    scripted = records.rt.rules.decide(PROVIDER, "issue_credentials", project, context)
    if scripted is not None:
        refusal = scripted.refuse
        raise SandboxError(ErrorKind.INVALID_STATE, refusal.message, status=refusal.status, code=refusal.code)


def enforce(intent: OrderIntent, amount: Decimal, now: datetime) -> None:
    """Refuses an amount over any maxAmount mandate, alone or added to its period's spending."""
    for mandate in intent.mandates:
        if mandate["type"] == "maxAmount":
            _check_max_amount(mandate, intent.spends, amount, now)


def _check_max_amount(mandate: dict[str, Any], spends: list[tuple[float, Decimal]], amount: Decimal, now: datetime) -> None:
    limit, period = Decimal(mandate["value"]), mandate["details"].get("period")
    currency = mandate["details"]["currency"]
    if amount > limit:
        raise SandboxError(
            ErrorKind.PAYMENT_REQUIRED, f"amount {_money(amount)} exceeds the maxAmount mandate of {limit} {currency}",
            code="MANDATE_MAX_AMOUNT_EXCEEDED", details={"limit": str(limit), "amount": _money(amount)},
        )
    if not period:
        return
    start = _period_start(now, period).timestamp()
    spent = sum((a for when, a in spends if when >= start), Decimal(0))
    if spent + amount > limit:
        raise SandboxError(
            ErrorKind.PAYMENT_REQUIRED,
            f"amount {_money(amount)} would exceed the {period} budget of {limit} {currency} ({_money(spent)} already used)",
            code="MANDATE_PERIOD_BUDGET_EXCEEDED",
            details={"limit": str(limit), "spent": _money(spent), "amount": _money(amount), "period": period},
        )


def _expiry(intent: OrderIntent, now: datetime) -> datetime:
    """Credentials live CREDENTIAL_LIFETIME, but never beyond their intent."""
    expires = now + CREDENTIAL_LIFETIME
    if intent.expires_ts is not None:
        expires = min(expires, datetime.fromtimestamp(intent.expires_ts, UTC))
    return expires


def _period_start(now: datetime, period: str) -> datetime:
    """Calendar windows in UTC: ISO weeks start on Monday."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"
