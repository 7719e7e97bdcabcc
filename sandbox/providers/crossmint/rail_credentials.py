"""Gen-2 credentials: the body picks a rail, and the credential takes part of the allowance.

The allowance must be usable: `active`, before `expiresAt`, the rail asked for `active`, the
amount in the allowance's currency and at most what is available, the merchant unset on the
allowance or the same. Each credential reserves its amount until it lapses (then it counts as
spent: the sandbox has no merchant side to say otherwise) or the control plane settles it.

- agentic-token: a one-time card of the card's network (Visa's VIC, Mastercard's Agent Pay).
- encrypted-card: the saved card (its BIN, last four and expiry; the sandbox never keeps the
  middle digits or the CVC, so those are drawn from the seed) as a compact JWE encrypted to the
  client's RSA public key (jwe.py).
- spt: a Stripe shared payment token id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.providers.crossmint import jwe, machine
from sandbox.providers.crossmint.allowances import KIND, Allowances
from sandbox.providers.crossmint.machine import RESERVATION_OUTCOMES
from sandbox.providers.crossmint.mandates import CARD_YEARS, CREDENTIAL_LIFETIME, scripted_refusal
from sandbox.providers.crossmint.models import (
    AgenticTokenRequest,
    Allowance,
    EncryptedCardRequest,
    Rail,
    RailRequest,
    Reservation,
    SptRequest,
    money,
)
from sandbox.providers.crossmint.records import PROVIDER, Records, not_found

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

PUBLIC_KEY_FIELD = "credential.publicKey"
CREDENTIAL_TIMER = "credential"  # a reservation's lapse (its obj_id: the credential, which leads to its intent)
# A rail that cannot mint, by its status: (code, what the client does about it).
RAIL_REFUSALS = {
    "pending_verification": ("ORDER_INTENT_VERIFICATION_REQUIRED", "the cardholder must verify the allowance first"),
    "pending_cvc_recollection": ("ORDER_INTENT_CVC_RECOLLECTION_REQUIRED", "the card's CVC must be collected again"),
    "error": ("ORDER_INTENT_RAIL_ERROR", "the rail failed and cannot mint"),
}


def _refused(code: str, message: str, **details: Any) -> SandboxError:
    return SandboxError(ErrorKind.PAYMENT_REQUIRED, message, code=code, details=details)


class RailCredentials:
    def __init__(self, records: Records, allowances: Allowances) -> None:
        self.records = records
        self.allowances = allowances

    def issue(self, project: str, user: str, intent_id: str, body: RailRequest) -> dict[str, Any]:
        allowance = self.allowances.get(project, user, intent_id)
        if allowance.status != "active":
            raise machine.not_active(allowance)
        rail = self._usable_rail(allowance, body)
        if body.credential.format not in rail.formats:
            raise invalid_field("credential.format", f"must be one of the rail's credentialFormats: {', '.join(rail.formats)}")
        self._check_merchant(allowance, body)
        amount = self._amount(allowance, body)
        scripted_refusal(self.records, project, body.model_dump(exclude_unset=True), allowance.to_wire())
        key = _encryption_key(body)  # before any id is drawn: a key that cannot be used leaves the streams as they were
        now, ids = self.records.now(), self.records.ids
        expires = min(now + CREDENTIAL_LIFETIME, datetime.fromtimestamp(allowance.expires_ts, UTC))
        reservation = Reservation(ids.uuid(project, "credential"), rail.rail, amount, expires.timestamp())
        value = self._value(project, allowance, body, now, key)
        allowance.reservations.append(reservation)
        # The credential's id leads to its order intent: its lapse (a timer) and the control plane's settle.
        self.records.index(project, reservation.id, user, KIND, allowance.id)
        self.records.rt.scheduler.at(reservation.expires_ts, PROVIDER, project, CREDENTIAL_TIMER, reservation.id)
        answer: dict[str, Any] = {"id": reservation.id, "rail": rail.rail}
        if rail.provider is not None:
            answer["provider"] = rail.provider
        answer["amount"] = {"value": money(amount), "currency": allowance.currency}
        answer["credential"] = {"format": body.credential.format, "value": value}
        answer["expiresAt"] = iso(expires)
        self.records.emit(project, machine.CREDENTIALS_ISSUED_EVENT, allowance.id, {
            "orderIntentId": allowance.id, "credentialId": reservation.id, "rail": rail.rail,
            **({"provider": rail.provider} if rail.provider else {}), "amount": answer["amount"],
            **({"merchant": body.merchant.model_dump(exclude_none=True)} if body.merchant else {}),
        })
        return answer

    def settle(self, credential_id: str, outcome: str) -> Allowance:
        """The control plane's stand-in for the merchant: a reservation is captured now, or released."""
        owner = self.records.owner(credential_id)
        stored = self.records.find(owner.project, owner.user, KIND, owner.obj_id) if owner is not None else None
        reservation = next((r for r in stored.reservations if r.id == credential_id), None) if isinstance(stored, Allowance) else None
        if owner is None or not isinstance(stored, Allowance) or reservation is None:
            raise not_found("Credential", credential_id)
        allowance = self.allowances.refresh(owner.project, owner.user, stored)
        self.allowances.settle(owner.project, allowance, reservation, RESERVATION_OUTCOMES[outcome])
        return allowance

    # -- the rules --------------------------------------------------------------------------

    def _usable_rail(self, allowance: Allowance, body: RailRequest) -> Rail:
        rail = allowance.rail(body.rail)
        provider = body.provider if isinstance(body, (AgenticTokenRequest, SptRequest)) else None
        if rail is None or (provider is not None and rail.provider != provider):
            wanted = body.rail + (f" (provider {provider})" if provider else "")
            raise SandboxError(
                ErrorKind.INVALID_STATE, f"order intent {allowance.id} has no {wanted} rail", code="ORDER_INTENT_RAIL_UNAVAILABLE",
                details={"rails": [r.rail for r in allowance.rails]},
            )
        if rail.status != "active":
            code, why = RAIL_REFUSALS.get(rail.status, ("ORDER_INTENT_RAIL_ERROR", "the rail cannot mint"))
            details: dict[str, Any] = {"railStatus": rail.status}
            if rail.status == "error":
                details["railError"] = {"code": rail.error_code or "unknown"}
            raise SandboxError(ErrorKind.INVALID_STATE, f"the {rail.rail} rail is {rail.status}: {why}", code=code, details=details)
        return rail

    def _check_merchant(self, allowance: Allowance, body: RailRequest) -> None:
        sent = body.merchant.model_dump(exclude_none=True) if body.merchant else None
        if allowance.merchant is None and sent is None:
            raise invalid_field("merchant", "is required: the order intent names no merchant")
        if allowance.merchant is not None and sent is not None and _identity(sent) != _identity(allowance.merchant):
            raise _refused(
                "ORDER_INTENT_MERCHANT_MISMATCH", f"the order intent is for merchant {allowance.merchant['name']!r}, not {sent['name']!r}",
                merchant=allowance.merchant,
            )

    def _amount(self, allowance: Allowance, body: RailRequest) -> Decimal:
        """What the credential takes: as asked, or everything available."""
        available = allowance.available
        if body.amount is None:
            amount = available
        else:
            if body.amount.currency != allowance.currency:
                raise _refused(
                    "ORDER_INTENT_CURRENCY_MISMATCH",
                    f"the order intent is in {allowance.currency}, not {body.amount.currency}", currency=allowance.currency,
                )
            amount = body.amount.decimal()
        if amount <= 0 or amount > available:
            message = (f"amount {money(amount)} {allowance.currency} is more than the {money(available)} available" if amount > 0 else
                       f"nothing is available: the {money(allowance.total)} {allowance.currency} is all reserved or spent")
            raise _refused("ORDER_INTENT_INSUFFICIENT_AMOUNT", message, available=money(available), amount=money(amount))
        return amount

    # -- the credential itself --------------------------------------------------------------

    def _value(self, project: str, allowance: Allowance, body: RailRequest, now: datetime, key: RSAPublicKey | None) -> Any:
        ids = self.records.ids
        if isinstance(body, SptRequest):
            return "spt_" + ids.alnum(project, "spt", 24)
        if isinstance(body, EncryptedCardRequest):
            digits = ids.digits(project, "encrypted_card")
            card = {
                "number": _lookalike(allowance, digits),
                "expirationMonth": allowance.card_expiration["month"],
                "expirationYear": allowance.card_expiration["year"],
                "cvc": digits[-4:] if allowance.brand == "amex" else digits[-3:],
            }
            assert key is not None
            cek, iv = bytes.fromhex(ids.token(project, "jwe_cek", jwe.CEK_BYTES)), bytes.fromhex(ids.token(project, "jwe_iv", 12))
            try:  # unreachable in practice: `_encryption_key` has already encrypted to this key
                return jwe.encrypt(orjson.dumps(card), key, cek, iv, body.credential.publicKey.kid)
            except ValueError as exc:
                raise invalid_field(PUBLIC_KEY_FIELD, f"not a usable RSA public key: {exc}") from None
        assert isinstance(body, AgenticTokenRequest)
        number, cvc = cards.issue(allowance.brand, ids.digits(project, "virtual_card"))
        return {"number": number, "expirationMonth": f"{now.month:02d}", "expirationYear": str(now.year + CARD_YEARS), "cvc": cvc}


def _encryption_key(body: RailRequest) -> RSAPublicKey | None:
    """The encrypted-card rail's key, proven to encrypt (jwe.public_key); a 400 naming the field if not."""
    if not isinstance(body, EncryptedCardRequest):
        return None
    jwk = body.credential.publicKey
    try:
        return jwe.public_key(jwk.n, jwk.e)
    except ValueError as exc:  # BadKey, and anything else cryptography refuses the key with
        raise invalid_field(PUBLIC_KEY_FIELD, str(exc)) from None


def _identity(merchant: dict[str, Any]) -> tuple[Any, ...]:
    return merchant["name"], merchant["url"], merchant["countryCode"]


def _lookalike(allowance: Allowance, digits: str) -> str:
    """A Luhn-valid number with the saved card's BIN and last four: one middle digit is chosen to fit."""
    length = 15 if allowance.brand == "amex" else 16
    middle = digits[: length - 10]
    for first in "0123456789":
        number = allowance.card_bin + first + middle[1:] + allowance.card_last4
        if cards.luhn_ok(number):
            return number
    raise AssertionError("unreachable: one digit always completes a Luhn number")

