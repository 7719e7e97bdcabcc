"""Magic values that decide outcomes when no scenario does, like Stripe's test cards.

Documented in docs/dino.md; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from sandbox.providers.dino.machine import Action, SpendAction
from sandbox.providers.dino.models import Account, host_of

MAGIC_PARAM = "sandbox"  # e.g. https://example.com/products/x?sandbox=decline; a spend request's metadata.sandbox


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str


def magic_markers(product_url: str) -> frozenset[str]:
    return frozenset(parse_qs(urlsplit(product_url).query).get(MAGIC_PARAM, ()))


def authorize(product_url: str, max_total_cents: int, expected_total_cents: int, threshold_cents: int) -> Decision:
    markers = magic_markers(product_url)
    if expected_total_cents > max_total_cents:
        return Decision(Action.DECLINE, f"Expected total {expected_total_cents} exceeds max_total_cents {max_total_cents}")
    if "decline" in markers:
        return Decision(Action.DECLINE, "Declined by policy")
    if "needs_approval" in markers or expected_total_cents >= threshold_cents:
        return Decision(Action.REQUIRE_APPROVAL, "Amount requires approval")
    return Decision(Action.APPROVE, "Purchase intent approved")


_SCRIPTED = {"approved": Action.APPROVE, "declined": Action.DECLINE, "needs_approval": Action.REQUIRE_APPROVAL}
_SCRIPTED_REASONS = {"approved": "Purchase intent approved", "declined": "Declined by policy", "needs_approval": "Amount requires approval"}


def scripted(outcome) -> Decision:
    """A scenario rule's decision (`on: authorize`, see scenarios.py)."""
    return Decision(_SCRIPTED[outcome.status], outcome.decision_reason or _SCRIPTED_REASONS[outcome.status])


def checkout_fails(product_url: str) -> bool:
    return "checkout_fails" in magic_markers(product_url)


def same_merchant(lock: str, merchant: str) -> bool:
    """Merchant locks compare host names, ignoring case, scheme and a leading `www.`."""
    return _host(lock) == _host(merchant)


def _host(value: str) -> str:
    return host_of(value) or value.strip().lower()


# -- spend requests ------------------------------------------------------------------------------

SPEND_APPROVED = "Spend request approved"
REQUIRES_APPROVAL = "Amount requires approval"
OVER_BUDGET = "Amount would exceed the budget for this period"


@dataclass(frozen=True, slots=True)
class SpendDecision:
    action: SpendAction
    reason: str


def spend(metadata: Mapping[str, str], amount_cents: int, account: Account) -> SpendDecision:
    """The budget policy: Dino's quickstart answers (docs/dino.md#spend-requests)."""
    policy, marker = account.policy, metadata.get(MAGIC_PARAM)
    if marker == "decline":
        return SpendDecision(SpendAction.DECLINE, "Declined by policy")
    maximum = policy.max_transaction_cents
    if maximum is not None and amount_cents > maximum:
        return SpendDecision(SpendAction.DECLINE, "Amount exceeds the maximum transaction size")
    if marker == "needs_approval" or amount_cents >= policy.approval_threshold_cents:
        return SpendDecision(SpendAction.REQUIRE_APPROVAL, REQUIRES_APPROVAL)
    if amount_cents > min(account.remaining_budget_cents, account.remaining_monthly_budget_cents):
        return SpendDecision(SpendAction.DECLINE, OVER_BUDGET)
    return SpendDecision(SpendAction.APPROVE, SPEND_APPROVED)


_SPEND_SCRIPTED = {"approved": SpendAction.APPROVE, "declined": SpendAction.DECLINE, "needs_approval": SpendAction.REQUIRE_APPROVAL}
_SPEND_REASONS = {"approved": SPEND_APPROVED, "declined": "Declined by policy", "needs_approval": REQUIRES_APPROVAL}


def scripted_spend(outcome) -> SpendDecision:
    """A scenario rule's decision (`on: spend_request`, see scenarios.py)."""
    return SpendDecision(_SPEND_SCRIPTED[outcome.status], outcome.decision_reason or _SPEND_REASONS[outcome.status])
