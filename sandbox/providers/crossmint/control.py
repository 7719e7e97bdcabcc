"""Crossmint's human steps, played by the control plane: enrollment and order-intent verification.

The full ceremony of an order intent (START, AUTHENTICATE_PASSKEY, …) is walked through its
instruction, served by the provider that serves instructions; these are the shortcuts.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.providers.crossmint.models import EnrollmentOutcome, VerifyShortcut
from sandbox.providers.crossmint.service import CrossmintService


def routes(api: ProviderApi, service: CrossmintService) -> list[web.RouteDef]:
    def verify_intent(call: Call) -> Reply:
        outcome = call.parse(VerifyShortcut, empty_ok=True).outcome
        return Reply(service.verify_shortcut(call.param("id"), outcome == "success").to_wire())

    def complete_enrollment(call: Call) -> Reply:
        outcome = call.parse(EnrollmentOutcome, empty_ok=True).outcome
        return Reply(service.complete_enrollment(call.param("id"), outcome).to_wire())

    tags = ("crossmint",)
    return [
        api.route("POST", "/_sandbox/crossmint/order-intents/{id}/verify", verify_intent, body=VerifyShortcut, empty_ok=True,
                  tags=tags, summary="Finish an order intent's verification at once (the cardholder), success or failure",
                  responses={200: "The order intent", 409: "The order intent is not waiting for verification"}),
        api.route("POST", "/_sandbox/crossmint/enrollments/{id}/complete", complete_enrollment, body=EnrollmentOutcome,
                  empty_ok=True, tags=tags, summary="Finish a pending agentic enrollment (the cardholder): active or failed",
                  responses={200: "The enrollment", 409: "The enrollment is no longer pending"}),
    ]
