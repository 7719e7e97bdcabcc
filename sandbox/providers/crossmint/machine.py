"""Order-intent phases and enrollment statuses, and the only ways between them: Gen-1 intents
move by `phase`; Gen-2 intents (allowances) by `status`, their rails and their credentials'
reservations each by their own `status`/`state`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import StrEnum

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t
from sandbox.providers.crossmint.models import Allowance, Enrollment, OrderIntent, Rail, Reservation

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


# -- Gen-2 order intents (allowances) --------------------------------------------------------


class AllowanceAction(StrEnum):
    CANCEL = "cancel"  # DELETE /order-intents/{id}
    EXPIRE = "expire"  # the sandbox clock reached expiresAt
    USED_UP = "used_up"  # its credentials' captures spent the whole amount


STATUSES = ("active", "cancelled", "expired")
ALLOWANCE_TRANSITIONS: Mapping[Hashable, Transition] = {
    AllowanceAction.CANCEL: _t("active", "cancelled", "order-intents.cancelled"),
    AllowanceAction.EXPIRE: _t("active", "expired", "order-intents.expired"),
    AllowanceAction.USED_UP: _t("active", "expired", "order-intents.expired"),
}
# An allowance is born active, its rails in their first statuses: created, and verification-required
# when a rail starts pending_verification.
VERIFICATION_REQUIRED_EVENT = "order-intents.verification-required"


def not_active(allowance: Allowance) -> SandboxError:
    """Crossmint's own words for an allowance that is cancelled or expired (its SDK's 409 fixture)."""
    return SandboxError(ErrorKind.INVALID_STATE, "order intent is not active", details={"status": allowance.status})


def _refuse_allowance(allowance: Allowance, move: Transition) -> SandboxError:
    return not_active(allowance)


ALLOWANCE = Machine(ALLOWANCE_TRANSITIONS, state="status", refuse=_refuse_allowance)


class RailAction(StrEnum):
    VERIFY = "verify"  # the cardholder verified the allowance (Basis Theory's verifyAllowance)
    CVC_EXPIRED = "cvc_expired"  # the card's vaulted CVC aged out
    CVC_RECOLLECTED = "cvc_recollected"  # the cardholder typed the CVC again


RAIL_TRANSITIONS: Mapping[Hashable, Transition] = {
    RailAction.VERIFY: _t("pending_verification", "active", "order-intents.verified"),
    # The encrypted-card rail follows its card's CVC; the card, not each allowance, is what changed.
    RailAction.CVC_EXPIRED: _t("active", "pending_cvc_recollection", None),
    RailAction.CVC_RECOLLECTED: _t("pending_cvc_recollection", "active", None),
}


def rail_not_waiting(allowance: Allowance, rail: Rail | None) -> SandboxError:
    """Why an allowance cannot be verified: it is no longer active, or no rail waits for it."""
    if allowance.status != "active":
        return not_active(allowance)
    status = rail.status if rail is not None else "absent"
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"order intent {allowance.id} has no rail waiting for verification (agentic-token is {status})",
        details={"status": allowance.status, "railStatus": status},
    )


def _refuse_rail(rail: Rail, move: Transition) -> SandboxError:
    return SandboxError(ErrorKind.INVALID_STATE, f"the {rail.rail} rail is {rail.status}", details={"railStatus": rail.status})


RAILS = Machine(RAIL_TRANSITIONS, state="status", refuse=_refuse_rail)


class ReservationAction(StrEnum):
    CAPTURE = "capture"  # the merchant charged it: it counts as spent
    RELEASE = "release"  # it will never be charged: its amount is available again


RESERVATION_TRANSITIONS: Mapping[Hashable, Transition] = {
    ReservationAction.CAPTURE: _t("reserved", "captured", None),
    ReservationAction.RELEASE: _t("reserved", "released", None),
}
RESERVATION_OUTCOMES = {"captured": ReservationAction.CAPTURE, "released": ReservationAction.RELEASE}


def _refuse_reservation(reservation: Reservation, move: Transition) -> SandboxError:
    return SandboxError(
        ErrorKind.INVALID_STATE, f"credential {reservation.id} is already {reservation.state}", details={"state": reservation.state},
    )


RESERVATIONS = Machine(RESERVATION_TRANSITIONS, state="state", refuse=_refuse_reservation)

# Announced beside the moves: a registration is made once; a failed verification moves nothing.
REGISTRATION_EVENT = "payment-methods.order-intent-registration.created"
