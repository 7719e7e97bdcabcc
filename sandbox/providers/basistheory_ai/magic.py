"""Magic card numbers: which path a card's purchase intents take (docs/basistheory.md).

Like Stripe's test cards, a card number decides the outcome with no configuration. A card
that is not listed gets its brand's default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    label: str  # also the `mockCard` label of mock flows
    status: str  # status of a new purchase intent: verify | active | pending
    flow: str | None = None  # verification flow, for status `verify`
    pending_seconds: int = 0  # for status `pending`: when it becomes active
    declined: bool = False  # creating a purchase intent is refused


CARDS: dict[str, Profile] = {
    "4000000000000002": Profile("visa-otp", "verify", "visa_otp"),
    "4000056655665556": Profile("visa-frictionless", "verify", "visa_frictionless"),
    "4000000000000127": Profile("visa-verification-fails", "verify", "declined"),
    "4000000000003063": Profile("visa-mock-otp", "verify", "mock_visa_otp"),
    "4000000000003220": Profile("visa-mock-success", "verify", "mock_visa_frictionless"),
    "5555555555554444": Profile("mastercard-passkey", "verify", "mastercard"),
    "5200000000001096": Profile("mastercard-mock-popup", "verify", "mock_mastercard"),
    "378282246310005": Profile("amex-pending", "pending", pending_seconds=60),
    "4000000000000069": Profile("visa-declined", "verify", declined=True),
    "5105105105105100": Profile("mastercard-declined", "verify", declined=True),
}

BRAND_DEFAULTS: dict[str, Profile] = {
    "visa": Profile("visa-default", "verify", "visa_otp"),
    "mastercard": Profile("mastercard-default", "verify", "mastercard"),
}
OTHER_BRANDS = Profile("no-3ds", "active")  # amex, discover, jcb, … need no network verification


def profile(number: str, brand: str) -> Profile:
    return CARDS.get(number) or BRAND_DEFAULTS.get(brand) or OTHER_BRANDS
