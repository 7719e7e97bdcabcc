"""Purchase-intent statuses and the only ways between them.

`verify`, `pending` and `active` come from the seed; `expired` and `unavailable` from the
provider's own playground and docs (a lapsed intent; one whose verification failed or whose
payment method was deleted).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.providers.basistheory.models import PurchaseIntent


class Action(StrEnum):
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"
    READY = "ready"
    EXPIRE = "expire"
    INVALIDATE = "invalidate"


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[str]
    target: str
    event: str


LIVE = frozenset({"verify", "pending", "active"})
TRANSITIONS: dict[Action, Transition] = {
    Action.VERIFIED: Transition(frozenset({"verify"}), "active", "purchase_intent.verified"),
    Action.VERIFICATION_FAILED: Transition(frozenset({"verify"}), "unavailable", "purchase_intent.verification_failed"),
    Action.READY: Transition(frozenset({"pending"}), "active", "purchase_intent.activated"),
    Action.EXPIRE: Transition(LIVE, "expired", "purchase_intent.expired"),
    Action.INVALIDATE: Transition(LIVE, "unavailable", "purchase_intent.invalidated"),
}
CREATED_EVENT = "purchase_intent.created"


def apply(intent: PurchaseIntent, action: Action) -> str:
    """Move the intent; returns the event type to record."""
    transition = TRANSITIONS[action]
    if intent.status not in transition.sources:
        raise SandboxError(
            ErrorKind.INVALID_STATE,
            f"Purchase intent {intent.id} is {intent.status}; cannot {action.value.replace('_', ' ')}",
            details={"status": intent.status},
        )
    intent.status = transition.target
    return transition.event


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
