"""The cardholder's side of a verification: the pages the sandbox stands in for, and how a
verification answer points the cardholder at them (shared by enrollments and instructions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.core.clock import iso
from sandbox.core.runtime import Runtime

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
