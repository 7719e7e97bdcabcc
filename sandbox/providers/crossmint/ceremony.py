"""Verifying an order intent: the cardholder's ceremony behind its `verificationConfig`.

The instruction named there is served by whichever provider serves instructions; this module
resolves it for the seam (core/seams.py) and walks the ceremony. The control plane's shortcut
skips the ceremony altogether.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.seams import ExternalInstruction
from sandbox.core.verification import Answer, BadPayload, OutOfOrder, Session
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.machine import Action
from sandbox.providers.crossmint.models import OrderIntent
from sandbox.providers.crossmint.order_intents import KIND, OrderIntents, new_session
from sandbox.providers.crossmint.records import Records, not_found

# The intent's phase as the serving provider words an instruction's status.
INSTRUCTION_STATUS = {"requires-verification": "pending_verification", "active": "approved"}


class Ceremony:
    def __init__(self, records: Records, intents: OrderIntents) -> None:
        self.records = records
        self.intents = intents

    def shortcut(self, intent_id: str, success: bool) -> OrderIntent:
        """The control plane's stand-in for the cardholder's passkey."""
        owner = self.records.locate(intent_id, "Order intent")
        intent = self.intents.get(owner.project, owner.user, intent_id)
        machine.check(intent, Action.VERIFIED)
        if success:
            self.intents.move(owner.project, intent, Action.VERIFIED)
        else:
            self._failed(owner.project, intent)
        return intent

    def find(self, intent_id: str) -> tuple[str, str, OrderIntent]:
        """An order intent by its own id alone (the verification page): its project, user and itself."""
        owner = self.records.owner(intent_id)
        if owner is None or owner.kind != KIND or owner.obj_id != intent_id:
            raise not_found("Order intent", intent_id)
        return owner.project, owner.user, self.intents.get(owner.project, owner.user, intent_id)

    def cardholder_step(self, intent_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """One step of the intent's ceremony, taken on the verification page."""
        _, _, intent = self.find(intent_id)
        return self.verify(intent.bt_instruction_id, action, payload, passkey_page)

    def verify(self, instruction_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """The ceremony of the instruction behind `verificationConfig`, walked through the seam."""
        owner = self.records.locate(instruction_id, "Instruction")
        intent = self.intents.get(owner.project, owner.user, owner.obj_id)
        session = _open_session(intent, action)
        try:
            answer = session.advance(action, payload, passkey_page)
        except BadPayload as exc:
            raise invalid_field(exc.field, str(exc)) from None
        except OutOfOrder as exc:
            raise SandboxError(ErrorKind.INVALID_STATE, str(exc), details={"expectedActions": exc.expected}) from None
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
        if intent is None:
            return None

        def verify(action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
            return self.verify(instruction_id, action, payload, passkey_page)

        def describe() -> dict[str, Any]:
            live = self.intents.get(project, user, intent_id)
            return {"id": instruction_id, "status": INSTRUCTION_STATUS.get(live.phase, live.phase), "order_intent_id": live.id,
                    "brand": _brand(live), "description": "Crossmint order intent"}

        return ExternalInstruction(instruction_id, intent.bt_agent_id, intent.public_api_key, _brand(intent), verify, describe)

    def _failed(self, project: str, intent: OrderIntent) -> None:
        """A failed ceremony is announced; the intent stays in requires-verification."""
        self.records.emit(project, machine.VERIFICATION_FAILED_EVENT, intent.id, intent.to_wire())


def _open_session(intent: OrderIntent, action: str) -> Session:
    """The intent's ceremony, ready for `action`: a failed one may be tried again, from START."""
    if intent.phase != "requires-verification" or intent.session is None:
        raise machine.wrong_phase(intent.id, intent.phase, "'requires-verification'")
    if intent.session.step == "failed":
        if action != "START":
            raise SandboxError(
                ErrorKind.INVALID_STATE, f"Verification failed; start again with START, not {action}",
                details={"expectedActions": ["START"]},
            )
        intent.session = new_session(intent.session.flow, intent.session.label, intent.id)
    return intent.session


def _brand(intent: OrderIntent) -> str | None:
    return intent.session.brand if intent.session else None
