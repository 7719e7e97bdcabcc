"""Crossmint's staging test cards (docs/research/crossmint-api.md) and brand defaults.

Two generations of the API read the same saved card differently: `profile` decides the Gen-1
agentic enrollment and order-intent verification, `rails` the Gen-2 order-intent registration
and the verification of an allowance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    label: str
    enrollment: str  # active | pending | failed | fails_once | ineligible
    verification: str | None  # the Basis Theory flow an order intent walks; None: active at once
    pending_seconds: int = 60  # a pending enrollment turns active by itself after this long


CARDS: dict[str, Profile] = {
    "4242424242424242": Profile("happy-path", "active", None),
    "4000000000000002": Profile("otp-and-passkey", "pending", "visa_passkey"),
    "4000056655665556": Profile("no-passkey-creation", "active", "visa_passkey"),
    "4539097887163333": Profile("not-eligible", "ineligible", None),
    "4929544240318920": Profile("declined-by-issuer", "failed", None),
    "4000000000003063": Profile("provider-enrollment-failed-retryable", "fails_once", "visa_passkey"),
    "4330251207506660": Profile("card-rejected-in-verification", "active", "declined"),
    "5186161910000103": Profile("mastercard", "pending", "mastercard"),
}
BRAND_DEFAULTS = {
    "visa": Profile("visa-default", "pending", "visa_passkey"),
    "mastercard": Profile("mastercard-default", "pending", "mastercard"),
}
INELIGIBLE = Profile("brand-not-eligible", "ineligible", None)  # only Visa and Mastercard enroll


def profile(number: str, brand: str) -> Profile:
    return CARDS.get(number) or BRAND_DEFAULTS.get(brand) or INELIGIBLE


# -- Gen-2: order-intent registration and allowances -----------------------------------------


@dataclass(frozen=True, slots=True)
class RailsProfile:
    label: str
    provider: str | None  # the agentic-token rail's network: vic (Visa), agentpay (Mastercard); None: no such rail
    registration: str  # enabled | error: the agentic-token rail as registered
    verification: str | None  # the flow that verifies an allowance; None: the rail is active at once
    error_code: str | None = None  # with registration `error`


RAIL_CARDS: dict[str, RailsProfile] = {
    "4242424242424242": RailsProfile("happy-path", "vic", "enabled", None),
    # Crossmint's guide lists this number although it fails the Luhn check; the sandbox takes it as written.
    "5186160000000001": RailsProfile("rail-error", "agentpay", "error", None, "CARD_NOT_ELIGIBLE"),
}
RAIL_BRANDS = {
    "visa": RailsProfile("visa-default", "vic", "enabled", "visa_passkey"),
    "mastercard": RailsProfile("mastercard-default", "agentpay", "enabled", "mastercard"),
}
NO_AGENTIC_TOKEN = RailsProfile("no-agentic-token", None, "none", None)  # other brands: encrypted-card and spt only
LUHN_EXEMPT = frozenset({"5186160000000001"})  # saved as written, Luhn or not


def rails(number: str, brand: str) -> RailsProfile:
    return RAIL_CARDS.get(number) or RAIL_BRANDS.get(brand) or NO_AGENTIC_TOKEN
