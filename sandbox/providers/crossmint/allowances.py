"""Gen-2 order intents (allowances): an amount the agent may spend on a registered card.

An allowance is born `active`, with one rail per way to pay: the agentic-token rail of the
card's network (`pending_verification` until the cardholder verifies the allowance, `active` at
once for the no-ceremony card, or `error`), the encrypted-card rail (following the card's
vaulted CVC) and Stripe's spt rail. Credentials reserve part of the amount; a reservation is
captured (spent) when its credential lapses or the control plane settles it, or released. The
allowance expires when the sandbox clock reaches `expiresAt` or when captures spend it all, and
`DELETE` cancels it. Every move goes through the tables in machine.py.

It shares the order intents' collection (one list, one id space) with Gen-1 intents; each
keeps the shape of the body that created it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.verification import Session
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.enrollment import PaymentMethods
from sandbox.providers.crossmint.machine import AllowanceAction, RailAction, ReservationAction
from sandbox.providers.crossmint.models import Allowance, AllowanceBody, PaymentMethod, Rail, Registration, Reservation
from sandbox.providers.crossmint.records import PROVIDER, Records

KIND = "order_intent"  # the collection both generations share
FORMATS = {"agentic-token": ("card",), "encrypted-card": ("card",), "spt": ("identifier",)}


def gen1_only(intent_id: str) -> SandboxError:
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"order intent {intent_id} was created with the Gen-2 body (paymentMethodId, amount); this needs a Gen-1 order intent "
        "(agentId, mandates)",
        details={"generation": 2},
    )


class Allowances:
    def __init__(self, records: Records, methods: PaymentMethods) -> None:
        self.records = records
        self.methods = methods

    def create(self, project: str, user: str, body: AllowanceBody) -> Allowance:
        now, ids = self.records.now(), self.records.ids
        expires = datetime.fromisoformat(body.expiresAt.replace("Z", "+00:00"))
        if expires.timestamp() <= now.timestamp():
            raise invalid_field("expiresAt", "must be in the future")
        method = self.methods.get(project, user, body.paymentMethodId)
        if method.registration is None:
            raise invalid_field(
                "paymentMethodId",
                f"payment method {method.id} is not registered for order intents: "
                f"PUT /payment-methods/{method.id}/order-intent-registration first",
            )
        allowance = Allowance(
            id="oi_" + ids.uuid(project, "order_intent"),
            payment_method_id=method.id,
            status="active",
            total=body.amount.decimal(),
            currency=body.amount.currency,
            description=body.description,
            merchant=body.merchant.model_dump(exclude_none=True) if body.merchant else None,
            rails=_rails(method, method.registration),
            brand=method.brand,
            card_bin=method.bin,
            card_last4=method.last4,
            card_expiration=dict(method.expiration),
            created_at=iso(now),
            created_ts=now.timestamp(),
            expires_at=body.expiresAt,
            expires_ts=expires.timestamp(),
            public_api_key=self.records.public_key(project),
            allowance_id="alw_" + ids.alnum(project, "allowance", 30),
        )
        if allowance.awaiting_verification and method.rails.verification is not None:
            allowance.session = new_session(method.rails.verification, method.rails.label, allowance.id)
        self.records.put(project, user, KIND, allowance.id, allowance)
        # The allowance id leads to its order intent, for the control plane.
        self.records.index(project, allowance.allowance_id, user, KIND, allowance.id)
        self.records.emit(project, machine.CREATED_EVENT, allowance.id, allowance.to_wire())
        if allowance.awaiting_verification:
            self.records.emit(project, machine.VERIFICATION_REQUIRED_EVENT, allowance.id, allowance.to_wire())
        self.records.rt.scheduler.at(allowance.expires_ts, PROVIDER, project, KIND, allowance.id)
        return allowance

    def get(self, project: str, user: str, intent_id: str) -> Allowance:
        """A Gen-2 order intent as of now; a Gen-1 one is refused (the caller asked for Gen-2's shape)."""
        stored = self.records.get(project, user, KIND, intent_id, "Order intent")
        if not isinstance(stored, Allowance):
            raise SandboxError(
                ErrorKind.INVALID_STATE,
                f"order intent {intent_id} was created with the Gen-1 body (agentId, mandates); this needs a Gen-2 order intent "
                "(paymentMethodId, amount)",
                details={"generation": 1},
            )
        return self.refresh(project, user, stored)

    def cancel(self, project: str, user: str, allowance: Allowance) -> None:
        """DELETE: its credentials stop working, so what they reserved is released."""
        machine.ALLOWANCE.check(allowance, AllowanceAction.CANCEL)  # a 409 before anything changes
        for reservation in allowance.reservations:
            if machine.RESERVATIONS.can(reservation, ReservationAction.RELEASE):
                machine.RESERVATIONS.apply(reservation, ReservationAction.RELEASE)
        self.move(project, allowance, AllowanceAction.CANCEL)

    def move(self, project: str, allowance: Allowance, action: AllowanceAction, at: datetime | None = None) -> None:
        event_type = machine.ALLOWANCE.apply(allowance, action)
        if event_type:  # every allowance move has one
            self.records.emit(project, event_type, allowance.id, allowance.to_wire(), at)

    def verified(self, project: str, allowance: Allowance) -> None:
        """The cardholder verified the allowance: its agentic-token rail becomes active."""
        rail = allowance.rail("agentic-token")
        if rail is None or not allowance.awaiting_verification:
            raise machine.rail_not_waiting(allowance, rail)
        event_type = machine.RAILS.apply(rail, RailAction.VERIFY)
        if event_type:
            self.records.emit(project, event_type, allowance.id, allowance.to_wire())

    def verification_failed(self, project: str, allowance: Allowance) -> None:
        """Announced; the rail stays pending_verification and the cardholder may try again."""
        self.records.emit(project, machine.VERIFICATION_FAILED_EVENT, allowance.id, allowance.to_wire())

    def settle(self, project: str, allowance: Allowance, reservation: Reservation, action: ReservationAction,
               at: datetime | None = None) -> None:
        """A credential's reservation is captured or released; a capture that spends the whole amount
        expires the allowance, stamped then."""
        machine.RESERVATIONS.apply(reservation, action)
        if action is ReservationAction.CAPTURE and allowance.spent >= allowance.total and allowance.status == "active":
            self.move(project, allowance, AllowanceAction.USED_UP, at)

    # -- moves on read ---------------------------------------------------------------------

    def refresh(self, project: str, user: str, allowance: Allowance) -> Allowance:
        """Read-time moves, stamped when they happened: credentials that lapsed are captured (in the
        order they lapsed), then expiry; the encrypted-card rail follows its card's CVC."""
        now = self.records.rt.clock.timestamp()
        lapsed = sorted((r for r in allowance.reservations if r.state == "reserved" and r.expires_ts <= now), key=lambda r: r.expires_ts)
        for reservation in lapsed:
            self.settle(project, allowance, reservation, ReservationAction.CAPTURE, datetime.fromtimestamp(reservation.expires_ts, UTC))
        if now >= allowance.expires_ts and machine.ALLOWANCE.can(allowance, AllowanceAction.EXPIRE):
            self.move(project, allowance, AllowanceAction.EXPIRE, datetime.fromtimestamp(allowance.expires_ts, UTC))
        self._follow_cvc(project, user, allowance)
        return allowance

    def _follow_cvc(self, project: str, user: str, allowance: Allowance) -> None:
        rail = allowance.rail("encrypted-card")
        method = self.methods.find(project, user, allowance.payment_method_id)
        if rail is None or method is None or allowance.status != "active":
            return  # a deleted card keeps the rail as it last was
        if not method.cvc_on_file and machine.RAILS.can(rail, RailAction.CVC_EXPIRED):
            machine.RAILS.apply(rail, RailAction.CVC_EXPIRED)
        elif method.cvc_on_file and machine.RAILS.can(rail, RailAction.CVC_RECOLLECTED):
            machine.RAILS.apply(rail, RailAction.CVC_RECOLLECTED)


def new_session(flow: str, label: str, intent_id: str) -> Session:
    """A fresh verification ceremony for an order intent of either generation; its answers echo `orderIntentId`."""
    return Session(flow, label, intent_id, "orderIntentId")


def _rails(method: PaymentMethod, registration: Registration) -> list[Rail]:
    """A new allowance's rails, in Crossmint's order: agentic-token, encrypted-card, spt."""
    rails: list[Rail] = []
    agentic = registration.rail("agentic-token")
    if agentic is not None and agentic.status == "error":
        rails.append(Rail("agentic-token", agentic.provider, "error", FORMATS["agentic-token"], agentic.error_code))
    elif agentic is not None and agentic.status == "enabled":
        status = "active" if method.rails.verification is None else "pending_verification"
        rails.append(Rail("agentic-token", agentic.provider, status, FORMATS["agentic-token"]))
    cvc = "active" if method.cvc_on_file else "pending_cvc_recollection"
    rails.append(Rail("encrypted-card", None, cvc, FORMATS["encrypted-card"]))
    spt = registration.rail("spt")
    if spt is not None and spt.status in ("enabled", "error"):
        status = "active" if spt.status == "enabled" else "error"
        rails.append(Rail("spt", spt.provider, status, FORMATS["spt"], spt.error_code))
    return rails
