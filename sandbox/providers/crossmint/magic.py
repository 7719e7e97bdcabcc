"""Crossmint's staging test cards (docs/research/crossmint-api.md) and brand defaults."""

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
