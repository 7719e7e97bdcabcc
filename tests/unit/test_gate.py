"""Turns (`core/persistence/gate.py`): a failed commit is a store error, and the next turn starts
from the backend's state rather than from what this process holds."""

from __future__ import annotations

import pytest
from sandbox.core.persistence import Persistence
from sandbox.core.persistence.gate import BackendUnavailable
from sandbox.core.persistence.journal import Change
from sandbox.core.runtime import Runtime
from sandbox.core.settings import CoreSettings
from sandbox.core.store import Space

SPACE = Space("acme", "t1")


class FlakyBackend:
    """A shared backend in memory whose next commit fails when told to."""

    shared = True
    process = "test"

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.fail_next = False
        self.snapshots = 0

    def describe(self) -> str:
        return "flaky"

    async def open(self) -> list[Change]:
        return []

    async def acquire(self) -> list[Change] | None:
        return []

    async def snapshot(self) -> list[Change]:
        self.snapshots += 1
        return list(self.state.items())

    async def commit(self, changes: list[Change]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the store went away")
        for key, value in changes:
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value

    async def release(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_a_failed_commit_is_a_store_error_and_the_next_turn_takes_the_backends_state():
    runtime = Runtime.build(CoreSettings(store="flaky"))
    backend = FlakyBackend()
    persistence = Persistence(runtime, backend)
    await persistence.start(lambda resumed: None)
    async with persistence.gate.turn():
        runtime.store.put(SPACE, "thing", "kept", {"n": 1})
    backend.fail_next = True
    with pytest.raises(BackendUnavailable, match="did not take a commit"):
        async with persistence.gate.turn():
            runtime.store.put(SPACE, "thing", "lost", {"n": 2})
    assert runtime.store.get(SPACE, "thing", "lost") == {"n": 2}  # held here, never stored
    async with persistence.gate.turn():
        assert runtime.store.get(SPACE, "thing", "lost") is None  # the backend's state again
        assert runtime.store.get(SPACE, "thing", "kept") == {"n": 1}
    assert backend.snapshots == 1
