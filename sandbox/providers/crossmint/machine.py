"""Order-intent phases and enrollment statuses, and the only ways between them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t
from sandbox.providers.crossmint.models import Enrollment, OrderIntent

# -- order intents ---------------------------------------------------------------------------


class Action(StrEnum):
    PAYMENT_METHOD_READY = "payment_method_ready"  # the card got enrolled; verification follows
    READY_WITHOUT_CEREMONY = "ready_without_ceremony"  # the card needs no verification at all
    VERIFIED = "verified"
    REVOKE = "revoke"
    EXPIRE = "expire"


PHASES = ("requires-payment-method", "requires-verification", "active", "expired", "revoked")
# Keyed by Hashable, as core's Machine takes it (a Mapping's key type does not widen).
TRANSITIONS: Mapping[Hashable, Transition] = {
    Action.PAYMENT_METHOD_READY: _t("requires-payment-method", "requires-verification", "order-intents.verification-required"),
    Action.READY_WITHOUT_CEREMONY: _t("requires-payment-method", "active", "order-intents.activated"),
    Action.VERIFIED: _t("requires-verification", "active", "order-intents.activated"),
    Action.REVOKE: _t("requires-verification active", "revoked", "order-intents.revoked"),
    Action.EXPIRE: _t("requires-payment-method requires-verification active", "expired", "order-intents.expired"),
}
CREATED_EVENT = "order-intents.created"
VERIFICATION_FAILED_EVENT = "order-intents.verification-failed"  # the phase stays requires-verification
CREDENTIALS_ISSUED_EVENT = "order-intents.credentials-issued"  # the phase stays active


def wrong_phase(intent_id: str, phase: str, wanted: str) -> SandboxError:
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"order intent {intent_id} is in phase '{phase}'; this needs phase {wanted}",
        details={"phase": phase},
    )


def _refuse(intent: OrderIntent, move: Transition) -> SandboxError:
    return wrong_phase(intent.id, intent.phase, " or ".join(f"'{p}'" for p in PHASES if p in move.sources))


MACHINE = Machine(TRANSITIONS, state="phase", refuse=_refuse)
check = MACHINE.check
apply = MACHINE.apply

# -- agentic enrollments ---------------------------------------------------------------------

# An enrollment is born pending, active or failed (the card decides), announced by these events.
ENROLLMENT_EVENTS = {
    "pending": "payment-methods.agentic-enrollment.pending",
    "active": "payment-methods.agentic-enrollment.active",
    "failed": "payment-methods.agentic-enrollment.failed",
}


class EnrollmentAction(StrEnum):
    COMPLETE = "complete"  # the cardholder finished OTP and passkey, or a pending card's delay ran out
    FAIL = "fail"


ENROLLMENT_TRANSITIONS: Mapping[Hashable, Transition] = {
    EnrollmentAction.COMPLETE: _t("pending", "active", ENROLLMENT_EVENTS["active"]),
    EnrollmentAction.FAIL: _t("pending", "failed", ENROLLMENT_EVENTS["failed"]),
}
# The control plane names the outcome by the status it leads to.
ENROLLMENT_OUTCOMES = {"active": EnrollmentAction.COMPLETE, "failed": EnrollmentAction.FAIL}


def not_pending(enrollment_id: str, status: str) -> SandboxError:
    return SandboxError(ErrorKind.INVALID_STATE, f"enrollment {enrollment_id} is {status}, not pending", details={"status": status})


def _refuse_enrollment(enrollment: Enrollment, move: Transition) -> SandboxError:
    return not_pending(enrollment.id, enrollment.status)


ENROLLMENT = Machine(ENROLLMENT_TRANSITIONS, state="status", refuse=_refuse_enrollment)
