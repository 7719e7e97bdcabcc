"""Credentials for an approved instruction: the provider's mock virtual card, or a Stripe SPT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.core.clock import iso
from sandbox.core.errors import invalid_field
from sandbox.providers.basistheory_platform import enrollments, instructions
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.errors import unprocessable
from sandbox.providers.basistheory_platform.models import CredentialsCreate, Instruction

MOCK_PAN_PREFIX = "400000100000"  # the provider's mock virtual cards: this prefix + the card's last four
LIFETIME = timedelta(minutes=30)  # never past the instruction's own expiry


def issue(ctx: Context, tenant: str, agent_id: str, instruction_id: str, body: CredentialsCreate) -> dict[str, Any]:
    instruction = instructions.get(ctx, tenant, agent_id, instruction_id)
    if instruction.status != "approved":
        raise unprocessable(f"Credentials need an approved instruction; this one is {instruction.status}.", status=instruction.status)
    if instruction.credential_type == "card" and body.merchant is None:
        raise invalid_field("merchant", "The merchant is required for card instructions.")
    _within_limit(instruction, body)
    enrollment = enrollments.get(ctx, tenant, instruction.enrollment_id)
    if enrollment.status != "active":
        raise unprocessable(f"The enrollment is {enrollment.status}; credentials need an active one.", status=enrollment.status)
    now = ctx.rt.clock.now()
    expires = min(now + LIFETIME, datetime.fromtimestamp(instruction.expires_ts, UTC))
    if instruction.credential_type == "spt":
        return {"spt": {"id": "spt_" + ctx.ids.alnum(tenant, "spt", 24)}, "expires_at": iso(expires)}
    card = {"number": MOCK_PAN_PREFIX + enrollment.card["last4"], "expiration_month": now.month, "expiration_year": now.year + 3,
            "cvc": ctx.ids.digits(tenant, "cvc", 3)}
    # The event names the instruction, never the card.
    ctx.hooks.emit(tenant, "agentic.credentials.created", "instruction", instruction.to_wire())
    return {"card": card, "expires_at": iso(expires)}


def _within_limit(instruction: Instruction, body: CredentialsCreate) -> None:
    """The amount asked for (sent, or else the products' total) may not pass the instruction's."""
    if body.amount:
        asked = Decimal(body.amount.value)
    else:
        asked = sum((Decimal(str(p.price)) * p.quantity for p in body.products or ()), Decimal(0))
    limit = Decimal(instruction.amount["value"])
    if asked > limit:
        raise unprocessable(f"The amount {asked} is above the instruction's amount {limit}.", amount=str(asked), limit=str(limit))
