"""Enrollment and instruction statuses, a 3-D Secure session's challenge, and the only ways between them.

Each action names the statuses it may start from, the status it leads to and the webhook event
it records (None: the platform announces nothing, as for a retry or a read-time expiry).
Creation picks the first status directly; it is not a move between statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.machine import Machine, Transition
from sandbox.core.machine import transition as _t


class EnrollmentAction(StrEnum):
    VERIFY = "verify"  # verify answered `approved` at once, or verify/complete finished the ceremony
    RETRY = "retry"  # a failed enrollment tries again from the start
    DELETE = "delete"  # a soft delete, as documented; deleting again is allowed and announced again
    SUSPEND = "suspend"  # the card network suspends the card: no API call, the control plane plays the network
    REINSTATE = "reinstate"  # the network lifts the suspension


# `suspended` is reached from `active` only, and blocks what needs an active enrollment: new
# instructions, their verification and credentials (422); verify is refused as for any status
# other than pending_verification (409). Reinstating brings it back to `active`.
ENROLLMENT_TRANSITIONS: dict[EnrollmentAction, Transition] = {
    EnrollmentAction.VERIFY: _t("pending_verification", "active", "agentic.enrollment.verified", "verify"),
    EnrollmentAction.RETRY: _t("failed", "pending_verification", None, "retry"),
    EnrollmentAction.DELETE: _t("pending_verification active suspended failed deleted", "deleted", "agentic.enrollment.deleted",
                                "delete"),
    EnrollmentAction.SUSPEND: _t("active", "suspended", "agentic.enrollment.suspended", "suspend"),
    EnrollmentAction.REINSTATE: _t("suspended", "active", "agentic.enrollment.reinstated", "reinstate"),
}


class InstructionAction(StrEnum):
    APPROVE = "approve"  # verify answered `verified`, or verify/passkey finished the ceremony
    RAISE_AMOUNT = "raise_amount"  # a higher amount needs the cardholder again
    EXPIRE = "expire"  # found at read time, once expires_at has passed


# `expired` is final. So would `cancelled` be: a status the SDK knows but no call here leads to.
INSTRUCTION_TRANSITIONS: dict[InstructionAction, Transition] = {
    InstructionAction.APPROVE: _t("pending_verification", "approved", "agentic.instruction.approved", "verify"),
    InstructionAction.RAISE_AMOUNT: _t("approved", "pending_verification", None, "raise the amount of"),
    InstructionAction.EXPIRE: _t("pending_verification approved", "expired", None, "expire"),
}


class ChallengeAction(StrEnum):
    RESTART = "restart"  # authenticating again: an earlier challenge no longer waits
    CHALLENGE = "challenge"  # the issuer asks for a challenge on its ACS page
    DECOUPLE = "decouple"  # the issuer asks the cardholder out of band (a merchant session, or when requested)
    ANSWER = "answer"  # the cardholder answers (or cancels) on the ACS page
    APPROVE_OUT_OF_BAND = "approve_out_of_band"  # the decoupled challenge ends: on its page or when the result is read


# A 3-D Secure session's challenge. The platform announces authentication and the result's
# retrieval, not the challenge's own moves, so no transition records an event.
CHALLENGE_TRANSITIONS: dict[ChallengeAction, Transition] = {
    ChallengeAction.RESTART: _t("none pending decoupled completed", "none", None, "authenticate"),
    ChallengeAction.CHALLENGE: _t("none", "pending", None, "challenge"),
    ChallengeAction.DECOUPLE: _t("none", "decoupled", None, "challenge"),
    ChallengeAction.ANSWER: _t("pending", "completed", None, "answer"),
    ChallengeAction.APPROVE_OUT_OF_BAND: _t("decoupled", "completed", None, "answer"),
}


@dataclass(frozen=True, slots=True)
class Refusals:
    """A 422 naming the current status, in the wording the service has always used (by verb).

    Verbs without wording are never refused in practice: delete starts from every status, and the
    callers of the other moves ask `can` first.
    `http_status` stands where the SDK declares another status (409 for enrollment verify).
    """

    what: str
    wording: dict[str, str]

    def __call__(self, obj: Any, move: Transition, http_status: int | None = None) -> SandboxError:
        template = self.wording.get(move.verb, f"Cannot {move.verb} the {self.what}; it is {{status}}.")
        return SandboxError(ErrorKind.INVALID_STATE, template.format(status=obj.status), details={"status": obj.status},
                            status=http_status)


refuse_enrollment = Refusals("enrollment", {
    "verify": "The enrollment is {status}; only pending_verification enrollments can be verified.",
    "retry": "Only failed enrollments can be retried; this one is {status}.",
    "suspend": "Only active enrollments can be suspended; this one is {status}.",
    "reinstate": "Only suspended enrollments can be reinstated; this one is {status}.",
})
refuse_instruction = Refusals("instruction", {
    "verify": "The instruction is {status}; only pending_verification ones are verified.",
})


def refuse_challenge(obj: Any, move: Transition) -> SandboxError:
    return SandboxError(ErrorKind.INVALID_STATE, "There is no challenge waiting for this session.")


ENROLLMENTS = Machine(ENROLLMENT_TRANSITIONS, state="status", refuse=refuse_enrollment)
INSTRUCTIONS = Machine(INSTRUCTION_TRANSITIONS, state="status", refuse=refuse_instruction)
CHALLENGES = Machine(CHALLENGE_TRANSITIONS, state="challenge", refuse=refuse_challenge)
