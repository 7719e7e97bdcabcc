"""Instructions: what an agent may spend with an enrollment's card, and their verification.

The status moves only through the machine; an instruction whose expires_at has passed is found
expired when next read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.core.scheduler import Timer
from sandbox.core.store import Page
from sandbox.providers.basistheory_platform import agents, ceremony, enrollments
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.errors import unprocessable
from sandbox.providers.basistheory_platform.events import PROVIDER
from sandbox.providers.basistheory_platform.machine import INSTRUCTIONS, InstructionAction
from sandbox.providers.basistheory_platform.models import Enrollment, Instruction, InstructionCreate, InstructionUpdate


def create(ctx: Context, tenant: str, agent_id: str, body: InstructionCreate) -> Instruction:
    agents.get(ctx, tenant, agent_id)
    enrollment: Enrollment | None = ctx.find(tenant, "enrollment", body.enrollment_id)
    if enrollment is None:
        raise unprocessable(f"Enrollment {body.enrollment_id} not found.")
    if enrollment.status != "active":
        raise unprocessable(f"The enrollment is {enrollment.status}; instructions need an active one.", status=enrollment.status)
    expires = body.expires_at
    if expires.timestamp() <= ctx.rt.clock.timestamp():
        raise invalid_field("expires_at", "The expires_at must be in the future.")
    # An agentic card's instructions need the cardholder; autofill and SPT ones are approved at once.
    status = "pending_verification" if enrollment.type == "agentic" else "approved"
    instruction = Instruction(
        ctx.ids.uuid(tenant, "instruction"), agent_id, enrollment.id, body.amount.model_dump(), body.description,
        iso(expires), expires.timestamp(), status, enrollment.type, ctx.now(),
        recurring=body.recurring.model_dump() if body.recurring else None,
        credential_type="spt" if enrollment.type == "spt" else "card",
    )
    ctx.put(tenant, "instruction", instruction.id, instruction)
    ctx.hooks.emit(tenant, "agentic.instruction.created", "instruction", instruction.to_wire())
    ctx.rt.scheduler.at(instruction.expires_ts, PROVIDER, tenant, "instruction", instruction.id)
    return instruction


def get(ctx: Context, tenant: str, agent_id: str, instruction_id: str) -> Instruction:
    """The agent's own instruction (another agent's is not found), expired if its time has passed."""
    instruction: Instruction = ctx.get(tenant, "instruction", instruction_id, "Instruction")
    if instruction.agent_id != agent_id or ctx.find(tenant, "agent", agent_id) is None:
        raise SandboxError(ErrorKind.NOT_FOUND, f"Instruction {instruction_id} not found")
    expire_if_due(ctx, instruction)
    return instruction


def expire_if_due(ctx: Context, instruction: Instruction) -> None:
    """On read, and from the scheduler at `expires_at` (a PATCH that moves it adds a timer)."""
    if INSTRUCTIONS.can(instruction, InstructionAction.EXPIRE) and ctx.rt.clock.timestamp() >= instruction.expires_ts:
        INSTRUCTIONS.apply(instruction, InstructionAction.EXPIRE)  # announced by no event


def on_timer(ctx: Context, timer: Timer) -> None:
    instruction: Instruction | None = ctx.find(timer.tenant, "instruction", timer.obj_id)
    if instruction is not None:
        expire_if_due(ctx, instruction)


def page(ctx: Context, tenant: str, agent_id: str, limit: int, cursor: str | None, enrollment_id: str | None) -> Page:
    agents.get(ctx, tenant, agent_id)

    def mine(instruction: Instruction) -> bool:
        return instruction.agent_id == agent_id and enrollment_id in (None, instruction.enrollment_id)

    found = ctx.page(tenant, "instruction", limit, cursor, mine)
    for instruction in found.items:
        get(ctx, tenant, agent_id, instruction.id)  # read-time expiry
    return found


def update(ctx: Context, tenant: str, agent_id: str, instruction_id: str, body: InstructionUpdate) -> Instruction:
    """A PATCH: only the fields sent change."""
    instruction = get(ctx, tenant, agent_id, instruction_id)
    if body.expires_at is not None and body.expires_at.timestamp() <= ctx.rt.clock.timestamp():
        raise invalid_field("expires_at", "The expires_at must be in the future.")  # before anything changes
    if body.amount is not None:
        raised = Decimal(body.amount.value) > Decimal(instruction.amount["value"])
        if raised and INSTRUCTIONS.can(instruction, InstructionAction.RAISE_AMOUNT):
            INSTRUCTIONS.apply(instruction, InstructionAction.RAISE_AMOUNT)  # announced by no event
            instruction.extra.pop("verification", None)  # the earlier ceremony covered the lower amount
        instruction.amount = body.amount.model_dump()
    if body.description is not None:
        instruction.description = body.description
    if body.expires_at is not None:
        instruction.expires_at, instruction.expires_ts = iso(body.expires_at), body.expires_at.timestamp()
        ctx.rt.scheduler.at(instruction.expires_ts, PROVIDER, tenant, "instruction", instruction.id)
    return instruction


def delete(ctx: Context, tenant: str, agent_id: str, instruction_id: str) -> None:
    get(ctx, tenant, agent_id, instruction_id)
    ctx.delete(tenant, "instruction", instruction_id)


def verify(ctx: Context, tenant: str, agent_id: str, instruction_id: str, links_base: str) -> dict[str, Any]:
    """Start the cardholder's verification; some magic cards approve at once."""
    instruction = get(ctx, tenant, agent_id, instruction_id)
    INSTRUCTIONS.check(instruction, InstructionAction.APPROVE)  # only a pending_verification one
    enrollment = _active_enrollment(ctx, tenant, instruction)
    outcome = enrollment.profile.instruction
    if outcome == "verified":
        _approve(ctx, tenant, instruction)
        return {"status": "verified"}
    instruction.extra["verification"] = outcome  # started: verify/passkey may now finish it
    if outcome == "redirect_required":
        return {"status": "redirect_required", "brand": "mastercard", "redirect": ceremony.redirect(ctx.rt, instruction.id, links_base)}
    return {"status": "passkey_required", "passkey_context": ceremony.passkey(instruction.id, enrollment.card, "AUTHENTICATE", links_base)}


def verify_passkey(ctx: Context, tenant: str, agent_id: str, instruction_id: str) -> Instruction:
    """Finish a verification that verify started (a passkey or the Mastercard redirect)."""
    instruction = get(ctx, tenant, agent_id, instruction_id)
    if not INSTRUCTIONS.can(instruction, InstructionAction.APPROVE) or "verification" not in instruction.extra:
        raise unprocessable("Start the instruction's verification (verify) before verify/passkey.", status=instruction.status)
    _active_enrollment(ctx, tenant, instruction)
    _approve(ctx, tenant, instruction)
    return instruction


def _active_enrollment(ctx: Context, tenant: str, instruction: Instruction) -> Enrollment:
    """The instruction's enrollment, which must be active to verify it (not suspended, nor deleted)."""
    enrollment = enrollments.get(ctx, tenant, instruction.enrollment_id)
    if enrollment.status != "active":
        raise unprocessable(f"The enrollment is {enrollment.status}; verifying an instruction needs an active one.",
                            status=enrollment.status)
    return enrollment


def _approve(ctx: Context, tenant: str, instruction: Instruction) -> None:
    ctx.record(tenant, INSTRUCTIONS.apply(instruction, InstructionAction.APPROVE), "instruction", instruction)
