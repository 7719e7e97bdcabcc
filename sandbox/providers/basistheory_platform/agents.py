"""Agents: who acts on a cardholder's enrollments and holds their instructions."""

from __future__ import annotations

from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.models import Agent, AgentCreate, AgentUpdate


def create(ctx: Context, tenant: str, body: AgentCreate) -> Agent:
    details = body.instance_details.model_dump(exclude_none=True) if body.instance_details else None
    agent = Agent(ctx.ids.uuid(tenant, "agent"), body.name, list(body.enrollment_ids or []), details, ctx.now())
    ctx.put(tenant, "agent", agent.id, agent)
    return agent


def get(ctx: Context, tenant: str, agent_id: str) -> Agent:
    return ctx.get(tenant, "agent", agent_id, "Agent")


def update(ctx: Context, tenant: str, agent_id: str, body: AgentUpdate) -> Agent:
    """A PATCH: only the fields sent change."""
    agent = get(ctx, tenant, agent_id)
    if body.name is not None:
        agent.name = body.name
    if body.enrollment_ids is not None:
        agent.enrollment_ids = list(body.enrollment_ids)
    if body.instance_details is not None:
        agent.instance_details = body.instance_details.model_dump(exclude_none=True)
    return agent


def delete(ctx: Context, tenant: str, agent_id: str) -> None:
    get(ctx, tenant, agent_id)
    ctx.delete(tenant, "agent", agent_id)
