"""Payment methods (cards) and their agentic enrollment.

The card's magic profile decides how enrollment goes; a pending one settles when the control
plane completes it or, lazily on the next read, once its delay has run out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.store import Page, UnknownCursor
from sandbox.providers.crossmint import machine, magic
from sandbox.providers.crossmint.machine import ENROLLMENT, ENROLLMENT_OUTCOMES, EnrollmentAction
from sandbox.providers.crossmint.models import Enrollment, EnrollmentBody, PaymentMethod, PaymentMethodBody
from sandbox.providers.crossmint.records import PROVIDER, Records

KIND = "payment_method"


class PaymentMethods:
    def __init__(self, records: Records) -> None:
        self.records = records

    # -- payment methods ------------------------------------------------------------------

    def create(self, project: str, user: str, body: PaymentMethodBody) -> PaymentMethod:
        card, now, ids = body.card, self.records.now(), self.records.ids
        problem = cards.expiry_problem(int(card.expiration.month), int(card.expiration.year), now)
        if problem:
            raise invalid_field("card.expiration", problem)
        brand = cards.brand(card.number) or "unknown"
        method = PaymentMethod(
            id="pm_" + ids.uuid(project, "payment_method"),
            brand="diners-club" if brand == "diners" else brand,
            bin=card.number[:6],
            last4=card.number[-4:],
            expiration=card.expiration.model_dump(),
            billing=body.billing.model_dump(exclude_none=True),
            source_id=ids.ulid("tok", project).removeprefix("tok_").upper(),
            profile=magic.profile(card.number, brand),
            created_at=iso(now),
            rails=magic.rails(card.number, brand),
            cvc_on_file=card.cvc is not None,
        )
        self.records.put(project, user, KIND, method.id, method)
        return method

    def page(self, project: str, user: str, limit: int, cursor: str | None) -> Page:
        try:
            return self.records.page(project, user, KIND, limit, cursor)
        except UnknownCursor:
            raise invalid_field("cursor", f"no payment method {cursor!r} to continue after") from None

    def get(self, project: str, user: str, method_id: str) -> PaymentMethod:
        return self.records.get(project, user, KIND, method_id, "Payment method")

    def find(self, project: str, user: str, method_id: str) -> PaymentMethod | None:
        """None once deleted: order intents made earlier still name it."""
        return self.records.find(project, user, KIND, method_id)

    def delete(self, project: str, user: str, method_id: str) -> None:
        """No new order intents can use it; existing active ones keep working (Crossmint's guide)."""
        self.get(project, user, method_id)
        self.records.delete(project, user, KIND, method_id)

    # -- agentic enrollment ---------------------------------------------------------------

    def enroll(self, project: str, user: str, method_id: str, body: EnrollmentBody) -> Enrollment:
        method = self.get(project, user, method_id)
        current = self.refresh(project, method)
        if current is not None and current.status in ("pending", "active"):
            return current  # Crossmint: reuse a pending enrollment rather than start another
        if method.profile.enrollment == "ineligible":
            raise SandboxError(
                ErrorKind.PAYMENT_REQUIRED, f"Card {method.brand} …{method.last4} is not eligible for agentic enrollment",
                code="CARD_NOT_ELIGIBLE",
            )
        attempts = current.attempts + 1 if current else 1
        status = _first_status(method.profile, attempts)
        enrollment = Enrollment(
            "enr_" + self.records.ids.uuid(project, "enrollment"), status, body.email, self.records.public_key(project),
            attempts=attempts,
        )
        if status == "pending":
            enrollment.ready_ts = self.records.rt.clock.timestamp() + method.profile.pending_seconds
            self.records.rt.scheduler.at(enrollment.ready_ts, PROVIDER, project, "enrollment", enrollment.id)
        method.enrollment = enrollment
        # The enrollment id leads to its card, for the control plane's completion.
        self.records.index(project, enrollment.id, user, KIND, method.id)
        self.records.emit(project, machine.ENROLLMENT_EVENTS[status], method.id, _payload(method.id, enrollment))
        return enrollment

    def enrollment(self, project: str, user: str, method_id: str) -> Enrollment:
        enrollment = self.refresh(project, self.get(project, user, method_id))
        if enrollment is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Payment method {method_id} has no agentic enrollment")
        return enrollment

    def complete(self, enrollment_id: str, outcome: str) -> Enrollment:
        """The cardholder finishes (or fails) the OTP and passkey ceremony: the control plane's shortcut."""
        owner = self.records.locate(enrollment_id, "Enrollment")
        method = self.get(owner.project, owner.user, owner.obj_id)
        enrollment = self.refresh(owner.project, method)
        if enrollment is None or enrollment.id != enrollment_id:
            raise machine.not_pending(enrollment_id, "replaced")  # a retry made a newer one
        self._settle(owner.project, method, enrollment, ENROLLMENT_OUTCOMES[outcome])
        return enrollment

    def refresh(self, project: str, method: PaymentMethod) -> Enrollment | None:
        """The card's enrollment as of now: a pending one whose delay ran out completes, dated then."""
        enrollment = method.enrollment
        if (
            enrollment and ENROLLMENT.can(enrollment, EnrollmentAction.COMPLETE)
            and enrollment.ready_ts and self.records.rt.clock.timestamp() >= enrollment.ready_ts
        ):
            at = datetime.fromtimestamp(enrollment.ready_ts, UTC)
            self._settle(project, method, enrollment, EnrollmentAction.COMPLETE, at)
        return enrollment

    def _settle(
        self, project: str, method: PaymentMethod, enrollment: Enrollment, action: EnrollmentAction, at: datetime | None = None,
    ) -> None:
        event_type = ENROLLMENT.apply(enrollment, action)
        enrollment.ready_ts = None
        enrollment.settled_ts = (at or self.records.now()).timestamp()
        if event_type:  # every enrollment move has one
            self.records.emit(project, event_type, method.id, _payload(method.id, enrollment), at)


def _first_status(profile: magic.Profile, attempts: int) -> str:
    """The status a new enrollment starts in; `fails_once` cards fail the first attempt only."""
    if profile.enrollment == "fails_once":
        return "failed" if attempts == 1 else "pending"
    return profile.enrollment


def _payload(method_id: str, enrollment: Enrollment) -> dict[str, Any]:
    return {"paymentMethodId": method_id, **enrollment.to_wire()}
