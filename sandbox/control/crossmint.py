"""Crossmint's human steps, played by the control plane: enrollment and order-intent verification.

`POST /_sandbox/basistheory/instructions/{instructionId}/verify` walks the instruction behind an
order intent's `verificationConfig` through the Basis Theory verification machine with the
same actions as a Basis Theory AI purchase intent (START, AUTHENTICATE_PASSKEY, …).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.providers.basistheory.models import Verify
from sandbox.providers.crossmint.models import EnrollmentOutcome, VerifyShortcut
from sandbox.providers.crossmint.service import CrossmintService


def routes(api: ProviderApi) -> list[web.RouteDef]:
    service = CrossmintService(api.runtime)

    def verify_intent(call: Call) -> Reply:
        outcome = call.parse(VerifyShortcut, empty_ok=True).outcome
        return Reply(service.verify_shortcut(call.param("id"), outcome == "success").to_wire())

    def complete_enrollment(call: Call) -> Reply:
        outcome = call.parse(EnrollmentOutcome, empty_ok=True).outcome
        return Reply(service.complete_enrollment(call.param("id"), outcome).to_wire())

    def verify_instruction(call: Call) -> Reply:
        body = call.parse(Verify)
        return Reply(service.verify_instruction(call.param("id"), body.action, body.payload, call.links_base()).body)

    return [
        api.route("POST", "/_sandbox/crossmint/order-intents/{id}/verify", verify_intent),
        api.route("POST", "/_sandbox/crossmint/enrollments/{id}/complete", complete_enrollment),
        api.route("POST", "/_sandbox/basistheory/instructions/{id}/verify", verify_instruction),
    ]
