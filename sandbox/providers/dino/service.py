"""Dino's operations, shared by the public routes and the control plane.

Handlers parse and render; this module decides (through `magic`) and moves intents
(through `machine`), recording one event per announced transition. The same intents are served
under `/v1/purchase-intents` and `/v1/checkout/intents`: `noun` names them as the caller's path
does, in errors. Spend requests and the agent account are in `spend.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.scheduler import Timer
from sandbox.core.store import Page, Space, UnknownCursor
from sandbox.providers.dino import machine, magic
from sandbox.providers.dino.auth import REVOKED_KIND, key_space
from sandbox.providers.dino.events import Announcing, purchase_intent_event
from sandbox.providers.dino.machine import PURCHASE_INTENT, Action
from sandbox.providers.dino.models import (
    Authorize,
    CreatePurchaseIntent,
    Credential,
    DinoSettings,
    IssueCredential,
    ListQuery,
    PurchaseIntent,
    Wallet,
)
from sandbox.providers.dino.spend import SPEND_KIND, SpendService

PROVIDER = "dino"
KIND = "purchase_intent"
WALLET_KIND = "wallet"
ExecutionOutcome = Literal["started", "completed", "failed"]


class DinoService(Announcing):
    EVENT = staticmethod(purchase_intent_event)

    def __init__(self, runtime: Runtime, settings: DinoSettings) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)  # Dino's own id streams
        self.settings = settings
        self.spend = SpendService(runtime, settings)

    # -- reads -------------------------------------------------------------------------

    def get(self, tenant: str, intent_id: str, noun: str = PURCHASE_INTENT) -> PurchaseIntent:
        intent = self.rt.store.get(Space(PROVIDER, tenant), KIND, intent_id)
        if intent is None:
            raise _not_found(intent_id, noun)
        self._refresh(tenant, intent)
        return intent

    def find(self, intent_id: str) -> tuple[str, PurchaseIntent]:
        """Any tenant's intent, for the operator side (control plane and approval page)."""
        space = self.rt.store.locate(KIND, intent_id)
        if space is None:
            raise _not_found(intent_id)
        return space.tenant, self.get(space.tenant, intent_id)

    def page(self, tenant: str, query: ListQuery, noun: str = PURCHASE_INTENT) -> Page:
        def keep(intent: PurchaseIntent) -> bool:
            self._refresh(tenant, intent)
            return query.status is None or intent.status == query.status

        try:
            return self.rt.store.page(Space(PROVIDER, tenant), KIND, limit=query.limit, after=query.starting_after, where=keep)
        except UnknownCursor:
            raise invalid_field("starting_after", f"no {noun} {query.starting_after!r} in this scope") from None

    def wallet(self, tenant: str) -> Wallet:
        space = Space(PROVIDER, tenant)
        wallet = self.rt.store.get(space, WALLET_KIND, "usd")
        if wallet is None:  # Dino's sandbox provisions a funded test wallet
            wallet = Wallet(self.settings.wallet_start_cents)
            self.rt.store.put(space, WALLET_KIND, "usd", wallet)
        return wallet

    # -- agent side --------------------------------------------------------------------

    def fund(self, tenant: str, amount_cents: int) -> Wallet:
        """The sandbox faucet: test USD only."""
        wallet = self.wallet(tenant)
        wallet.available_cents += amount_cents
        return wallet

    def create(self, tenant: str, request: CreatePurchaseIntent) -> PurchaseIntent:
        now = self._now()
        intent = PurchaseIntent.create(self.ids.ulid("pi", tenant), request, now)
        self.rt.store.put(Space(PROVIDER, tenant), KIND, intent.id, intent)
        self._emit(tenant, intent, machine.CREATED_EVENT, self._trace(tenant))
        return intent

    def authorize(self, tenant: str, intent_id: str, request: Authorize, links_base: str, noun: str = PURCHASE_INTENT) -> PurchaseIntent:
        intent = self.get(tenant, intent_id, noun)
        machine.check(intent, Action.APPROVE, noun)  # refuse before recording anything
        expected = request.expected_total_cents or intent.max_total_cents
        asked = {**request.model_dump(exclude_unset=True), "expected_total_cents": expected}
        scripted = self.rt.rules.decide(PROVIDER, "authorize", tenant, {"request": asked, "purchase_intent": intent.to_wire()})
        decision = magic.scripted(scripted) if scripted else magic.authorize(
            intent.product_url, intent.max_total_cents, expected, self.settings.approval_threshold_cents
        )
        if scripted and scripted.after:
            due = self.rt.clock.timestamp() + scripted.after.seconds
            intent.auto_decision = (due, scripted.after.status)
            self.rt.scheduler.at(due, PROVIDER, tenant, KIND, intent.id)
        now = self._now()
        intent.expected_total_cents = expected
        intent.merchant_name = request.merchant_name
        intent.reason = request.reason
        intent.decision_reason = decision.reason
        if decision.action is Action.REQUIRE_APPROVAL:
            intent.approval_url = f"{links_base}/_sandbox/dino/approvals/{intent.id}"
        else:
            intent.decided_at = now
        self._emit(tenant, intent, machine.apply(intent, decision.action, now), self._trace(tenant))
        return intent

    def issue_credential(self, tenant: str, intent_id: str, request: IssueCredential, noun: str = PURCHASE_INTENT) -> PurchaseIntent:
        intent = self.get(tenant, intent_id, noun)
        machine.check(intent, Action.ISSUE_CREDENTIAL, noun)
        if request.merchant_lock and intent.merchant_name and not magic.same_merchant(request.merchant_lock, intent.merchant_name):
            raise invalid_field("merchant_lock", f"must match the authorized merchant_name {intent.merchant_name!r}")
        amount = intent.expected_total_cents or intent.max_total_cents
        self._reserve(tenant, amount)
        moment = self.rt.clock.now()
        expires = moment + timedelta(seconds=request.ttl_seconds)
        intent.credential = Credential(
            handle=self.ids.ulid("pch", tenant),
            provider=request.provider,
            mode=request.credential_mode,
            approved_amount_cents=amount,
            merchant_lock=request.merchant_lock,
            ttl_seconds=request.ttl_seconds,
            issued_at=iso(moment),
            expires_at=iso(expires),
            expires_ts=expires.timestamp(),
        )
        machine.apply(intent, Action.ISSUE_CREDENTIAL, iso(moment))  # Dino announces no event for this
        self.rt.scheduler.at(expires.timestamp(), PROVIDER, tenant, KIND, intent.id)  # an unused credential's reserve is released
        return intent

    # -- operator and merchant side (control plane) ------------------------------------

    def decide(self, intent_id: str, approve: bool, reason: str | None) -> PurchaseIntent:
        tenant, intent = self.find(intent_id)
        action = Action.OPERATOR_APPROVE if approve else Action.OPERATOR_DENY
        machine.check(intent, action)
        now = self._now()
        intent.decision_reason = reason or ("Approved by operator" if approve else "Declined by operator")
        intent.decided_at = now
        self._emit(tenant, intent, machine.apply(intent, action, now), self._trace(tenant))
        return intent

    def execute(
        self, intent_id: str, outcome: ExecutionOutcome | None, merchant: str | None,
        amount_cents: int | None, failure_reason: str | None,
    ) -> PurchaseIntent:
        """The merchant's checkout with the issued credential: start it, then finish it."""
        tenant, intent = self.find(intent_id)
        starting = intent.status != "execution_started" or outcome == "started"
        expired = False
        if starting:
            machine.check(intent, Action.START_EXECUTION)
            expired = self._credential_expired(intent)
            if expired and outcome != "failed":  # only a failed attempt can be played with it
                raise _expired_credential(intent)
        now, trace = self._now(), self._trace(tenant)
        if starting:
            self._emit(tenant, intent, machine.apply(intent, Action.START_EXECUTION, now), trace)
        if outcome == "started":
            return intent
        problem = "payment_credential_expired" if expired else self._checkout_problem(intent, merchant, amount_cents)
        if outcome is None and not expired:
            context = {"purchase_intent": intent.to_wire(), "request": {"merchant": merchant, "amount_cents": amount_cents}}
            scripted = self.rt.rules.decide(PROVIDER, "execute", tenant, context)
            if scripted is not None:
                outcome, failure_reason = scripted.status, failure_reason or scripted.failure_reason
        cred = intent.credential
        assert cred is not None  # execution starts only from payment_credential_issued
        wallet, amount = self.wallet(tenant), cred.approved_amount_cents
        if not cred.released:
            wallet.reserved_cents -= amount
        if outcome == "failed" or (outcome is None and problem):
            if not cred.released:
                wallet.available_cents += amount  # a failed checkout releases the reserve
            intent.failure_reason = failure_reason or problem or "checkout_failed"
            self._emit(tenant, intent, machine.apply(intent, Action.FAIL, now), trace)
        else:
            self._emit(tenant, intent, machine.apply(intent, Action.COMPLETE, now), trace)
        return intent

    def revoke_key(self, key: str) -> None:
        self.rt.store.put(key_space(key), REVOKED_KIND, key, True)

    # -- helpers -----------------------------------------------------------------------

    def on_timer(self, timer: Timer) -> None:
        """The scheduler reached a due moment of this intent (or spend request): apply what is due."""
        if timer.kind == SPEND_KIND:
            self.spend.on_timer(timer)
            return
        intent = self.rt.store.get(Space(PROVIDER, timer.tenant), KIND, timer.obj_id)
        if intent is not None:
            self._refresh(timer.tenant, intent)

    def _refresh(self, tenant: str, intent: PurchaseIntent) -> None:
        """What the sandbox clock has reached: a timed operator decision, an unused credential's expiry."""
        self._timed_decision(tenant, intent)
        self._release_expired(tenant, intent)

    def _release_expired(self, tenant: str, intent: PurchaseIntent) -> None:
        """An expired credential that was never used gives its reserve back; the intent's status stays."""
        cred = intent.credential
        if cred is None or cred.released or intent.status != "payment_credential_issued" or not self._credential_expired(intent):
            return
        cred.released = True
        wallet = self.wallet(tenant)
        wallet.reserved_cents -= cred.approved_amount_cents
        wallet.available_cents += cred.approved_amount_cents

    def _timed_decision(self, tenant: str, intent: PurchaseIntent) -> None:
        """A scenario's timed operator decision, applied once the sandbox clock reaches it."""
        if intent.auto_decision is None or intent.status != "needs_approval":
            return
        due, status = intent.auto_decision
        if self.rt.clock.timestamp() < due:
            return
        intent.auto_decision = None
        approve = status == "approved"
        at = iso(datetime.fromtimestamp(due, UTC))
        intent.decision_reason = "Approved by operator" if approve else "Declined by operator"
        intent.decided_at = at
        action = Action.OPERATOR_APPROVE if approve else Action.OPERATOR_DENY
        self._emit(tenant, intent, machine.apply(intent, action, at), self._trace(tenant))

    def _credential_expired(self, intent: PurchaseIntent) -> bool:
        return intent.credential is not None and intent.credential.expires_ts <= self.rt.clock.timestamp()

    def _reserve(self, tenant: str, amount: int) -> None:
        wallet = self.wallet(tenant)
        if wallet.available_cents < amount:
            raise SandboxError(
                ErrorKind.PAYMENT_REQUIRED,
                f"Wallet balance {wallet.available_cents} is below the approved amount {amount}; "
                "add test USD with POST /v1/sandbox/faucet",
                details={"available_cents": wallet.available_cents, "required_cents": amount, "currency": "usd"},
            )
        wallet.available_cents -= amount
        wallet.reserved_cents += amount

    @staticmethod
    def _checkout_problem(intent: PurchaseIntent, merchant: str | None, amount_cents: int | None) -> str | None:
        cred = intent.credential
        if cred and cred.merchant_lock and merchant and not magic.same_merchant(cred.merchant_lock, merchant):
            return "merchant_lock_mismatch"
        if cred and amount_cents is not None and cred.mode == "one_time_exact_amount" and amount_cents != cred.approved_amount_cents:
            return "amount_mismatch"
        if magic.checkout_fails(intent.product_url):
            return "checkout_failed"
        return None


def _expired_credential(intent: PurchaseIntent) -> SandboxError:
    cred = intent.credential
    assert cred is not None  # only an issued credential expires
    return SandboxError(
        ErrorKind.INVALID_STATE,
        f"The payment credential of purchase intent {intent.id} expired at {cred.expires_at}; it cannot execute",
        details={"reason": "credential_expired", "status": intent.status, "credential_expires_at": cred.expires_at},
    )


def _not_found(intent_id: str, noun: str = PURCHASE_INTENT) -> SandboxError:
    return SandboxError(ErrorKind.NOT_FOUND, f"{noun.capitalize()} {intent_id} not found in the current scope", details={"id": intent_id})

