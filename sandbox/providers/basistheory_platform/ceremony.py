"""The cardholder's side of a verification: the pages the sandbox stands in for, and how a
verification answer points the cardholder at them (shared by enrollments and instructions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.core.clock import iso
from sandbox.core.pages import amount_text, card_text
from sandbox.core.runtime import Runtime
from sandbox.core.verification import Subject
from sandbox.providers.basistheory_platform.events import PROVIDER

PASSKEY_PAGE = "/_sandbox/basistheory/passkey"  # stands in for the card network's passkey page
REDIRECT_PAGE = "/_sandbox/basistheory/redirect/"  # stands in for Mastercard's hosted authentication
OTP_METHODS = [{"id": "sms-1", "type": "sms", "value": "***-***-1234"}, {"id": "email-1", "type": "email", "value": "c***@example.com"}]


def redirect(rt: Runtime, reference: str, links_base: str) -> dict[str, Any]:
    """Mastercard's hosted page, open for 15 minutes."""
    expires = rt.clock.now() + timedelta(minutes=15)
    return {"uri": f"{links_base}{REDIRECT_PAGE}{reference}", "uri_type": "WEB_URI", "expires_at": iso(expires)}


def passkey(reference: str, card: dict[str, Any], action: str, links_base: str) -> dict[str, Any]:
    """The card network's passkey page; `action` is REGISTER for an enrollment, AUTHENTICATE for an instruction."""
    return {
        "endpoint": f"{links_base}{PASSKEY_PAGE}?identifier={reference}", "identifier": reference,
        "action": action, "platform_type": "WEB",
        "display_context": {"card_last4": card["last4"], "card_brand": card["brand"]},
    }


def subject(rt: Runtime, reference: str) -> Subject | None:
    """An enrollment or an instruction of this platform, as the passkey and Mastercard pages show
    it, with what the front end calls once the cardholder is done; None for another id."""
    space = rt.store.locate("enrollment", reference)
    enrollment = rt.store.get(space, "enrollment", reference) if space is not None else None
    if enrollment is not None:
        rows = _rows(("Card", card_text(enrollment.card.get("brand"), enrollment.card.get("last4"))), ("Wallet", enrollment.wallet_name),
                     ("Enrollment", enrollment.id), ("Status", enrollment.status))
        return Subject(PROVIDER, LABEL, "Card enrollment", rows, f"POST /agentic/enrollments/{enrollment.id}/verify/complete")
    space = rt.store.locate("instruction", reference)
    instruction = rt.store.get(space, "instruction", reference) if space is not None else None
    if instruction is None or space is None:
        return None
    enrolled = rt.store.get(space, "enrollment", instruction.enrollment_id)
    card = enrolled.card if enrolled is not None else {}
    rows = _rows(("Amount", amount_text(instruction.amount.get("value"), instruction.amount.get("currency"))),
                 ("Description", instruction.description), ("Card", card_text(card.get("brand"), card.get("last4"))),
                 ("Instruction", instruction.id), ("Status", instruction.status), ("Expires", instruction.expires_at))
    then = f"POST /agentic/agents/{instruction.agent_id}/instructions/{instruction.id}/verify/passkey"
    return Subject(PROVIDER, LABEL, "Agent instruction", rows, then)


LABEL = "Basis Theory"


def _rows(*rows: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((label, str(value)) for label, value in rows if value is not None and value != "")
