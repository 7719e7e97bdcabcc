"""Agents: who places order intents, each backed by a Basis Theory agent for verification."""

from __future__ import annotations

from sandbox.core.clock import iso
from sandbox.providers.crossmint.models import Agent, AgentBody
from sandbox.providers.crossmint.records import Records

KIND = "agent"


class Agents:
    def __init__(self, records: Records) -> None:
        self.records = records

    def create(self, project: str, user: str, body: AgentBody) -> Agent:
        ids = self.records.ids
        agent = Agent(
            ids.uuid(project, "agent"), body.metadata.model_dump(exclude_none=True), iso(self.records.now()),
            bt_agent_id="agt_bt" + ids.alnum(project, "bt_agent", 30),
        )
        self.records.put(project, user, KIND, agent.id, agent)
        return agent

    def all(self, project: str, user: str) -> list[Agent]:
        return self.records.all(project, user, KIND)

    def get(self, project: str, user: str, agent_id: str) -> Agent:
        return self.records.get(project, user, KIND, agent_id, "Agent")

    def exists(self, project: str, user: str, agent_id: str) -> bool:
        return self.records.find(project, user, KIND, agent_id) is not None

    def update(self, project: str, user: str, agent_id: str, body: AgentBody) -> Agent:
        agent = self.get(project, user, agent_id)
        agent.metadata = body.metadata.model_dump(exclude_none=True)
        return agent

    def delete(self, project: str, user: str, agent_id: str) -> None:
        """Permanent: the agent's order intents stop working (their credentials are refused)."""
        self.get(project, user, agent_id)
        self.records.delete(project, user, KIND, agent_id)
