"""The purchase-intent state machine: every status change goes through `apply`.

Each action names the statuses it may start from, the status it leads to and the webhook
event it records (Dino fires no event for `payment_credential_issued`).
"""

from __future__ import annotations

from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t
from sandbox.providers.dino.models import PurchaseIntent


class Action(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    REQUIRE_APPROVAL = "require_approval"
    OPERATOR_APPROVE = "operator_approve"
    OPERATOR_DENY = "operator_deny"
    ISSUE_CREDENTIAL = "issue_credential"
    START_EXECUTION = "start_execution"
    COMPLETE = "complete"
    FAIL = "fail"


TRANSITIONS: dict[Action, Transition] = {
    Action.APPROVE: _t("intent_created", "approved", "purchase_intent.authorized", "authorize"),
    Action.DECLINE: _t("intent_created", "declined", "purchase_intent.declined", "authorize"),
    Action.REQUIRE_APPROVAL: _t("intent_created", "needs_approval", "purchase_intent.needs_approval", "authorize"),
    Action.OPERATOR_APPROVE: _t("needs_approval", "approved", "purchase_intent.authorized", "approve"),
    Action.OPERATOR_DENY: _t("needs_approval", "declined", "purchase_intent.declined", "deny"),
    Action.ISSUE_CREDENTIAL: _t("approved", "payment_credential_issued", None, "issue a payment credential for"),
    Action.START_EXECUTION: _t("payment_credential_issued", "execution_started", "purchase_intent.execution_started", "start execution of"),
    Action.COMPLETE: _t("execution_started", "completed", "purchase_intent.completed", "complete"),
    Action.FAIL: _t("execution_started", "failed", "purchase_intent.failed", "fail"),
}

CREATED_EVENT = "purchase_intent.created"


def _refuse(intent: PurchaseIntent, move: Transition) -> SandboxError:
    """A 409 naming the current and the allowed statuses."""
    allowed = sorted(move.sources)
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"Cannot {move.verb} purchase intent {intent.id} in status '{intent.status}'; "
        f"it must be {' or '.join(repr(s) for s in allowed)}",
        details={"reason": "invalid_state", "status": intent.status, "allowed_statuses": allowed},
    )


MACHINE = Machine(TRANSITIONS, state="status", refuse=_refuse)
check = MACHINE.check


def apply(intent: PurchaseIntent, action: Action, now: str) -> str | None:
    """Move the intent and stamp its `updated_at`; returns the event type to record, if any."""
    event = MACHINE.apply(intent, action)
    intent.touch(now)
    return event
