"""Magic cards of the Basis Theory platform's agentic enrollments (docs/basistheory.md).

The first two are the provider's own test cards (docs/research/basistheory-platform.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    label: str
    verify: str  # what enrollment verify.start answers: approved | challenge | redirect_required | passkey_required
    fails_first: bool = False  # the enrollment is created `failed`; retry brings it to pending_verification
    instruction: str = "passkey_required"  # what instruction verify answers: verified | passkey_required | redirect_required


CARDS: dict[str, Profile] = {
    "4000056655665556": Profile("visa-passkey-bypass", "approved", instruction="verified"),
    "4000000000000002": Profile("visa-otp", "challenge"),
    "5555555555554444": Profile("mastercard-redirect", "redirect_required", instruction="redirect_required"),
    "4000000000000341": Profile("visa-enrollment-fails", "challenge", fails_first=True),
    "4000002760003184": Profile("visa-passkey-register", "passkey_required"),
}
BRAND_DEFAULTS = {"visa": CARDS["4000000000000002"], "mastercard": CARDS["5555555555554444"]}


def profile(number: str, brand: str) -> Profile | None:
    """None: the brand cannot be enrolled (only Visa and Mastercard can)."""
    return CARDS.get(number) or BRAND_DEFAULTS.get(brand)
