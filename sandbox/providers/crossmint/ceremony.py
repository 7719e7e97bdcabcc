"""Verifying an order intent: the cardholder's ceremony behind its `verificationConfig`.

Gen-1: the instruction named there is served by whichever provider serves instructions; this
module resolves it for the seam (core/seams.py) and walks the ceremony. Gen-2: the allowance
named there (Basis Theory's `verifyAllowance`, whose endpoint is not public) is verified on the
verification page or by the control plane, and its agentic-token rail becomes active. The
control plane's shortcuts skip the ceremony altogether.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.seams import ExternalInstruction
from sandbox.core.verification import Answer, BadPayload, OutOfOrder, Session
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.allowances import Allowances
from sandbox.providers.crossmint.machine import Action
from sandbox.providers.crossmint.models import Allowance, OrderIntent
from sandbox.providers.crossmint.order_intents import KIND, OrderIntents, new_session
from sandbox.providers.crossmint.records import Records, not_found

# The intent's phase as the serving provider words an instruction's status.
INSTRUCTION_STATUS = {"requires-verification": "pending_verification", "active": "approved", "revoked": "cancelled",
                      "requires-payment-method": "pending"}


class Ceremony:
    def __init__(self, records: Records, intents: OrderIntents, allowances: Allowances) -> None:
        self.records = records
        self.intents = intents
        self.allowances = allowances

    def shortcut(self, intent_id: str, success: bool) -> OrderIntent | Allowance:
        """The control plane's stand-in for the cardholder's passkey, for an intent of either generation."""
        project, _, intent = self.find(intent_id)
        if isinstance(intent, Allowance):
            self._allowance_outcome(project, intent, success)
            return intent
        machine.check(intent, Action.VERIFIED)
        if success:
            self.intents.move(project, intent, Action.VERIFIED)
        else:
            self._failed(project, intent)
        return intent

    def verify_allowance(self, allowance_id: str, success: bool) -> Allowance:
        """The control plane's stand-in for Basis Theory's `verifyAllowance(allowanceId)`."""
        owner = self.records.owner(allowance_id)
        stored = self.records.find(owner.project, owner.user, KIND, owner.obj_id) if owner is not None else None
        if owner is None or not isinstance(stored, Allowance) or stored.allowance_id != allowance_id:
            raise not_found("Allowance", allowance_id)
        allowance = self.allowances.refresh(owner.project, owner.user, stored)
        self._allowance_outcome(owner.project, allowance, success)
        return allowance

    def find(self, intent_id: str) -> tuple[str, str, OrderIntent | Allowance]:
        """An order intent by its own id alone (the verification page): its project, user and itself."""
        owner = self.records.owner(intent_id)
        if owner is None or owner.kind != KIND or owner.obj_id != intent_id:
            raise not_found("Order intent", intent_id)
        return owner.project, owner.user, self.intents.read(owner.project, owner.user, intent_id)

    def cardholder_step(self, intent_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """One step of the intent's ceremony, taken on the verification page."""
        project, _, intent = self.find(intent_id)
        if isinstance(intent, Allowance):
            return self._allowance_step(project, intent, action, payload, passkey_page)
        return self.verify(intent.bt_instruction_id, action, payload, passkey_page)

    def verify(self, instruction_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """The ceremony of the instruction behind `verificationConfig`, walked through the seam."""
        owner = self.records.locate(instruction_id, "Instruction")
        intent = self.intents.get(owner.project, owner.user, owner.obj_id)
        if intent.phase != "requires-verification" or intent.session is None:
            raise machine.wrong_phase(intent.id, intent.phase, "'requires-verification'")
        intent.session = _restarted(intent.session, action, intent.id)
        answer = _advance(intent.session, action, payload, passkey_page)
        if answer.verified:
            self.intents.move(owner.project, intent, Action.VERIFIED)
        elif answer.failed:
            self._failed(owner.project, intent)
        return answer

    def external(self, instruction_id: str) -> ExternalInstruction | None:
        """The instruction behind an order intent's `verificationConfig`, for the seam (core/seams.py).

        The seam asks about any id, so resolving reads the intent as stored: no read-time moves."""
        owner = self.records.owner(instruction_id)
        if owner is None or owner.kind != KIND:
            return None
        project, user, intent_id = owner.project, owner.user, owner.obj_id
        intent = self.intents.stored(project, user, intent_id)
        if intent is None:  # gone, or a Gen-2 intent: allowances are not instructions
            return None

        def verify(action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
            return self.verify(instruction_id, action, payload, passkey_page)

        def describe() -> dict[str, Any]:
            return _as_instruction(instruction_id, self.intents.get(project, user, intent_id))

        return ExternalInstruction(instruction_id, intent.bt_agent_id, intent.public_api_key, _brand(intent), verify, describe)

    def _failed(self, project: str, intent: OrderIntent) -> None:
        """A failed ceremony is announced; the intent stays in requires-verification."""
        self.records.emit(project, machine.VERIFICATION_FAILED_EVENT, intent.id, intent.to_wire())

    # -- Gen-2: the allowance behind the agentic-token rail --------------------------------------

    def _allowance_outcome(self, project: str, allowance: Allowance, success: bool) -> None:
        if not allowance.awaiting_verification:
            raise machine.rail_not_waiting(allowance, allowance.rail("agentic-token"))
        if success:
            self.allowances.verified(project, allowance)
        else:
            self.allowances.verification_failed(project, allowance)

    def _allowance_step(self, project: str, allowance: Allowance, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        if not allowance.awaiting_verification or allowance.session is None:
            raise machine.rail_not_waiting(allowance, allowance.rail("agentic-token"))
        allowance.session = _restarted(allowance.session, action, allowance.id)
        answer = _advance(allowance.session, action, payload, passkey_page)
        if answer.verified:
            self.allowances.verified(project, allowance)
        elif answer.failed:
            self.allowances.verification_failed(project, allowance)
        return answer


def _restarted(session: Session, action: str, intent_id: str) -> Session:
    """The ceremony, ready for `action`: a failed one may be tried again, from START."""
    if session.step != "failed":
        return session
    if action != "START":
        raise SandboxError(
            ErrorKind.INVALID_STATE, f"Verification failed; start again with START, not {action}", details={"expectedActions": ["START"]},
        )
    return new_session(session.flow, session.label, intent_id)


def _advance(session: Session, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
    try:
        return session.advance(action, payload, passkey_page)
    except BadPayload as exc:
        raise invalid_field(exc.field, str(exc)) from None
    except OutOfOrder as exc:
        raise SandboxError(ErrorKind.INVALID_STATE, str(exc), details={"expectedActions": exc.expected}) from None


def _as_instruction(instruction_id: str, intent: OrderIntent) -> dict[str, Any]:
    """The order intent in the words of a platform Instruction: its first maxAmount mandate is the
    amount (a period makes it recurring), its description mandate the description."""
    by_type = {m["type"]: m for m in reversed(intent.mandates)}  # the first of each type wins
    cap, text = by_type.get("maxAmount"), by_type.get("description")
    period = cap["details"].get("period") if cap else None
    return {
        "id": instruction_id, "status": INSTRUCTION_STATUS.get(intent.phase, intent.phase), "order_intent_id": intent.id,
        "brand": _brand(intent), "created_at": intent.created_at, "expires_at": intent.expires_at,
        "amount": {"value": cap["value"], "currency": cap["details"]["currency"].upper()} if cap else None,
        "description": text["value"] if text else "Crossmint order intent",
        "recurring": {"frequency": period} if period else None,
    }


def _brand(intent: OrderIntent) -> str | None:
    return intent.session.brand if intent.session else None
