"""Instructions that one provider owns and another serves, met through the runtime.

A provider whose objects are verified through another provider's instruction endpoints
registers one resolver at start-up; the serving provider asks the seam for ids it does not
hold itself. The resolver reads the owner's store, so the seam keeps no per-object state.
Neither provider imports the other.

What the serving provider does with an id it resolves: it reads the instruction (`describe`),
starts its verification and finishes it (`verify`), each only for the client holding the
instruction's own key and agent (`find`). Nothing else: an instruction another provider owns
is updated, deleted and spent through its owner's own API, and the seam resolves ids one at a
time, so the serving provider cannot list an owner's instructions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.core.verification import Answer

# (action, payload, passkey page URL) -> the ceremony's answer
Verifier = Callable[[str, dict[str, Any], str], Answer]


@dataclass(frozen=True, slots=True)
class ExternalInstruction:
    id: str
    agent_id: str
    api_key: str  # the key a client of the serving provider uses for it
    brand: str | None  # the card network whose ceremony verifies it
    verify: Verifier
    # The instruction as the serving provider shows it, in that provider's words: `status` at
    # least, and any of its instruction fields the owner knows (amount, description, expiry,
    # creation time, …); the serving provider fills in the rest. Read at the time of the call.
    describe: Callable[[], dict[str, Any]]


Resolver = Callable[[str], ExternalInstruction | None]


class InstructionSeam:
    def __init__(self) -> None:
        self._resolvers: list[Resolver] = []

    def provide(self, resolver: Resolver) -> None:
        self._resolvers.append(resolver)

    def get(self, instruction_id: str) -> ExternalInstruction | None:
        """Any owner's instruction, for the operator side."""
        for resolver in self._resolvers:
            found = resolver(instruction_id)
            if found is not None:
                return found
        return None

    def find(self, api_key: str, agent_id: str, instruction_id: str) -> ExternalInstruction | None:
        """The instruction as a client sees it: only with its own key and agent."""
        found = self.get(instruction_id)
        return found if found and found.api_key == api_key and found.agent_id == agent_id else None

    def __len__(self) -> int:
        return len(self._resolvers)
