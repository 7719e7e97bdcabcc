"""Order-intent phases and enrollment statuses, and the only ways between them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError


class Action(StrEnum):
    PAYMENT_METHOD_READY = "payment_method_ready"  # the card got enrolled; verification follows
    READY_WITHOUT_CEREMONY = "ready_without_ceremony"  # the card needs no verification at all
    VERIFIED = "verified"
    REVOKE = "revoke"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[str]
    target: str
    event: str


def _t(sources: str, target: str, event: str) -> Transition:
    return Transition(frozenset(sources.split()), target, event)


PHASES = ("requires-payment-method", "requires-verification", "active", "expired", "revoked")
TRANSITIONS: dict[Action, Transition] = {
    Action.PAYMENT_METHOD_READY: _t("requires-payment-method", "requires-verification", "order-intents.verification-required"),
    Action.READY_WITHOUT_CEREMONY: _t("requires-payment-method", "active", "order-intents.activated"),
    Action.VERIFIED: _t("requires-verification", "active", "order-intents.activated"),
    Action.REVOKE: _t("requires-verification active", "revoked", "order-intents.revoked"),
    Action.EXPIRE: _t("requires-payment-method requires-verification active", "expired", "order-intents.expired"),
}
CREATED_EVENT = "order-intents.created"
VERIFICATION_FAILED_EVENT = "order-intents.verification-failed"  # the phase stays requires-verification

ENROLLMENT_EVENTS = {
    "pending": "payment-methods.agentic-enrollment.pending",
    "active": "payment-methods.agentic-enrollment.active",
    "failed": "payment-methods.agentic-enrollment.failed",
}


def wrong_phase(intent_id: str, phase: str, wanted: str) -> SandboxError:
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"order intent {intent_id} is in phase '{phase}'; this needs phase {wanted}",
        details={"phase": phase},
    )


def check(intent, action: Action) -> Transition:
    transition = TRANSITIONS[action]
    if intent.phase not in transition.sources:
        wanted = " or ".join(f"'{p}'" for p in PHASES if p in transition.sources)
        raise wrong_phase(intent.id, intent.phase, wanted)
    return transition


def apply(intent, action: Action) -> str:
    """Move the intent; returns the event type to record."""
    transition = check(intent, action)
    intent.phase = transition.target
    return transition.event
