"""Dino's state machines: every status change of a purchase intent (also served as a checkout
intent) or a spend request goes through `apply`.

Each action names the statuses it may start from, the status it leads to and the webhook
event it records (Dino fires no event for `payment_credential_issued`, and none for a spend
request that needs approval: `spend_request.created` carries that status).
"""

from __future__ import annotations

from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t
from sandbox.providers.dino.models import PurchaseIntent, SpendRequest


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


PURCHASE_INTENT = "purchase intent"
CHECKOUT_INTENT = "checkout intent"  # the same objects under Dino's newer paths
SPEND_REQUEST = "spend request"


def refusal(obj: PurchaseIntent | SpendRequest, move: Transition, noun: str) -> SandboxError:
    """A 409 naming the current and the allowed statuses."""
    allowed = sorted(move.sources)
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"Cannot {move.verb} {noun} {obj.id} in status '{obj.status}'; "
        f"it must be {' or '.join(repr(s) for s in allowed)}",
        details={"reason": "invalid_state", "status": obj.status, "allowed_statuses": allowed},
    )


def _refuse(obj: PurchaseIntent | SpendRequest, move: Transition) -> SandboxError:
    return refusal(obj, move, SPEND_REQUEST if isinstance(obj, SpendRequest) else PURCHASE_INTENT)


MACHINE = Machine(TRANSITIONS, state="status", refuse=_refuse)


def check(intent: PurchaseIntent, action: Action, noun: str = PURCHASE_INTENT) -> Transition:
    """The transition for `action`, or a 409 naming the intent as the caller's path does."""
    if not MACHINE.can(intent, action):
        raise refusal(intent, TRANSITIONS[action], noun)
    return TRANSITIONS[action]


def apply(intent: PurchaseIntent, action: Action, now: str) -> str | None:
    """Move the intent and stamp its `updated_at`; returns the event type to record, if any."""
    event = MACHINE.apply(intent, action)
    intent.touch(now)
    return event


# -- spend requests ------------------------------------------------------------------------------


class SpendAction(StrEnum):
    APPROVE = "approve"  # policy, when the request is created
    DECLINE = "decline"
    REQUIRE_APPROVAL = "require_approval"
    OPERATOR_APPROVE = "operator_approve"
    OPERATOR_DECLINE = "operator_decline"
    CANCEL = "cancel"  # the operator
    EXPIRE = "expire"  # nobody decided within the approval timeout


# A spend request is decided in the call that creates it: `created` is its status only inside that
# call, never stored or shown. Dino lists four spend events: created, approved, declined, cancelled.
SPEND_TRANSITIONS: dict[SpendAction, Transition] = {
    SpendAction.APPROVE: _t("created", "approved", "spend_request.approved", "approve"),
    SpendAction.DECLINE: _t("created", "declined", "spend_request.declined", "decline"),
    SpendAction.REQUIRE_APPROVAL: _t("created", "needs_approval", None, "ask approval for"),
    SpendAction.OPERATOR_APPROVE: _t("needs_approval", "approved", "spend_request.approved", "approve"),
    SpendAction.OPERATOR_DECLINE: _t("needs_approval", "declined", "spend_request.declined", "decline"),
    SpendAction.CANCEL: _t("needs_approval", "cancelled", "spend_request.cancelled", "cancel"),
    SpendAction.EXPIRE: _t("needs_approval", "cancelled", "spend_request.cancelled", "expire"),
}
SPEND_CREATED_EVENT = "spend_request.created"
SPEND = Machine(SPEND_TRANSITIONS, state="status", refuse=_refuse)


def apply_spend(request: SpendRequest, action: SpendAction, now: str) -> str | None:
    """Move the spend request and stamp its `updated_at`; returns the event type to record, if any."""
    event = SPEND.apply(request, action)
    request.touch(now)
    return event
