"""Instructions that one provider owns and another verifies, met through the runtime.

Crossmint order intents are backed by Basis Theory instructions (`ins_bt…`, under the BT
agent `agt_bt…` and the public key of `verificationConfig`). Crossmint registers a verifier
for each; Basis Theory's platform routes consult the registry for ids they do not hold. Neither
provider imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (action, payload, links_base) -> the verification answer {"status", "data", …}
Verifier = Callable[[str, dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ExternalInstruction:
    agent_id: str
    api_key: str  # the key a Basis Theory client uses for it (verificationConfig.publicApiKey)
    verify: Verifier
    describe: Callable[[], dict[str, Any]]  # the instruction as Basis Theory shows it


class InstructionRegistry:
    def __init__(self) -> None:
        self._instructions: dict[str, ExternalInstruction] = {}

    def register(self, instruction_id: str, instruction: ExternalInstruction) -> None:
        self._instructions[instruction_id] = instruction

    def find(self, api_key: str, agent_id: str, instruction_id: str) -> ExternalInstruction | None:
        found = self._instructions.get(instruction_id)
        return found if found and found.api_key == api_key and found.agent_id == agent_id else None
