"""Order intents: created, read, revoked, and moved on through the phase table in machine.py.

Some moves happen when an intent is read (expiry, a card enrolled since), stamped with the
time they really happened, so nothing needs a timer.

This module is Gen-1 (`agentId`, `mandates`, `phase`). Gen-2 order intents (allowances.py) live
in the same collection: `read` and `all` return either, each moved on by its own generation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.verification import CHALLENGES
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.agents import Agents
from sandbox.providers.crossmint.allowances import KIND, Allowances, gen1_only, new_session
from sandbox.providers.crossmint.enrollment import PaymentMethods
from sandbox.providers.crossmint.machine import Action
from sandbox.providers.crossmint.models import Allowance, OrderIntent, OrderIntentBody, PaymentMethod
from sandbox.providers.crossmint.records import PROVIDER, Records

SCRIPTED_FLOW = "visa_passkey"  # a rule asking for verification, on a card that needs none


class OrderIntents:
    def __init__(self, records: Records, agents: Agents, methods: PaymentMethods, allowances: Allowances) -> None:
        self.records = records
        self.agents = agents
        self.methods = methods
        self.allowances = allowances

    def create(self, project: str, user: str, body: OrderIntentBody) -> OrderIntent:
        problems = body.mandate_problems()
        if problems:
            raise SandboxError(ErrorKind.VALIDATION, "; ".join(f"{p.field} {p.message}" for p in problems), fields=problems)
        agent = self.agents.get(project, user, body.agentId)
        now, ids = self.records.now(), self.records.ids
        expires_ts = _parse_z(body.expiresAt).timestamp() if body.expiresAt else None
        if expires_ts is not None and expires_ts <= now.timestamp():
            raise invalid_field("expiresAt", "must be in the future")
        intent = OrderIntent(
            id="oi_" + ids.uuid(project, "order_intent"),
            agent_id=agent.id,
            payment_method_id=body.payment.paymentMethodId,
            mandates=list(body.mandates),
            phase="requires-payment-method",
            created_at=iso(now),
            created_ts=now.timestamp(),
            expires_at=body.expiresAt,
            expires_ts=expires_ts,
            public_api_key=self.records.public_key(project),
            bt_agent_id=agent.bt_agent_id,
            bt_instruction_id="ins_bt" + ids.alnum(project, "bt_instruction", 30),
        )
        self.records.put(project, user, KIND, intent.id, intent)
        # The instruction id leads to its intent, for the seam and the control plane.
        self.records.index(project, intent.bt_instruction_id, user, KIND, intent.id)
        self.records.emit(project, machine.CREATED_EVENT, intent.id, intent.to_wire())
        if not self._scripted_phase(project, user, intent, body):
            self._advance_payment_method(project, user, intent)
        if intent.phase == "requires-payment-method":
            self.records.wait_for_card(project, user, intent.payment_method_id, intent.id)
        if expires_ts is not None:
            self.records.rt.scheduler.at(expires_ts, PROVIDER, project, KIND, intent.id)
        return intent

    def on_card_enrolled(self, project: str, user: str, method_id: str) -> None:
        """A pending enrollment's moment came: it completes, and the intents waiting on its card move on."""
        method = self.methods.find(project, user, method_id)
        if method is None:
            return
        self.methods.refresh(project, method)
        for intent_id in self.records.waiting_for_card(project, user, method_id):  # oldest first
            intent = self.stored(project, user, intent_id)
            if intent is not None and intent.phase == "requires-payment-method":
                self._refresh(project, user, intent)
            if intent is None or intent.phase != "requires-payment-method":
                self.records.done_waiting(project, user, method_id, intent_id)

    def all(self, project: str, user: str, agent_id: str | None) -> list[OrderIntent | Allowance]:
        """Both generations, newest first; `agent_id` keeps that agent's (Gen-1) intents."""
        found: list[OrderIntent | Allowance] = self.records.all(project, user, KIND)
        for intent in found:
            self._refresh_any(project, user, intent)
        return [i for i in found if agent_id is None or (isinstance(i, OrderIntent) and i.agent_id == agent_id)]

    def read(self, project: str, user: str, intent_id: str) -> OrderIntent | Allowance:
        """An order intent of either generation, as of now."""
        intent: OrderIntent | Allowance = self.records.get(project, user, KIND, intent_id, "Order intent")
        self._refresh_any(project, user, intent)
        return intent

    def get(self, project: str, user: str, intent_id: str) -> OrderIntent:
        """A Gen-1 order intent as of now; a Gen-2 one is refused with 409."""
        intent = self.read(project, user, intent_id)
        if not isinstance(intent, OrderIntent):
            raise gen1_only(intent_id)
        return intent

    def stored(self, project: str, user: str, intent_id: str) -> OrderIntent | None:
        """A Gen-1 intent as last stored, without the read-time moves (for resolving ids, which must not emit)."""
        intent = self.records.find(project, user, KIND, intent_id)
        return intent if isinstance(intent, OrderIntent) else None

    def revoke(self, project: str, user: str, intent_id: str) -> None:
        self.move(project, self.get(project, user, intent_id), Action.REVOKE)

    def move(self, project: str, intent: OrderIntent, action: Action, at: datetime | None = None) -> None:
        """The one way an intent changes phase: the table decides, the event follows."""
        event_type = machine.apply(intent, action)
        if event_type:  # every order-intent move has one
            self.records.emit(project, event_type, intent.id, intent.to_wire(), at)

    # -- moves on creation and on read --------------------------------------------------------

    def _refresh_any(self, project: str, user: str, intent: OrderIntent | Allowance) -> None:
        if isinstance(intent, Allowance):
            self.allowances.refresh(project, user, intent)
        else:
            self._refresh(project, user, intent)

    def _refresh(self, project: str, user: str, intent: OrderIntent) -> None:
        """Read-time transitions, stamped when they happened: expiry first (an expired intent
        no longer moves on), otherwise a card enrolled since the last read."""
        expires_ts = intent.expires_ts
        if expires_ts is not None and self.records.rt.clock.timestamp() >= expires_ts and machine.MACHINE.can(intent, Action.EXPIRE):
            self.move(project, intent, Action.EXPIRE, datetime.fromtimestamp(expires_ts, UTC))
        elif intent.phase == "requires-payment-method":
            self._advance_payment_method(project, user, intent)

    def _advance_payment_method(self, project: str, user: str, intent: OrderIntent) -> None:
        method = self.methods.find(project, user, intent.payment_method_id)
        if method is None:
            return
        enrollment = self.methods.refresh(project, method)
        if enrollment is None or enrollment.status != "active":
            return
        # The intent moved on when its card became usable: now, or when the enrollment completed.
        at = datetime.fromtimestamp(max(enrollment.settled_ts or 0.0, intent.created_ts), UTC)
        if method.profile.verification is None:
            self.move(project, intent, Action.READY_WITHOUT_CEREMONY, at)
        else:
            intent.session = new_session(method.profile.verification, method.profile.label, intent.id)
            self.move(project, intent, Action.PAYMENT_METHOD_READY, at)

    def _scripted_phase(self, project: str, user: str, intent: OrderIntent, body: OrderIntentBody) -> bool:
        """A scenario rule's phase for a new intent; False when no rule decides."""
        method = self.methods.find(project, user, intent.payment_method_id)
        context = {"request": body.model_dump(exclude_unset=True), "payment_method": method.to_wire() if method else {}}
        outcome = self.records.rt.rules.decide(PROVIDER, "create_order_intent", project, context)
        if outcome is None:
            return False
        if outcome.phase == "active":
            self.move(project, intent, Action.READY_WITHOUT_CEREMONY)
        elif outcome.phase == "requires-verification":
            flow = CHALLENGES[outcome.challenge] if outcome.challenge else _card_flow(method)
            intent.session = new_session(flow, "scenario", intent.id)
            self.move(project, intent, Action.PAYMENT_METHOD_READY)
        return True  # requires-payment-method: it stays, and moves on once a card is enrolled


def _card_flow(method: PaymentMethod | None) -> str:
    return method.profile.verification if method and method.profile.verification else SCRIPTED_FLOW


def _parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
