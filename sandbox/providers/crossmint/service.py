"""Crossmint operations: agents, payment methods and enrollment, order intents and credentials.

A project is the tenant; inside it, objects belong to a user and live in per-user collections.
An index (object id -> owner) lets the control plane and the Basis Theory-style verification
find an object from its id alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.seams import ExternalInstruction
from sandbox.core.store import Page, Space, UnknownCursor
from sandbox.core.verification import CHALLENGES, Answer, BadPayload, OutOfOrder, Session
from sandbox.providers.crossmint import machine, magic
from sandbox.providers.crossmint.events import event
from sandbox.providers.crossmint.machine import Action
from sandbox.providers.crossmint.models import (
    Agent, AgentBody, CredentialsBody, Enrollment, EnrollmentBody, OrderIntent, OrderIntentBody, PaymentMethod,
    PaymentMethodBody,
)

PROVIDER = "crossmint"
CREDENTIAL_LIFETIME = timedelta(minutes=30)
INDEX = "index"  # id -> (user, kind, object id)


def _kind(name: str, user: str) -> str:
    return f"{name}@{user}"


def _not_found(what: str, obj_id: str) -> SandboxError:
    return SandboxError(ErrorKind.NOT_FOUND, f"{what} {obj_id} not found")


class CrossmintService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # -- agents ------------------------------------------------------------------------

    def create_agent(self, project: str, user: str, body: AgentBody) -> Agent:
        agent = Agent(
            self.rt.ids.uuid(project, "agent"), body.metadata.model_dump(exclude_none=True), self._now(),
            bt_agent_id="agt_bt" + self.rt.ids.alnum(project, "bt_agent", 30),
        )
        self._put(project, user, "agent", agent.id, agent)
        return agent

    def agents(self, project: str, user: str) -> list[Agent]:
        return self.rt.store.page(Space(PROVIDER, project), _kind("agent", user), limit=10_000).items

    def agent(self, project: str, user: str, agent_id: str) -> Agent:
        return self._get(project, user, "agent", agent_id, "Agent")

    def update_agent(self, project: str, user: str, agent_id: str, body: AgentBody) -> Agent:
        agent = self.agent(project, user, agent_id)
        agent.metadata = body.metadata.model_dump(exclude_none=True)
        return agent

    def delete_agent(self, project: str, user: str, agent_id: str) -> None:
        """Permanent: the agent's order intents stop working (their credentials are refused)."""
        self.agent(project, user, agent_id)
        self.rt.store.delete(Space(PROVIDER, project), _kind("agent", user), agent_id)

    # -- payment methods and enrollment --------------------------------------------------

    def create_payment_method(self, project: str, user: str, body: PaymentMethodBody) -> PaymentMethod:
        card, now = body.card, self.rt.clock.now()
        problem = cards.expiry_problem(int(card.expiration.month), int(card.expiration.year), now)
        if problem:
            raise invalid_field("card.expiration", problem)
        brand = cards.brand(card.number) or "unknown"
        method = PaymentMethod(
            id="pm_" + self.rt.ids.uuid(project, "payment_method"),
            brand="diners-club" if brand == "diners" else brand,
            bin=card.number[:6],
            last4=card.number[-4:],
            expiration=card.expiration.model_dump(),
            billing=body.billing.model_dump(exclude_none=True),
            source_id=self.rt.ids.ulid("tok", project).removeprefix("tok_").upper(),
            profile=magic.profile(card.number, brand),
            created_at=iso(now),
        )
        self._put(project, user, "payment_method", method.id, method)
        return method

    def payment_methods(self, project: str, user: str, limit: int, cursor: str | None) -> Page:
        try:
            return self.rt.store.page(Space(PROVIDER, project), _kind("payment_method", user), limit=limit, after=cursor)
        except UnknownCursor:
            raise invalid_field("cursor", f"no payment method {cursor!r} to continue after") from None

    def payment_method(self, project: str, user: str, method_id: str) -> PaymentMethod:
        return self._get(project, user, "payment_method", method_id, "Payment method")

    def delete_payment_method(self, project: str, user: str, method_id: str) -> None:
        """No new order intents can use it; existing active ones keep working (Crossmint's guide)."""
        self.payment_method(project, user, method_id)
        self.rt.store.delete(Space(PROVIDER, project), _kind("payment_method", user), method_id)

    def enroll(self, project: str, user: str, method_id: str, body: EnrollmentBody) -> Enrollment:
        method = self.payment_method(project, user, method_id)
        current = self._refresh_enrollment(project, method)
        if current is not None and current.status in ("pending", "active"):
            return current  # Crossmint: reuse a pending enrollment rather than start another
        profile = method.profile
        if profile.enrollment == "ineligible":
            raise SandboxError(
                ErrorKind.PAYMENT_REQUIRED, f"Card {method.brand} …{method.last4} is not eligible for agentic enrollment",
                code="CARD_NOT_ELIGIBLE",
            )
        attempts = current.attempts + 1 if current else 1
        status = {"fails_once": "failed" if attempts == 1 else "pending"}.get(profile.enrollment, profile.enrollment)
        enrollment = Enrollment(
            "enr_" + self.rt.ids.uuid(project, "enrollment"), status, body.email, self._public_key(project), attempts=attempts,
        )
        if status == "pending":
            enrollment.ready_ts = self.rt.clock.timestamp() + profile.pending_seconds
        method.enrollment = enrollment
        self._index(project, enrollment.id, user, "payment_method", method.id)
        self._emit(project, machine.ENROLLMENT_EVENTS[status], method.id, self._enrollment_payload(method))
        return enrollment

    def enrollment(self, project: str, user: str, method_id: str) -> Enrollment:
        method = self.payment_method(project, user, method_id)
        enrollment = self._refresh_enrollment(project, method)
        if enrollment is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Payment method {method_id} has no agentic enrollment")
        return enrollment

    def complete_enrollment(self, enrollment_id: str, outcome: str) -> Enrollment:
        """The cardholder finishes (or fails) the OTP and passkey ceremony: the control plane's shortcut."""
        project, user, _, method_id = self._locate(enrollment_id, "Enrollment")
        method = self.payment_method(project, user, method_id)
        enrollment = self._refresh_enrollment(project, method)
        if enrollment is None or enrollment.id != enrollment_id or enrollment.status != "pending":
            status = enrollment.status if enrollment and enrollment.id == enrollment_id else "replaced"
            raise SandboxError(ErrorKind.INVALID_STATE, f"enrollment {enrollment_id} is {status}, not pending", details={"status": status})
        self._settle_enrollment(project, method, outcome)
        return enrollment

    # -- order intents -----------------------------------------------------------------

    def create_intent(self, project: str, user: str, body: OrderIntentBody) -> OrderIntent:
        problems = body.mandate_problems()
        if problems:
            raise SandboxError(ErrorKind.VALIDATION, "; ".join(f"{p.field} {p.message}" for p in problems), fields=problems)
        agent = self.agent(project, user, body.agentId)
        now = self.rt.clock.now()
        expires_ts = _parse_z(body.expiresAt).timestamp() if body.expiresAt else None
        if expires_ts is not None and expires_ts <= now.timestamp():
            raise invalid_field("expiresAt", "must be in the future")
        intent = OrderIntent(
            id="oi_" + self.rt.ids.uuid(project, "order_intent"),
            agent_id=agent.id,
            payment_method_id=body.payment.paymentMethodId,
            mandates=list(body.mandates),
            phase="requires-payment-method",
            created_at=iso(now),
            created_ts=now.timestamp(),
            expires_at=body.expiresAt,
            expires_ts=expires_ts,
            public_api_key=self._public_key(project),
            bt_agent_id=agent.bt_agent_id,
            bt_instruction_id="ins_bt" + self.rt.ids.alnum(project, "bt_instruction", 30),
        )
        self._put(project, user, "order_intent", intent.id, intent)
        self._index(project, intent.bt_instruction_id, user, "order_intent", intent.id)
        self._emit(project, machine.CREATED_EVENT, intent.id, intent.to_wire())
        if not self._scripted_phase(project, user, intent, body):
            self._advance_payment_method(project, user, intent)
        return intent

    def intents(self, project: str, user: str, agent_id: str | None) -> list[OrderIntent]:
        found = self.rt.store.page(Space(PROVIDER, project), _kind("order_intent", user), limit=10_000).items
        for intent in found:
            self._refresh(project, user, intent)
        return [i for i in found if agent_id is None or i.agent_id == agent_id]

    def intent(self, project: str, user: str, intent_id: str) -> OrderIntent:
        intent = self._get(project, user, "order_intent", intent_id, "Order intent")
        self._refresh(project, user, intent)
        return intent

    def revoke(self, project: str, user: str, intent_id: str) -> None:
        intent = self.intent(project, user, intent_id)
        self._move(project, intent, Action.REVOKE)

    def credentials(self, project: str, user: str, intent_id: str, body: CredentialsBody) -> dict[str, Any]:
        intent = self.intent(project, user, intent_id)
        if intent.phase != "active":
            raise machine.wrong_phase(intent.id, intent.phase, "'active'")
        if self.rt.store.get(Space(PROVIDER, project), _kind("agent", user), intent.agent_id) is None:
            raise SandboxError(ErrorKind.INVALID_STATE, f"agent {intent.agent_id} was deleted; its order intents no longer work")
        context = {"request": body.model_dump(exclude_unset=True), "order_intent": intent.to_wire()}
        scripted = self.rt.rules.decide(PROVIDER, "issue_credentials", project, context)
        if scripted is not None:
            refusal = scripted.refuse
            raise SandboxError(ErrorKind.INVALID_STATE, refusal.message, status=refusal.status, code=refusal.code)
        amount, now = body.total(), self.rt.clock.now()
        self._enforce_mandates(intent, amount, now)
        method = self.rt.store.get(Space(PROVIDER, project), _kind("payment_method", user), intent.payment_method_id)
        number, cvc = cards.issue(method.brand if method else "visa", self.rt.ids.digits(project, "virtual_card"))
        expires = now + CREDENTIAL_LIFETIME
        if intent.expires_ts is not None:
            expires = min(expires, datetime.fromtimestamp(intent.expires_ts, timezone.utc))
        intent.spends.append((now.timestamp(), amount))
        self._emit(project, "order-intents.credentials-issued", intent.id, {"orderIntentId": intent.id, "merchant": body.merchant.model_dump()})
        card = {"number": number, "expirationMonth": f"{now.month:02d}", "expirationYear": str(now.year + 3), "cvc": cvc}
        return {"card": card, "expiresAt": iso(expires)}

    def verify_shortcut(self, intent_id: str, success: bool) -> OrderIntent:
        """The control plane's stand-in for the cardholder's passkey."""
        project, user, _, _ = self._locate(intent_id, "Order intent")
        intent = self.intent(project, user, intent_id)
        machine.check(intent, Action.VERIFIED)
        if success:
            self._move(project, intent, Action.VERIFIED)
        else:
            self._emit(project, machine.VERIFICATION_FAILED_EVENT, intent.id, intent.to_wire())
        return intent

    def verify_instruction(self, instruction_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """The ceremony of the instruction behind `verificationConfig`, walked through the seam."""
        project, user, _, intent_id = self._locate(instruction_id, "Instruction")
        intent = self.intent(project, user, intent_id)
        if intent.phase != "requires-verification" or intent.session is None:
            raise machine.wrong_phase(intent.id, intent.phase, "'requires-verification'")
        if intent.session.step == "failed":  # a failed ceremony may be tried again, from START
            if action != "START":
                raise SandboxError(
                    ErrorKind.INVALID_STATE, f"Verification failed; start again with START, not {action}",
                    details={"expectedActions": ["START"]},
                )
            intent.session = _session(intent.session.flow, intent.session.label, intent.id)
        try:
            answer = intent.session.advance(action, payload, passkey_page)
        except BadPayload as exc:
            raise invalid_field(exc.field, str(exc)) from None
        except OutOfOrder as exc:
            raise SandboxError(ErrorKind.INVALID_STATE, str(exc), details={"expectedActions": exc.expected}) from None
        if answer.verified:
            self._move(project, intent, Action.VERIFIED)
        elif answer.failed:
            self._emit(project, machine.VERIFICATION_FAILED_EVENT, intent.id, intent.to_wire())
        return answer

    def external_instruction(self, instruction_id: str) -> ExternalInstruction | None:
        """The instruction behind an order intent's `verificationConfig`, for the seam (core/seams.py)."""
        space = self.rt.store.locate(INDEX, instruction_id)
        entry = self.rt.store.get(space, INDEX, instruction_id) if space else None
        if entry is None or entry[1] != "order_intent":
            return None
        project, user, intent_id = space.tenant, entry[0], entry[2]
        intent = self.rt.store.get(Space(PROVIDER, project), _kind("order_intent", user), intent_id)
        if intent is None:
            return None

        def verify(action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
            return self.verify_instruction(instruction_id, action, payload, passkey_page)

        def describe() -> dict[str, Any]:
            live = self.intent(project, user, intent_id)
            status = {"requires-verification": "pending_verification", "active": "approved"}.get(live.phase, live.phase)
            brand = live.session.brand if live.session else None
            return {"id": instruction_id, "status": status, "order_intent_id": live.id, "brand": brand,
                    "description": "Crossmint order intent"}

        brand = intent.session.brand if intent.session else None
        return ExternalInstruction(instruction_id, intent.bt_agent_id, intent.public_api_key, brand, verify, describe)

    # -- helpers -----------------------------------------------------------------------

    def _refresh(self, project: str, user: str, intent: OrderIntent) -> None:
        """Read-time transitions, stamped when they happened: expiry first (an expired intent
        no longer moves on), otherwise a card enrolled since the last read."""
        expired = intent.expires_ts is not None and self.rt.clock.timestamp() >= intent.expires_ts
        if expired and machine.MACHINE.can(intent, Action.EXPIRE):
            self._move(project, intent, Action.EXPIRE, datetime.fromtimestamp(intent.expires_ts, timezone.utc))
        elif intent.phase == "requires-payment-method":
            self._advance_payment_method(project, user, intent)

    def _advance_payment_method(self, project: str, user: str, intent: OrderIntent) -> None:
        method = self.rt.store.get(Space(PROVIDER, project), _kind("payment_method", user), intent.payment_method_id)
        enrollment = self._refresh_enrollment(project, method) if method else None
        if enrollment is None or enrollment.status != "active":
            return
        # The intent moved on when its card became usable: now, or when the enrollment completed.
        at = datetime.fromtimestamp(max(enrollment.settled_ts or 0.0, intent.created_ts), timezone.utc)
        if method.profile.verification is None:
            self._move(project, intent, Action.READY_WITHOUT_CEREMONY, at)
        else:
            intent.session = _session(method.profile.verification, method.profile.label, intent.id)
            self._move(project, intent, Action.PAYMENT_METHOD_READY, at)

    def _scripted_phase(self, project: str, user: str, intent: OrderIntent, body: OrderIntentBody) -> bool:
        """A scenario rule's phase for a new intent; False when no rule decides."""
        method = self.rt.store.get(Space(PROVIDER, project), _kind("payment_method", user), intent.payment_method_id)
        context = {"request": body.model_dump(exclude_unset=True), "payment_method": method.to_wire() if method else {}}
        outcome = self.rt.rules.decide(PROVIDER, "create_order_intent", project, context)
        if outcome is None:
            return False
        if outcome.phase == "active":
            self._move(project, intent, Action.READY_WITHOUT_CEREMONY)
        elif outcome.phase == "requires-verification":
            default = method.profile.verification if method and method.profile.verification else "visa_passkey"
            flow = CHALLENGES[outcome.challenge] if outcome.challenge else default
            intent.session = _session(flow, "scenario", intent.id)
            self._move(project, intent, Action.PAYMENT_METHOD_READY)
        return True  # requires-payment-method: it stays, and moves on once a card is enrolled

    def _refresh_enrollment(self, project: str, method: PaymentMethod) -> Enrollment | None:
        enrollment = method.enrollment
        if enrollment and enrollment.status == "pending" and enrollment.ready_ts and self.rt.clock.timestamp() >= enrollment.ready_ts:
            self._settle_enrollment(project, method, "active", datetime.fromtimestamp(enrollment.ready_ts, timezone.utc))
        return enrollment

    def _settle_enrollment(self, project: str, method: PaymentMethod, outcome: str, at: datetime | None = None) -> None:
        method.enrollment.status = outcome
        method.enrollment.ready_ts = None
        method.enrollment.settled_ts = (at or self.rt.clock.now()).timestamp()
        self._emit(project, machine.ENROLLMENT_EVENTS[outcome], method.id, self._enrollment_payload(method), at)

    @staticmethod
    def _enrollment_payload(method: PaymentMethod) -> dict[str, Any]:
        return {"paymentMethodId": method.id, **method.enrollment.to_wire()}

    def _enforce_mandates(self, intent: OrderIntent, amount: Decimal, now: datetime) -> None:
        for mandate in intent.mandates:
            if mandate["type"] != "maxAmount":
                continue
            limit, period = Decimal(mandate["value"]), mandate["details"].get("period")
            currency = mandate["details"]["currency"]
            if amount > limit:
                raise SandboxError(
                    ErrorKind.PAYMENT_REQUIRED, f"amount {_money(amount)} exceeds the maxAmount mandate of {limit} {currency}",
                    code="MANDATE_MAX_AMOUNT_EXCEEDED", details={"limit": str(limit), "amount": _money(amount)},
                )
            if period:
                start = _period_start(now, period).timestamp()
                spent = sum((a for when, a in intent.spends if when >= start), Decimal(0))
                if spent + amount > limit:
                    raise SandboxError(
                        ErrorKind.PAYMENT_REQUIRED,
                        f"amount {_money(amount)} would exceed the {period} budget of {limit} {currency} ({_money(spent)} already used)",
                        code="MANDATE_PERIOD_BUDGET_EXCEEDED",
                        details={"limit": str(limit), "spent": _money(spent), "amount": _money(amount), "period": period},
                    )

    def _public_key(self, project: str) -> str:
        space = Space(PROVIDER, project)
        key = self.rt.store.get(space, "config", "bt_public_api_key")
        if key is None:
            key = "key_test_" + self.rt.ids.alnum(project, "bt_public_key", 24)
            self.rt.store.put(space, "config", "bt_public_api_key", key)
        return key

    def _put(self, project: str, user: str, name: str, obj_id: str, obj: Any) -> None:
        self.rt.store.put(Space(PROVIDER, project), _kind(name, user), obj_id, obj)
        self._index(project, obj_id, user, name, obj_id)

    def _index(self, project: str, key: str, user: str, name: str, obj_id: str) -> None:
        self.rt.store.put(Space(PROVIDER, project), INDEX, key, (user, name, obj_id))

    def _locate(self, key: str, what: str) -> tuple[str, str, str, str]:
        space = self.rt.store.locate(INDEX, key)
        entry = self.rt.store.get(space, INDEX, key) if space else None
        if entry is None:
            raise _not_found(what, key)
        return (space.tenant, *entry)

    def _get(self, project: str, user: str, name: str, obj_id: str, what: str) -> Any:
        obj = self.rt.store.get(Space(PROVIDER, project), _kind(name, user), obj_id)
        if obj is None:
            raise _not_found(what, obj_id)
        return obj

    def _move(self, project: str, intent: OrderIntent, action: Action, at: datetime | None = None) -> None:
        event_type = machine.apply(intent, action)
        self._emit(project, event_type, intent.id, intent.to_wire(), at)

    def _emit(self, project: str, event_type: str, object_id: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        event_id = "evt_" + self.rt.ids.uuid(project, "event")
        self.rt.events.publish(event(event_id, project, event_type, iso(at or self.rt.clock.now()), object_id, payload))

    def _now(self) -> str:
        return iso(self.rt.clock.now())


def _session(flow: str, label: str, intent_id: str) -> Session:
    return Session(flow, label, intent_id, reference_field="orderIntentId")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _period_start(now: datetime, period: str) -> datetime:
    """Calendar windows in UTC: ISO weeks start on Monday."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day.replace(month=1, day=1)
