"""Crossmint operations, as routes.py, control.py and the instruction seam call them.

A thin facade over one module per concern, so callers keep a single object:
agents.py, enrollment.py (payment methods and agentic enrollment), order_intents.py,
ceremony.py (verifying an order intent) and mandates.py (credentials within maxAmount) for
Gen-1; registration.py (order-intent registration, the card's CVC), allowances.py (Gen-2 order
intents) and rail_credentials.py (credentials by rail) for Gen-2. The body a client sends
decides the generation; each order intent keeps its own. Storage, the id index and events are
shared through records.py.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.scheduler import Timer
from sandbox.core.seams import ExternalInstruction
from sandbox.core.store import Page
from sandbox.core.verification import Answer
from sandbox.providers.crossmint.agents import Agents
from sandbox.providers.crossmint.allowances import Allowances
from sandbox.providers.crossmint.ceremony import Ceremony
from sandbox.providers.crossmint.enrollment import PaymentMethods
from sandbox.providers.crossmint.mandates import Credentials
from sandbox.providers.crossmint.models import (
    Agent,
    AgentBody,
    Allowance,
    AllowanceBody,
    CredentialsBody,
    Enrollment,
    EnrollmentBody,
    OrderIntent,
    OrderIntentBody,
    PaymentMethod,
    PaymentMethodBody,
    RailRequest,
    Registration,
    RegistrationBody,
)
from sandbox.providers.crossmint.order_intents import OrderIntents
from sandbox.providers.crossmint.rail_credentials import RailCredentials
from sandbox.providers.crossmint.records import Records
from sandbox.providers.crossmint.registration import Registrations

AnyIntent = OrderIntent | Allowance


class CrossmintService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        records = self._records = Records(runtime)
        self._agents = Agents(records)
        self._methods = PaymentMethods(records)
        self._registrations = Registrations(records, self._methods)
        self._allowances = Allowances(records, self._methods)
        self._intents = OrderIntents(records, self._agents, self._methods, self._allowances)
        self._ceremony = Ceremony(records, self._intents, self._allowances)
        self._credentials = Credentials(records, self._agents, self._methods, self._intents)
        self._rail_credentials = RailCredentials(records, self._allowances)

    def on_timer(self, timer: Timer) -> None:
        """A due moment, unread: a pending enrollment completes, an order intent expires, or a Gen-2
        credential lapses (its id leads to its order intent, which captures what it reserved)."""
        owner = self._records.owner(timer.obj_id)
        if owner is None:
            return
        if timer.kind == "enrollment":
            self._intents.on_card_enrolled(owner.project, owner.user, owner.obj_id)
        elif self._records.find(owner.project, owner.user, "order_intent", owner.obj_id) is not None:
            self._intents.read(owner.project, owner.user, owner.obj_id)

    # -- agents ------------------------------------------------------------------------

    def create_agent(self, project: str, user: str, body: AgentBody) -> Agent:
        return self._agents.create(project, user, body)

    def agents(self, project: str, user: str) -> list[Agent]:
        return self._agents.all(project, user)

    def agent(self, project: str, user: str, agent_id: str) -> Agent:
        return self._agents.get(project, user, agent_id)

    def update_agent(self, project: str, user: str, agent_id: str, body: AgentBody) -> Agent:
        return self._agents.update(project, user, agent_id, body)

    def delete_agent(self, project: str, user: str, agent_id: str) -> None:
        self._agents.delete(project, user, agent_id)

    # -- payment methods and enrollment --------------------------------------------------

    def create_payment_method(self, project: str, user: str, body: PaymentMethodBody) -> PaymentMethod:
        return self._methods.create(project, user, body)

    def payment_methods(self, project: str, user: str, limit: int, cursor: str | None) -> Page:
        return self._methods.page(project, user, limit, cursor)

    def payment_method(self, project: str, user: str, method_id: str) -> PaymentMethod:
        return self._methods.get(project, user, method_id)

    def delete_payment_method(self, project: str, user: str, method_id: str) -> None:
        self._methods.delete(project, user, method_id)

    def enroll(self, project: str, user: str, method_id: str, body: EnrollmentBody) -> Enrollment:
        return self._methods.enroll(project, user, method_id, body)

    def enrollment(self, project: str, user: str, method_id: str) -> Enrollment:
        return self._methods.enrollment(project, user, method_id)

    def complete_enrollment(self, enrollment_id: str, outcome: str) -> Enrollment:
        return self._methods.complete(enrollment_id, outcome)

    # -- order-intent registration (Gen-2) ---------------------------------------------------

    def register(self, project: str, user: str, method_id: str, body: RegistrationBody) -> Registration:
        return self._registrations.register(project, user, method_id, body)

    def registration(self, project: str, user: str, method_id: str) -> Registration:
        return self._registrations.get(project, user, method_id)

    def set_cvc(self, method_id: str, on_file: bool) -> PaymentMethod:
        return self._registrations.set_cvc(method_id, on_file)

    # -- order intents and their verification ----------------------------------------------

    def create_intent(self, project: str, user: str, body: OrderIntentBody | AllowanceBody) -> AnyIntent:
        if isinstance(body, AllowanceBody):
            return self._allowances.create(project, user, body)
        return self._intents.create(project, user, body)

    def intents(self, project: str, user: str, agent_id: str | None) -> list[AnyIntent]:
        return self._intents.all(project, user, agent_id)

    def intent(self, project: str, user: str, intent_id: str) -> AnyIntent:
        return self._intents.read(project, user, intent_id)

    def revoke(self, project: str, user: str, intent_id: str) -> None:
        """Gen-1: revoked; Gen-2: cancelled."""
        intent = self._intents.read(project, user, intent_id)
        if isinstance(intent, Allowance):
            self._allowances.cancel(project, user, intent)
        else:
            self._intents.revoke(project, user, intent_id)

    def verify_shortcut(self, intent_id: str, success: bool) -> AnyIntent:
        return self._ceremony.shortcut(intent_id, success)

    def verify_allowance(self, allowance_id: str, success: bool) -> Allowance:
        return self._ceremony.verify_allowance(allowance_id, success)

    def find_intent(self, intent_id: str) -> tuple[str, str, AnyIntent]:
        """An order intent by its id alone: (project, user, intent), for the verification page."""
        return self._ceremony.find(intent_id)

    def cardholder_step(self, intent_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        return self._ceremony.cardholder_step(intent_id, action, payload, passkey_page)

    def agent_of(self, project: str, user: str, intent: OrderIntent) -> Agent | None:
        return self._records.find(project, user, "agent", intent.agent_id)

    def payment_method_of(self, project: str, user: str, intent: AnyIntent) -> PaymentMethod | None:
        return self._methods.find(project, user, intent.payment_method_id)

    def owner_of(self, key: str) -> tuple[str, str, str] | None:
        """(project, user, order intent id) behind an order intent's id or its instruction's id."""
        owner = self._records.owner(key)
        return (owner.project, owner.user, owner.obj_id) if owner is not None and owner.kind == "order_intent" else None

    def verify_instruction(self, instruction_id: str, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        return self._ceremony.verify(instruction_id, action, payload, passkey_page)

    def external_instruction(self, instruction_id: str) -> ExternalInstruction | None:
        """The resolver registered on the instruction seam."""
        return self._ceremony.external(instruction_id)

    # -- credentials -------------------------------------------------------------------

    def credentials(self, project: str, user: str, intent_id: str, body: CredentialsBody | RailRequest) -> dict[str, Any]:
        """The body's generation must be the intent's: a `rail` for Gen-2, `merchant` (+ `products`) for Gen-1."""
        intent = self._intents.read(project, user, intent_id)
        if isinstance(body, CredentialsBody):
            if isinstance(intent, Allowance):
                raise invalid_field("rail", f"is required: order intent {intent_id} was created with the Gen-2 body, so its credentials "
                                            "pick a rail (agentic-token, encrypted-card or spt)")
            return self._credentials.issue(project, user, intent_id, body)
        if isinstance(intent, OrderIntent):
            raise invalid_field("rail", f"is not accepted: order intent {intent_id} was created with the Gen-1 body, so its credentials "
                                        "take {merchant, products?}")
        return self._rail_credentials.issue(project, user, intent_id, body)

    def settle_credential(self, credential_id: str, outcome: str) -> Allowance:
        return self._rail_credentials.settle(credential_id, outcome)
