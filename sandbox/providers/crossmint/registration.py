"""Order-intent registration (Gen-2's card prerequisite) and the card's vaulted CVC.

Registering a card provisions its rails: the agentic-token rail of its network (the magic card
decides enabled or error) and Stripe's spt rail. It never prompts the cardholder and is
idempotent: a second `PUT` answers the registration as it is. The encrypted-card rail needs no
registration; it follows the card's CVC, which the control plane can age out and recollect.
"""

from __future__ import annotations

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.providers.crossmint import machine
from sandbox.providers.crossmint.enrollment import PaymentMethods
from sandbox.providers.crossmint.models import PaymentMethod, RegisteredRail, Registration, RegistrationBody
from sandbox.providers.crossmint.records import Records, not_found


class Registrations:
    def __init__(self, records: Records, methods: PaymentMethods) -> None:
        self.records = records
        self.methods = methods

    def register(self, project: str, user: str, method_id: str, body: RegistrationBody) -> Registration:
        method = self.methods.get(project, user, method_id)
        if method.registration is not None:
            return method.registration  # idempotent: the details of a later PUT are not stored
        rails: list[RegisteredRail] = []
        profile = method.rails
        if profile.provider is not None:
            rails.append(RegisteredRail("agentic-token", profile.provider, profile.registration, profile.error_code))
        rails.append(RegisteredRail("spt", "stripe", "enabled"))
        method.registration = Registration(method.id, rails, body.email, body.countryCode, body.languageCode, iso(self.records.now()))
        self.records.emit(project, machine.REGISTRATION_EVENT, method.id, method.registration.to_wire())
        return method.registration

    def get(self, project: str, user: str, method_id: str) -> Registration:
        method = self.methods.get(project, user, method_id)
        if method.registration is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Payment method {method_id} has no order-intent registration")
        return method.registration

    def set_cvc(self, method_id: str, on_file: bool) -> PaymentMethod:
        """The control plane's stand-in for the vault: the CVC ages out, or the cardholder types it again
        (Crossmint's CrossmintCvcRecollection). Allowances read their encrypted-card rail from it."""
        owner = self.records.owner(method_id)
        if owner is None or owner.kind != "payment_method" or owner.obj_id != method_id:
            raise not_found("Payment method", method_id)
        method = self.methods.get(owner.project, owner.user, method_id)
        method.cvc_on_file = on_file
        return method
