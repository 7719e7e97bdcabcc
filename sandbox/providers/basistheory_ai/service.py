"""Basis Theory AI operations: payment methods, purchase intents and their verification.

A project is the tenant; inside it, objects belong to an entity (the token's `sub`), kept in
per-entity collections so that another entity's object is simply not found.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, FieldError, SandboxError, invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.scheduler import Timer
from sandbox.core.store import Page, Space
from sandbox.core.verification import CHALLENGES, SANDBOX_OTP, BadPayload, OutOfOrder, Session
from sandbox.providers.basistheory_ai import machine, magic, mandates
from sandbox.providers.basistheory_ai.events import purchase_intent_event
from sandbox.providers.basistheory_ai.machine import Action
from sandbox.providers.basistheory_ai.models import (
    CreatePaymentMethod,
    CreatePurchaseIntent,
    PaymentMethod,
    PurchaseIntent,
    Verify,
    VirtualCard,
)

PROVIDER = "basistheory"
PASSKEY_PAGE = "/_sandbox/basistheory/passkey"  # stands in for the card network's passkey page
INTENT_LIFETIME = timedelta(hours=24)
OWNERS = "purchase_intent_owner"  # intent id -> its entity, so the cardholder's page finds it by id alone


def _pm_kind(entity: str) -> str:
    return f"payment_method@{entity}"


def _pi_kind(entity: str) -> str:
    return f"purchase_intent@{entity}"


class BasisTheoryAiService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)  # Basis Theory AI's own id streams

    # -- payment methods ---------------------------------------------------------------

    def create_payment_method(self, project: str, request: CreatePaymentMethod) -> PaymentMethod:
        card = request.card
        assert card is not None  # the model refuses every other source
        now = self.rt.clock.now()
        problem = cards.expiry_problem(int(card.expirationMonth), int(card.expirationYear), now)
        if problem:
            raise invalid_field("card.expirationMonth" if "month" in problem else "card.expirationYear", problem)
        brand = cards.brand(card.number) or "unknown"
        method = PaymentMethod(
            id=self.ids.uuid(project, "payment_method"),
            entity_id=request.entityId,
            brand=brand,
            bin=card.number[:6],
            last4=card.number[-4:],
            expiration_month=card.expirationMonth.zfill(2),
            expiration_year=card.expirationYear,
            profile=magic.profile(card.number, brand),
            created_at=iso(now, millis=False),
        )
        self.rt.store.put(Space(PROVIDER, project), _pm_kind(method.entity_id), method.id, method)
        return method

    def payment_method(self, project: str, entity: str, method_id: str) -> PaymentMethod:
        method = self.rt.store.get(Space(PROVIDER, project), _pm_kind(entity), method_id)
        if method is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Payment method {method_id} not found")
        return method

    def payment_methods(self, project: str, entity: str, offset: int, limit: int) -> tuple[Page, int]:
        space, kind = Space(PROVIDER, project), _pm_kind(entity)
        return self.rt.store.slice(space, kind, offset=offset, limit=limit), self.rt.store.count(space, kind)

    def delete_payment_method(self, project: str, entity: str, method_id: str) -> None:
        """Deleting a payment method invalidates its live purchase intents (provider docs)."""
        method = self.payment_method(project, entity, method_id)
        for intent_id in method.intent_ids:
            intent = self.rt.store.get(Space(PROVIDER, project), _pi_kind(entity), intent_id)
            if intent is not None:
                self._refresh(project, intent)
                if intent.status in machine.LIVE:
                    self._move(project, intent, Action.INVALIDATE)
        self.rt.store.delete(Space(PROVIDER, project), _pm_kind(entity), method_id)

    # -- purchase intents --------------------------------------------------------------

    def create_intent(self, project: str, request: CreatePurchaseIntent) -> PurchaseIntent:
        entity = request.entityId
        problems = mandates.check(request.mandates)
        method = self.rt.store.get(Space(PROVIDER, project), _pm_kind(entity), request.paymentMethodId)
        if method is None:
            problems.insert(0, FieldError("paymentMethodId", "Payment method not found for this project and entity."))
        if problems or method is None:
            summary = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
            raise SandboxError(ErrorKind.VALIDATION, f"Invalid request: {summary}", fields=problems)
        profile = self._scripted_profile(project, request, method) or method.profile
        if profile.declined:
            raise SandboxError(
                ErrorKind.PAYMENT_REQUIRED, "The card issuer declined the purchase intent.",
                details={"paymentMethodId": method.id},
            )
        now = self.rt.clock.now()
        expires = self._expiry(now, request.mandates)
        intent = PurchaseIntent(
            id=self.ids.uuid(project, "purchase_intent"),
            project_id=project,
            entity_id=entity,
            payment_method_id=method.id,
            credential_type=request.credentialType,
            mandates=self._mandates(project, request),
            status=profile.status,
            created_at=iso(now, millis=False),
            expires_at=iso(expires, millis=False),
            expires_ts=expires.timestamp(),
        )
        if profile.status == "pending":
            intent.ready_ts = now.timestamp() + profile.pending_seconds
        elif profile.status == "verify":
            intent.verification = Session(profile.flow or "visa_otp", profile.label, intent.id, "purchaseIntentId")
        else:
            intent.card = self._virtual_card(project, method.brand, now)
        method.intent_ids.append(intent.id)
        self.rt.store.put(Space(PROVIDER, project), _pi_kind(entity), intent.id, intent)
        self.rt.store.put(Space(PROVIDER, project), OWNERS, intent.id, entity)
        self._emit(project, intent, machine.CREATED_EVENT)
        for due in (intent.ready_ts, intent.expires_ts):  # activation and expiry fire unread
            if due is not None:
                self.rt.scheduler.at(due, PROVIDER, project, _pi_kind(entity), intent.id)
        return intent

    def on_timer(self, timer: Timer) -> None:
        """The scheduler reached a due moment of this intent: apply what is due."""
        intent = self.rt.store.get(Space(PROVIDER, timer.tenant), timer.kind, timer.obj_id)
        if intent is not None:
            self._refresh(timer.tenant, intent)

    def intent(self, project: str, entity: str, intent_id: str) -> PurchaseIntent:
        intent = self.rt.store.get(Space(PROVIDER, project), _pi_kind(entity), intent_id)
        if intent is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Purchase intent {intent_id} not found")
        self._refresh(project, intent)
        return intent

    def find(self, intent_id: str) -> PurchaseIntent:
        """An intent by its id alone, whichever project and entity it belongs to (the cardholder's page)."""
        space = self.rt.store.locate(OWNERS, intent_id)
        entity = self.rt.store.get(space, OWNERS, intent_id) if space is not None else None
        if space is None or entity is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Purchase intent {intent_id} not found")
        return self.intent(space.tenant, entity, intent_id)

    def payment_method_of(self, intent: PurchaseIntent) -> PaymentMethod | None:
        return self.rt.store.get(Space(PROVIDER, intent.project_id), _pm_kind(intent.entity_id), intent.payment_method_id)

    def intents(self, project: str, entity: str, offset: int, limit: int) -> tuple[Page, int]:
        space, kind = Space(PROVIDER, project), _pi_kind(entity)
        page = self.rt.store.slice(space, kind, offset=offset, limit=limit)
        for intent in page.items:
            self._refresh(project, intent)
        return page, self.rt.store.count(space, kind)

    def verify(self, project: str, entity: str, intent_id: str, request: Verify, links_base: str) -> dict[str, Any]:
        intent = self.intent(project, entity, intent_id)
        if intent.status != "verify" or intent.verification is None:
            raise SandboxError(
                ErrorKind.INVALID_STATE,
                f"Purchase intent {intent.id} is {intent.status}; only intents in status verify can be verified",
                details={"status": intent.status},
            )
        payload = self._scripted_otp(project, intent, request)
        try:
            answer = intent.verification.advance(request.action, payload, links_base + PASSKEY_PAGE)
        except BadPayload as exc:
            raise invalid_field(exc.field, str(exc)) from None
        except OutOfOrder as exc:
            raise SandboxError(
                ErrorKind.INVALID_STATE, str(exc), details={"status": intent.status, "expectedActions": exc.expected}
            ) from None
        if answer.verified:
            intent.card = self._virtual_card(project, self._brand_of(intent), self.rt.clock.now())
            self._move(project, intent, Action.VERIFIED)
        elif answer.failed:
            self._move(project, intent, Action.VERIFICATION_FAILED)
        return answer.body

    # -- helpers -----------------------------------------------------------------------

    def _refresh(self, project: str, intent: PurchaseIntent) -> None:
        """Apply the time-based transitions the sandbox clock has reached."""
        for action, moment in machine.due(intent, self.rt.clock.timestamp()):
            at = datetime.fromtimestamp(moment, UTC)
            if action is Action.READY:
                intent.card = self._virtual_card(project, self._brand_of(intent), at)
            self._move(project, intent, action, at)

    def _move(self, project: str, intent: PurchaseIntent, action: Action, at: datetime | None = None) -> None:
        event_type = machine.apply(intent, action)
        if event_type is not None:
            self._emit(project, intent, event_type, at)

    def _emit(self, project: str, intent: PurchaseIntent, event_type: str, at: datetime | None = None) -> None:
        event_id = self.ids.uuid(project, "event")
        moment = iso(at or self.rt.clock.now(), millis=False)
        self.rt.events.publish(purchase_intent_event(event_id, project, event_type, moment, intent))

    def _brand_of(self, intent: PurchaseIntent) -> str:
        method = self.rt.store.get(Space(PROVIDER, intent.project_id), _pm_kind(intent.entity_id), intent.payment_method_id)
        return method.brand if method else "visa"

    def _scripted_otp(self, project: str, intent: PurchaseIntent, request: Verify) -> dict[str, Any]:
        """A scenario may accept or reject an OTP whatever was typed (`on: validate_otp`)."""
        if request.action != "VALIDATE_OTP" or not isinstance(request.payload.get("otpCode"), str):
            return request.payload
        context = {"payload": request.payload, "purchase_intent": intent.to_wire(with_card=False)}
        outcome = self.rt.rules.decide(PROVIDER, "validate_otp", project, context)
        if outcome is None:
            return request.payload
        return {**request.payload, "otpCode": SANDBOX_OTP if outcome.result == "accept" else "000000"}

    def _scripted_profile(self, project: str, request: CreatePurchaseIntent, method: PaymentMethod) -> magic.Profile | None:
        """A scenario rule's outcome for this intent, as a magic card would give it."""
        context = {"request": request.model_dump(exclude_unset=True), "payment_method": {**method.to_wire(), "brand": method.brand}}
        outcome = self.rt.rules.decide(PROVIDER, "create_purchase_intent", project, context)
        if outcome is None:
            return None
        default_flow = magic.BRAND_DEFAULTS.get(method.brand, magic.BRAND_DEFAULTS["visa"]).flow
        flow = CHALLENGES[outcome.challenge] if outcome.challenge else default_flow
        return magic.Profile("scenario", outcome.status or "verify", flow, outcome.pending_seconds, outcome.declined)

    def _mandates(self, project: str, request: CreatePurchaseIntent) -> list[dict[str, Any]]:
        """As sent, or the defaults; an empty consumer id gets a UUID (seed: "auto-generated if empty")."""
        if not request.mandates:
            return [dict(m) for m in mandates.DEFAULT_MANDATES]
        given = [m.model_dump(exclude_unset=True) for m in request.mandates]
        for mandate in given:
            if mandate["type"] == "consumer" and not mandate["value"]:
                mandate["value"] = self.ids.uuid(project, "consumer")
        return given

    def _expiry(self, now: datetime, given: list) -> datetime:
        """24 hours, or sooner when an expirationTime mandate says so (a past one is ignored)."""
        expires = now + INTENT_LIFETIME
        for mandate in given:
            if mandate.type == "expirationTime":
                limit = mandates.parse_expiration(mandate.value)
                if now < limit < expires:
                    expires = limit
        return expires

    def _virtual_card(self, project: str, brand: str, now: datetime) -> VirtualCard:
        """A Luhn-valid one-time card of the payment method's brand, reproducible from the seed."""
        number, cvc = cards.issue(brand, self.ids.digits(project, "virtual_card"))
        return VirtualCard(number, f"{now.month:02d}", str(now.year + 3), cvc)
