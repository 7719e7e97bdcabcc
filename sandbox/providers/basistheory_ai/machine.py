"""Purchase-intent statuses and the only ways between them.

`verify`, `pending` and `active` come from the seed; `expired` and `unavailable` from the
provider's own playground and docs (a lapsed intent; one whose verification failed or whose
payment method was deleted).
"""

from __future__ import annotations

from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t
from sandbox.providers.basistheory_ai.models import PurchaseIntent


class Action(StrEnum):
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"
    READY = "ready"
    EXPIRE = "expire"
    INVALIDATE = "invalidate"


TRANSITIONS: dict[Action, Transition] = {
    Action.VERIFIED: _t("verify", "active", "purchase_intent.verified", "verify"),
    Action.VERIFICATION_FAILED: _t("verify", "unavailable", "purchase_intent.verification_failed", "fail verification of"),
    Action.READY: _t("pending", "active", "purchase_intent.activated", "activate"),
    Action.EXPIRE: _t("verify pending active", "expired", "purchase_intent.expired", "expire"),
    Action.INVALIDATE: _t("verify pending active", "unavailable", "purchase_intent.invalidated", "invalidate"),
}
LIVE = TRANSITIONS[Action.EXPIRE].sources  # the statuses time and deletions still act on
CREATED_EVENT = "purchase_intent.created"


def _refuse(intent: PurchaseIntent, move: Transition) -> SandboxError:
    return SandboxError(
        ErrorKind.INVALID_STATE, f"Cannot {move.verb} purchase intent {intent.id}: it is {intent.status}",
        details={"status": intent.status},
    )


MACHINE = Machine(TRANSITIONS, state="status", refuse=_refuse)
apply = MACHINE.apply


def due(intent: PurchaseIntent, now: float) -> list[tuple[Action, float]]:
    """Time-based transitions the clock has reached, in order, each with the moment it fell due.

    Evaluated when the intent is read, so no timer is needed; events carry the due moment.
    """
    actions = []
    status = intent.status
    if status == "pending" and intent.ready_ts is not None and now >= intent.ready_ts:
        actions.append((Action.READY, intent.ready_ts))
        status = "active"
    if status in LIVE and now >= intent.expires_ts:
        actions.append((Action.EXPIRE, intent.expires_ts))
    return actions
