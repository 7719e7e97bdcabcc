"""Basis Theory platform operations, as the routes call them: card tokens, agents, enrollments and
their verification, instructions and their verification, credentials. The tenant is the API key.

Each concern lives in its own module; this class binds them to one runtime and decides who owns
an instruction (this platform, or another provider through the runtime's instruction seam).
Statuses change only through `machine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.core.runtime import Runtime
from sandbox.core.scheduler import Timer
from sandbox.core.store import Page
from sandbox.providers.basistheory_platform import agents, credentials, enrollments, external, instructions, tokens
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.models import (
    Agent,
    AgentCreate,
    AgentUpdate,
    CredentialsCreate,
    Enrollment,
    EnrollmentCreate,
    Instruction,
    InstructionCreate,
    InstructionUpdate,
    Token,
    TokenCreate,
)


class BasisTheoryPlatformService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.ctx = Context(runtime)
        self.hooks = self.ctx.hooks

    def on_timer(self, timer: Timer) -> None:
        """An instruction's `expires_at` was reached: it expires unread."""
        instructions.on_timer(self.ctx, timer)

    def _tenant_id(self, tenant: str) -> str:
        return self.ctx.tenant_id(tenant)

    def page(self, tenant: str, kind: str, limit: int, cursor: str | None, where: Callable[[Any], bool] | None = None) -> Page:
        return self.ctx.page(tenant, kind, limit, cursor, where)

    # -- tokens ------------------------------------------------------------------------

    def create_token(self, tenant: str, body: TokenCreate) -> Token:
        return tokens.create(self.ctx, tenant, body)

    def token(self, tenant: str, token_id: str) -> Token:
        return tokens.get(self.ctx, tenant, token_id)

    def delete_token(self, tenant: str, token_id: str) -> None:
        tokens.delete(self.ctx, tenant, token_id)

    # -- agents ------------------------------------------------------------------------

    def create_agent(self, tenant: str, body: AgentCreate) -> Agent:
        return agents.create(self.ctx, tenant, body)

    def agent(self, tenant: str, agent_id: str) -> Agent:
        return agents.get(self.ctx, tenant, agent_id)

    def update_agent(self, tenant: str, agent_id: str, body: AgentUpdate) -> Agent:
        return agents.update(self.ctx, tenant, agent_id, body)

    def delete_agent(self, tenant: str, agent_id: str) -> None:
        agents.delete(self.ctx, tenant, agent_id)

    # -- enrollments -------------------------------------------------------------------

    def create_enrollment(self, tenant: str, body: EnrollmentCreate) -> Enrollment:
        return enrollments.create(self.ctx, tenant, body)

    def enrollment(self, tenant: str, enrollment_id: str) -> Enrollment:
        return enrollments.get(self.ctx, tenant, enrollment_id)

    def delete_enrollment(self, tenant: str, enrollment_id: str) -> None:
        enrollments.delete(self.ctx, tenant, enrollment_id)

    def retry_enrollment(self, tenant: str, enrollment_id: str) -> Enrollment:
        return enrollments.retry(self.ctx, tenant, enrollment_id)

    def verify_enrollment(self, tenant: str, enrollment_id: str, action: str, value: str | None, links_base: str) -> dict[str, Any]:
        return enrollments.verify(self.ctx, tenant, enrollment_id, action, value, links_base)

    # -- instructions ------------------------------------------------------------------

    def create_instruction(self, tenant: str, agent_id: str, body: InstructionCreate) -> Instruction:
        return instructions.create(self.ctx, tenant, agent_id, body)

    def instruction(self, tenant: str, agent_id: str, instruction_id: str) -> Instruction:
        return instructions.get(self.ctx, tenant, agent_id, instruction_id)

    def instructions(self, tenant: str, agent_id: str, limit: int, cursor: str | None, enrollment_id: str | None) -> Page:
        return instructions.page(self.ctx, tenant, agent_id, limit, cursor, enrollment_id)

    def update_instruction(self, tenant: str, agent_id: str, instruction_id: str, body: InstructionUpdate) -> Instruction:
        return instructions.update(self.ctx, tenant, agent_id, instruction_id, body)

    def delete_instruction(self, tenant: str, agent_id: str, instruction_id: str) -> None:
        instructions.delete(self.ctx, tenant, agent_id, instruction_id)

    # Another provider's instruction (a Crossmint order intent's) is read and verified here too:
    # its owner, found with the caller's key and agent, describes it and runs the ceremony.

    def read_instruction(self, tenant: str, agent_id: str, instruction_id: str) -> dict[str, Any]:
        """`GET …/instructions/{id}`: the platform's own instruction, or another provider's."""
        owned = self.rt.instructions.find(tenant, agent_id, instruction_id)
        if owned is not None:
            return external.instruction(owned)
        return instructions.get(self.ctx, tenant, agent_id, instruction_id).to_wire()

    def verify_instruction(self, tenant: str, agent_id: str, instruction_id: str, links_base: str) -> dict[str, Any]:
        owned = self.rt.instructions.find(tenant, agent_id, instruction_id)
        if owned is not None:
            return external.verify(owned, instruction_id, links_base)
        return instructions.verify(self.ctx, tenant, agent_id, instruction_id, links_base)

    def verify_passkey(self, tenant: str, agent_id: str, instruction_id: str) -> Instruction | dict[str, Any]:
        owned = self.rt.instructions.find(tenant, agent_id, instruction_id)
        if owned is not None:
            return external.verify_passkey(owned)
        return instructions.verify_passkey(self.ctx, tenant, agent_id, instruction_id)

    def credentials(self, tenant: str, agent_id: str, instruction_id: str, body: CredentialsCreate) -> dict[str, Any]:
        return credentials.issue(self.ctx, tenant, agent_id, instruction_id, body)
