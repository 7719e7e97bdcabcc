"""Spend requests and the agent account they spend from (Dino's `/v1/spend-requests`, `/v1/spend`
and `/v1/accounts`), shared by the public routes and the control plane.

A spend request is decided when it is created: the account's budget policy (through `magic`) or
a scenario rule approves it, declines it or sends it to a person. One waiting for approval is
approved, declined or cancelled by the operator, or cancelled when its approval timeout passes on
the sandbox clock. Approved spend counts against the account's budget. The policy is a sandbox
choice, documented in docs/dino.md#spend-requests.
"""

from __future__ import annotations

from sandbox.core.clock import iso_timestamp
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.scheduler import Timer
from sandbox.core.store import Page, Space, UnknownCursor
from sandbox.providers.dino import magic
from sandbox.providers.dino.events import Announcing, spend_request_event
from sandbox.providers.dino.machine import SPEND, SPEND_CREATED_EVENT, SpendAction, apply_spend
from sandbox.providers.dino.models import (
    Account,
    BodyKey,
    CreateSpendRequest,
    DinoSettings,
    Policy,
    PolicyUpdate,
    SpendListQuery,
    SpendRequest,
)

PROVIDER = "dino"
SPEND_KIND = "spend_request"
ACCOUNT_KIND = "account"
BODY_KEY_KIND = "spend_idempotency_key"  # the legacy `idempotency_key` body field, per key
ACCOUNT_NAME = "Sandbox agent"
APPROVED_BY_OPERATOR, DECLINED_BY_OPERATOR = "Approved by operator", "Declined by operator"
CANCELLED_BY_OPERATOR, EXPIRED = "Cancelled by operator", "Approval request expired"


class SpendService(Announcing):
    EVENT = staticmethod(spend_request_event)

    def __init__(self, runtime: Runtime, settings: DinoSettings) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)
        self.settings = settings

    # -- the agent account -------------------------------------------------------------

    def account(self, tenant: str) -> Account:
        """The key's agent account, provisioned on first use (as Dino's sandbox provisions a default
        agent account and policy profile), with its remaining budget counted as of now."""
        space = Space(PROVIDER, tenant)
        found = self.rt.store.page(space, ACCOUNT_KIND, limit=1).items
        if found:
            account: Account = found[0]
        else:
            now = self._now()
            policy = Policy(
                budget_period="monthly", budget_cents=self.settings.budget_cents, monthly_budget_cents=self.settings.budget_cents,
                approval_threshold_cents=self.settings.approval_threshold_cents,
                approval_timeout_seconds=self.settings.approval_timeout_seconds,
            )
            account = Account(self.ids.ulid("agent", tenant), self.ids.ulid("team", tenant), ACCOUNT_NAME, policy, now, now)
            self.rt.store.put(space, ACCOUNT_KIND, account.id, account)
        account.refresh(self.rt.clock.timestamp())
        return account

    def get_account(self, tenant: str, account_id: str) -> Account:
        account = self.account(tenant)
        if account_id != account.id:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Account {account_id} not found in the current scope", details={"id": account_id})
        return account

    def update_policy(self, tenant: str, update: PolicyUpdate) -> Account:
        """The operator changes the account's name or budget policy; it applies to the next request."""
        account = self.account(tenant)
        changes = update.model_dump(exclude_unset=True)
        if "name" in changes:
            account.name = changes.pop("name")
        for name, value in changes.items():
            setattr(account.policy, name, value)
        account.updated_at = self._now()
        account.refresh(self.rt.clock.timestamp())
        return account

    # -- spend requests: the agent side ----------------------------------------------------

    def create(self, tenant: str, request: CreateSpendRequest, links_base: str) -> dict:
        """Create and decide a spend request; returns it as the API answers (the first answer again
        for a legacy body `idempotency_key` already used with the same request)."""
        space = Space(PROVIDER, tenant)
        asked = request.model_dump(mode="json", exclude={"idempotency_key"})
        key = request.idempotency_key
        if key is not None:
            used: BodyKey | None = self.rt.store.get(space, BODY_KEY_KIND, key)
            if used is not None:
                if used.request != asked:
                    raise SandboxError(
                        ErrorKind.IDEMPOTENCY_CONFLICT,
                        f"idempotency_key {key!r} was already used with a different spend request",
                        details={"idempotency_key": key},
                    )
                return used.response
        account = self.account(tenant)
        scripted = self.rt.rules.decide(PROVIDER, "spend_request", tenant, {"request": asked, "account": account.to_wire()})
        decision = magic.scripted_spend(scripted) if scripted else magic.spend(request.metadata, request.amount_cents, account)
        moment = self.rt.clock.timestamp()
        now = self._now()
        spend = SpendRequest(self.ids.ulid("req", tenant), "created", request, account.team_id, account.id, now, now)
        spend.decision_reason = decision.reason
        if decision.action is SpendAction.REQUIRE_APPROVAL:
            spend.approval_url = f"{links_base}/_sandbox/dino/approvals/{spend.id}"
            spend.expires_ts = moment + account.policy.approval_timeout_seconds
            spend.expires_at = iso_timestamp(spend.expires_ts)
            self.rt.scheduler.at(spend.expires_ts, PROVIDER, tenant, SPEND_KIND, spend.id)
            if scripted and scripted.after:
                due = moment + scripted.after.seconds
                spend.auto_decision = (due, scripted.after.status)
                self.rt.scheduler.at(due, PROVIDER, tenant, SPEND_KIND, spend.id)
        else:
            spend.decided_at = now
            if decision.action is SpendAction.APPROVE:
                account.spend(moment, request.amount_cents)
        spend.budget(account)
        event = apply_spend(spend, decision.action, now)
        self.rt.store.put(space, SPEND_KIND, spend.id, spend)
        trace = self._trace(tenant)
        self._emit(tenant, spend, SPEND_CREATED_EVENT, trace)
        self._emit(tenant, spend, event, trace)
        if key is not None:
            self.rt.store.put(space, BODY_KEY_KIND, key, BodyKey(asked, spend.to_wire()))
        return spend.to_wire()

    def get(self, tenant: str, spend_id: str) -> SpendRequest:
        spend = self.rt.store.get(Space(PROVIDER, tenant), SPEND_KIND, spend_id)
        if spend is None:
            raise _not_found(spend_id)
        self._refresh(tenant, spend)
        return spend

    def page(self, tenant: str, query: SpendListQuery) -> Page:
        def keep(spend: SpendRequest) -> bool:
            self._refresh(tenant, spend)
            return query.status is None or spend.status == query.status

        try:
            return self.rt.store.page(Space(PROVIDER, tenant), SPEND_KIND, limit=query.limit, after=query.starting_after, where=keep)
        except UnknownCursor:
            raise invalid_field("starting_after", f"no spend request {query.starting_after!r} in this scope") from None

    # -- the operator side (control plane and the approval page) ---------------------------

    def find(self, spend_id: str) -> tuple[str, SpendRequest]:
        """Any tenant's spend request."""
        space = self.rt.store.locate(SPEND_KIND, spend_id)
        if space is None:
            raise _not_found(spend_id)
        return space.tenant, self.get(space.tenant, spend_id)

    def holds(self, obj_id: str) -> bool:
        return self.rt.store.locate(SPEND_KIND, obj_id) is not None

    def decide(self, spend_id: str, approve: bool, reason: str | None) -> SpendRequest:
        tenant, spend = self.find(spend_id)
        action = SpendAction.OPERATOR_APPROVE if approve else SpendAction.OPERATOR_DECLINE
        SPEND.check(spend, action)
        self._close(tenant, spend, action, reason or (APPROVED_BY_OPERATOR if approve else DECLINED_BY_OPERATOR),
                    self.rt.clock.timestamp())
        return spend

    def cancel(self, spend_id: str, reason: str | None) -> SpendRequest:
        tenant, spend = self.find(spend_id)
        SPEND.check(spend, SpendAction.CANCEL)
        self._close(tenant, spend, SpendAction.CANCEL, reason or CANCELLED_BY_OPERATOR, self.rt.clock.timestamp())
        return spend

    # -- time ---------------------------------------------------------------------------

    def on_timer(self, timer: Timer) -> None:
        spend = self.rt.store.get(Space(PROVIDER, timer.tenant), SPEND_KIND, timer.obj_id)
        if spend is not None:
            self._refresh(timer.tenant, spend)

    def _refresh(self, tenant: str, spend: SpendRequest) -> None:
        """What the sandbox clock has reached for a request waiting for approval: a scenario's timed
        operator decision, or the approval timeout, whichever falls due first."""
        if spend.status != "needs_approval":
            return
        now = self.rt.clock.timestamp()
        expires = spend.expires_ts if spend.expires_ts is not None else float("inf")
        if spend.auto_decision is not None and spend.auto_decision[0] <= min(now, expires):
            due, status = spend.auto_decision
            spend.auto_decision = None
            approve = status == "approved"
            action = SpendAction.OPERATOR_APPROVE if approve else SpendAction.OPERATOR_DECLINE
            self._close(tenant, spend, action, APPROVED_BY_OPERATOR if approve else DECLINED_BY_OPERATOR, due)
        elif expires <= now:
            self._close(tenant, spend, SpendAction.EXPIRE, EXPIRED, expires)

    def _close(self, tenant: str, spend: SpendRequest, action: SpendAction, reason: str, at: float) -> None:
        """End the wait for approval at `at`: approved spend counts against the budget from then."""
        stamp = iso_timestamp(at)
        account = self.account(tenant)
        if action is SpendAction.OPERATOR_APPROVE:
            account.spend(at, spend.request.amount_cents)
        spend.auto_decision = None
        spend.decision_reason = reason
        spend.decided_at = stamp
        spend.budget(account)
        self._emit(tenant, spend, apply_spend(spend, action, stamp), self._trace(tenant))


def _not_found(spend_id: str) -> SandboxError:
    return SandboxError(ErrorKind.NOT_FOUND, f"Spend request {spend_id} not found in the current scope", details={"id": spend_id})
