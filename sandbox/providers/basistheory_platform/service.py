"""Basis Theory platform operations: card tokens, agents, enrollments and their verification,
instructions and their verification, credentials. The tenant is the API key."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.runtime import Runtime
from sandbox.core.store import Page, Space, UnknownCursor
from sandbox.core.verification import Answer
from sandbox.providers.basistheory_platform import magic
from sandbox.providers.basistheory_platform.events import PROVIDER
from sandbox.providers.basistheory_platform.webhooks import Webhooks
from sandbox.providers.basistheory_platform.models import (
    Agent, AgentCreate, AgentUpdate, CredentialsCreate, Enrollment, EnrollmentCreate, Instruction, InstructionCreate,
    InstructionUpdate, Token, TokenCreate,
)

PASSKEY_PAGE = "/_sandbox/basistheory/passkey"  # stands in for the card network's passkey page
REDIRECT_PAGE = "/_sandbox/basistheory/redirect/"  # stands in for Mastercard's hosted authentication
MOCK_PAN_PREFIX = "400000100000"  # the provider's mock virtual cards: this prefix + the card's last four
OTP_METHODS = [{"id": "sms-1", "type": "sms", "value": "***-***-1234"}, {"id": "email-1", "type": "email", "value": "c***@example.com"}]


def _platform_answer(answer: Answer, reference: str, links_base: str) -> dict[str, Any]:
    """The ceremony's answer in the platform's words."""
    status, data = answer.body.get("status"), answer.body.get("data") or {}
    if status == "VERIFIED":
        return {"status": "verified"}
    if status == "ERROR":
        raise _unprocessable((answer.body.get("error") or {}).get("message", "Verification failed."))
    if data.get("brand") == "MASTERCARD":
        return {"status": "redirect_required", "brand": "mastercard",
                "redirect": {"uri": f"{links_base}{REDIRECT_PAGE}{reference}", "uri_type": "WEB_URI"}}
    context = data.get("authContext") or {}
    return {"status": "passkey_required", "passkey_context": {
        "endpoint": context.get("endpoint"), "identifier": reference, "action": "AUTHENTICATE", "platform_type": "WEB"}}


def _unprocessable(message: str, **details: Any) -> SandboxError:
    return SandboxError(ErrorKind.INVALID_STATE, message, details=details)


class BasisTheoryPlatformService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.hooks = Webhooks(runtime, self._tenant_id)

    # -- generic -----------------------------------------------------------------------

    def _space(self, tenant: str) -> Space:
        return Space(PROVIDER, tenant)

    def _get(self, tenant: str, kind: str, obj_id: str, what: str) -> Any:
        obj = self.rt.store.get(self._space(tenant), kind, obj_id)
        if obj is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"{what} {obj_id} not found")
        return obj

    def _now(self) -> str:
        return iso(self.rt.clock.now())

    def page(self, tenant: str, kind: str, limit: int, cursor: str | None, where=None) -> Page:
        try:
            return self.rt.store.page(self._space(tenant), kind, limit=limit, after=cursor, where=where)
        except UnknownCursor:  # the SDK declares no 400 for lists: an unknown cursor is the end
            return Page([], False)

    # -- tokens ------------------------------------------------------------------------

    def create_token(self, tenant: str, body: TokenCreate) -> Token:
        data, now = body.data, self.rt.clock.now()
        problem = cards.expiry_problem(data.expiration_month, data.expiration_year, now)
        if problem:
            raise invalid_field("data.expiration_year", f"The {problem}." if problem.startswith("card") else f"The card {problem}.")
        fingerprint = hashlib.sha256(f"{self.rt.ids.seed}:{data.number}".encode()).hexdigest()[:44]
        token = Token(
            self.rt.ids.uuid(tenant, "token"), self._tenant_id(tenant), cards.brand(data.number) or "unknown",
            data.number[:6], data.number[-4:], data.expiration_month, data.expiration_year, fingerprint, data.number,
            body.metadata, iso(now),
        )
        self.rt.store.put(self._space(tenant), "token", token.id, token)
        self.hooks.emit(tenant, "token.created", "token", token.to_wire())
        return token

    def token(self, tenant: str, token_id: str) -> Token:
        return self._get(tenant, "token", token_id, "Token")

    def delete_token(self, tenant: str, token_id: str) -> None:
        token = self.token(tenant, token_id)
        self.rt.store.delete(self._space(tenant), "token", token_id)
        self.hooks.emit(tenant, "token.deleted", "token", token.to_wire())

    def _tenant_id(self, tenant: str) -> str:
        """The id of the tenant behind the API key, made once."""
        tenant_id = self.rt.store.get(self._space(tenant), "config", "tenant_id")
        if tenant_id is None:
            tenant_id = self.rt.ids.uuid(tenant, "tenant")
            self.rt.store.put(self._space(tenant), "config", "tenant_id", tenant_id)
        return tenant_id

    # -- agents ------------------------------------------------------------------------

    def create_agent(self, tenant: str, body: AgentCreate) -> Agent:
        details = body.instance_details.model_dump(exclude_none=True) if body.instance_details else None
        agent = Agent(self.rt.ids.uuid(tenant, "agent"), body.name, list(body.enrollment_ids or []), details, self._now())
        self.rt.store.put(self._space(tenant), "agent", agent.id, agent)
        return agent

    def agent(self, tenant: str, agent_id: str) -> Agent:
        return self._get(tenant, "agent", agent_id, "Agent")

    def update_agent(self, tenant: str, agent_id: str, body: AgentUpdate) -> Agent:
        agent = self.agent(tenant, agent_id)
        if body.name is not None:
            agent.name = body.name
        if body.enrollment_ids is not None:
            agent.enrollment_ids = list(body.enrollment_ids)
        if body.instance_details is not None:
            agent.instance_details = body.instance_details.model_dump(exclude_none=True)
        return agent

    def delete_agent(self, tenant: str, agent_id: str) -> None:
        self.agent(tenant, agent_id)
        self.rt.store.delete(self._space(tenant), "agent", agent_id)

    # -- enrollments -------------------------------------------------------------------

    def create_enrollment(self, tenant: str, body: EnrollmentCreate) -> Enrollment:
        token = self.rt.store.get(self._space(tenant), "token", body.token_id)
        if token is None:
            raise invalid_field("token_id", "The token was not found.")
        profile = magic.profile(token.number, token.brand)
        if profile is None:
            raise _unprocessable(f"A {token.brand} card cannot be enrolled: only Visa and Mastercard can.")
        agent_ids = body.agent_ids if body.agent_ids is not None else ([body.agent_id] if body.agent_id else [])
        agent_ids = list(dict.fromkeys(agent_ids))  # each agent once
        for agent_id in agent_ids:
            if self.rt.store.get(self._space(tenant), "agent", agent_id) is None:
                raise invalid_field("agent_ids" if body.agent_ids is not None else "agent_id", f"The agent {agent_id} was not found.")
        if body.type == "spt":
            provider, status = "stripe-mock", "active"
        else:
            provider = f"{token.brand}-mock"
            status = "active" if body.type == "autofill" else ("failed" if profile.fails_first else "pending_verification")
        enrollment = Enrollment(
            self.rt.ids.uuid(tenant, "enrollment"), token.id, {**token.card(), "segment": "consumer", "type": "credit"},
            list(agent_ids), body.wallet_name or "Agent Wallet", body.type, provider, status, self._now(), profile,
        )
        self.rt.store.put(self._space(tenant), "enrollment", enrollment.id, enrollment)
        for agent_id in agent_ids:
            self.agent(tenant, agent_id).enrollment_ids.append(enrollment.id)
        self.hooks.emit(tenant, "agentic.enrollment.created", "enrollment", enrollment.to_wire())
        return enrollment

    def enrollment(self, tenant: str, enrollment_id: str) -> Enrollment:
        return self._get(tenant, "enrollment", enrollment_id, "Enrollment")

    def delete_enrollment(self, tenant: str, enrollment_id: str) -> None:
        enrollment = self.enrollment(tenant, enrollment_id)
        enrollment.status = "deleted"  # a soft delete, as documented
        self.hooks.emit(tenant, "agentic.enrollment.deleted", "enrollment", enrollment.to_wire())

    def retry_enrollment(self, tenant: str, enrollment_id: str) -> Enrollment:
        enrollment = self.enrollment(tenant, enrollment_id)
        if enrollment.status != "failed":
            raise _unprocessable(f"Only failed enrollments can be retried; this one is {enrollment.status}.", status=enrollment.status)
        enrollment.status, enrollment.step = "pending_verification", "new"
        return enrollment

    def verify_enrollment(self, tenant: str, enrollment_id: str, action: str, value: str | None, links_base: str) -> dict[str, Any]:
        enrollment = self.enrollment(tenant, enrollment_id)
        if enrollment.status != "pending_verification":
            raise SandboxError(  # the SDK declares 409 for verify (start) only
                ErrorKind.INVALID_STATE, f"The enrollment is {enrollment.status}; only pending_verification enrollments can be verified.",
                details={"status": enrollment.status}, status=409 if action == "start" else None,
            )
        expected = {"start": ("new", "challenge", "redirect", "passkey"), "method": ("challenge",), "otp": ("otp_sent",),
                    "complete": ("device_bound", "redirect", "passkey")}[action]
        if enrollment.step not in expected:
            raise _unprocessable(f"verify/{action} does not apply now (verification is at {enrollment.step}).", step=enrollment.step)
        if action == "start":
            answer = self._start(enrollment, links_base)
            self._announce_if_active(tenant, enrollment)
            return answer
        if action == "method":
            if value not in [m["id"] for m in OTP_METHODS]:
                raise invalid_field("method_id", "The method_id is not one of the offered methods.")
            enrollment.step, enrollment.method_id = "otp_sent", value
            return {"status": "otp_sent"}
        if action == "otp":
            enrollment.step = "device_bound"  # the provider's test tenants accept any code
            return {"status": "device_bound"}
        enrollment.step, enrollment.status = "verified", "active"
        self._announce_if_active(tenant, enrollment)
        return {"status": "verified"}

    def _announce_if_active(self, tenant: str, enrollment: Enrollment) -> None:
        if enrollment.status == "active":
            self.hooks.emit(tenant, "agentic.enrollment.verified", "enrollment", enrollment.to_wire())

    def _start(self, enrollment: Enrollment, links_base: str) -> dict[str, Any]:
        outcome = enrollment.profile.verify
        if outcome == "approved":
            enrollment.step, enrollment.status = "verified", "active"
            return {"status": "approved"}
        if outcome == "challenge":
            enrollment.step = "challenge"
            return {"status": "challenge", "methods": [dict(m) for m in OTP_METHODS]}
        if outcome == "redirect_required":
            enrollment.step = "redirect"
            return {"status": "redirect_required", "brand": "mastercard", "redirect": self._redirect(enrollment.id, links_base)}
        enrollment.step = "passkey"
        return {"status": "passkey_required", "passkey_context": self._passkey(enrollment.id, enrollment.card, "REGISTER", links_base)}

    def _redirect(self, reference: str, links_base: str) -> dict[str, Any]:
        expires = self.rt.clock.now() + timedelta(minutes=15)
        return {"uri": f"{links_base}{REDIRECT_PAGE}{reference}", "uri_type": "WEB_URI", "expires_at": iso(expires)}

    @staticmethod
    def _passkey(reference: str, card: dict[str, Any], action: str, links_base: str) -> dict[str, Any]:
        return {
            "endpoint": f"{links_base}{PASSKEY_PAGE}?identifier={reference}", "identifier": reference,
            "action": action, "platform_type": "WEB",
            "display_context": {"card_last4": card["last4"], "card_brand": card["brand"]},
        }

    # -- instructions ------------------------------------------------------------------

    def create_instruction(self, tenant: str, agent_id: str, body: InstructionCreate) -> Instruction:
        self.agent(tenant, agent_id)
        enrollment = self.rt.store.get(self._space(tenant), "enrollment", body.enrollment_id)
        if enrollment is None:
            raise _unprocessable(f"Enrollment {body.enrollment_id} not found.")
        if enrollment.status != "active":
            raise _unprocessable(f"The enrollment is {enrollment.status}; instructions need an active one.", status=enrollment.status)
        expires = body.expires_at
        if expires.timestamp() <= self.rt.clock.timestamp():
            raise invalid_field("expires_at", "The expires_at must be in the future.")
        status = "pending_verification" if enrollment.type == "agentic" else "approved"
        instruction = Instruction(
            self.rt.ids.uuid(tenant, "instruction"), agent_id, enrollment.id, body.amount.model_dump(), body.description,
            iso(expires), expires.timestamp(), status, enrollment.type, self._now(),
            recurring=body.recurring.model_dump() if body.recurring else None,
            credential_type="spt" if enrollment.type == "spt" else "card",
        )
        self.rt.store.put(self._space(tenant), "instruction", instruction.id, instruction)
        self.hooks.emit(tenant, "agentic.instruction.created", "instruction", instruction.to_wire())
        return instruction

    def instruction(self, tenant: str, agent_id: str, instruction_id: str) -> Instruction:
        instruction = self._get(tenant, "instruction", instruction_id, "Instruction")
        if instruction.agent_id != agent_id or self.rt.store.get(self._space(tenant), "agent", agent_id) is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Instruction {instruction_id} not found")
        if instruction.status not in ("expired", "cancelled") and self.rt.clock.timestamp() >= instruction.expires_ts:
            instruction.status = "expired"
        return instruction

    def instructions(self, tenant: str, agent_id: str, limit: int, cursor: str | None, enrollment_id: str | None) -> Page:
        self.agent(tenant, agent_id)

        def mine(instruction: Instruction) -> bool:
            return instruction.agent_id == agent_id and enrollment_id in (None, instruction.enrollment_id)

        page = self.page(tenant, "instruction", limit, cursor, mine)
        for instruction in page.items:
            self.instruction(tenant, agent_id, instruction.id)  # read-time expiry
        return page

    def update_instruction(self, tenant: str, agent_id: str, instruction_id: str, body: InstructionUpdate) -> Instruction:
        instruction = self.instruction(tenant, agent_id, instruction_id)
        if body.amount is not None:
            if instruction.status == "approved" and Decimal(body.amount.value) > Decimal(instruction.amount["value"]):
                instruction.status = "pending_verification"  # a higher amount needs the cardholder again
                instruction.extra.pop("verification", None)
            instruction.amount = body.amount.model_dump()
        if body.description is not None:
            instruction.description = body.description
        if body.expires_at is not None:
            if body.expires_at.timestamp() <= self.rt.clock.timestamp():
                raise invalid_field("expires_at", "The expires_at must be in the future.")
            instruction.expires_at, instruction.expires_ts = iso(body.expires_at), body.expires_at.timestamp()
        return instruction

    def delete_instruction(self, tenant: str, agent_id: str, instruction_id: str) -> None:
        self.instruction(tenant, agent_id, instruction_id)
        self.rt.store.delete(self._space(tenant), "instruction", instruction_id)

    def verify_instruction(self, tenant: str, agent_id: str, instruction_id: str, links_base: str) -> dict[str, Any]:
        external = self.rt.instructions.find(tenant, agent_id, instruction_id)
        if external is not None:  # a Crossmint order intent's instruction
            answer = external.verify("START", {}, links_base + PASSKEY_PAGE)
            return _platform_answer(answer, instruction_id, links_base)
        instruction = self.instruction(tenant, agent_id, instruction_id)
        if instruction.status != "pending_verification":
            raise _unprocessable(f"The instruction is {instruction.status}; only pending_verification ones are verified.", status=instruction.status)
        enrollment = self.enrollment(tenant, instruction.enrollment_id)
        outcome = enrollment.profile.instruction
        if outcome == "verified":
            instruction.status = "approved"
            self.hooks.emit(tenant, "agentic.instruction.approved", "instruction", instruction.to_wire())
            return {"status": "verified"}
        instruction.extra["verification"] = outcome
        if outcome == "redirect_required":
            return {"status": "redirect_required", "brand": "mastercard", "redirect": self._redirect(instruction.id, links_base)}
        return {"status": "passkey_required", "passkey_context": self._passkey(instruction.id, enrollment.card, "AUTHENTICATE", links_base)}

    def verify_passkey(self, tenant: str, agent_id: str, instruction_id: str) -> Instruction | dict[str, Any]:
        external = self.rt.instructions.find(tenant, agent_id, instruction_id)
        if external is not None:
            action = "MASTERCARD_AUTH_COMPLETE" if external.describe()["brand"] == "MASTERCARD" else "AUTHENTICATE_PASSKEY"
            answer = external.verify(action, {}, PASSKEY_PAGE)
            if answer.body.get("status") != "VERIFIED":
                raise _unprocessable("The instruction's verification did not succeed.", status=answer.body.get("status"))
            return external.describe()
        instruction = self.instruction(tenant, agent_id, instruction_id)
        if instruction.status != "pending_verification" or "verification" not in instruction.extra:
            raise _unprocessable("Start the instruction's verification (verify) before verify/passkey.", status=instruction.status)
        instruction.status = "approved"
        self.hooks.emit(tenant, "agentic.instruction.approved", "instruction", instruction.to_wire())
        return instruction

    def credentials(self, tenant: str, agent_id: str, instruction_id: str, body: CredentialsCreate) -> dict[str, Any]:
        instruction = self.instruction(tenant, agent_id, instruction_id)
        if instruction.status != "approved":
            raise _unprocessable(f"Credentials need an approved instruction; this one is {instruction.status}.", status=instruction.status)
        if instruction.credential_type == "card" and body.merchant is None:
            raise invalid_field("merchant", "The merchant is required for card instructions.")
        asked = Decimal(body.amount.value) if body.amount else sum((Decimal(str(p.price)) * p.quantity for p in body.products or ()), Decimal(0))
        limit = Decimal(instruction.amount["value"])
        if asked > limit:
            raise _unprocessable(f"The amount {asked} is above the instruction's amount {limit}.", amount=str(asked), limit=str(limit))
        enrollment = self.enrollment(tenant, instruction.enrollment_id)
        if enrollment.status != "active":
            raise _unprocessable(f"The enrollment is {enrollment.status}; credentials need an active one.", status=enrollment.status)
        now = self.rt.clock.now()
        expires = min(now + timedelta(minutes=30), datetime.fromtimestamp(instruction.expires_ts, timezone.utc))
        if instruction.credential_type == "spt":
            return {"spt": {"id": "spt_" + self.rt.ids.alnum(tenant, "spt", 24)}, "expires_at": iso(expires)}
        card = {"number": MOCK_PAN_PREFIX + enrollment.card["last4"], "expiration_month": now.month, "expiration_year": now.year + 3,
                "cvc": self.rt.ids.digits(tenant, "cvc", 3)}
        # The event names the instruction, never the card.
        self.hooks.emit(tenant, "agentic.credentials.created", "instruction", instruction.to_wire())
        return {"card": card, "expires_at": iso(expires)}
