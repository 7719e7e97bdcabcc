"""Lifecycles as tables: each action names the states it starts from, where it leads and the
event it records. Providers declare their table once; nothing else sets a state by hand."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sandbox.core.errors import SandboxError


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[str]
    target: str
    event: str | None  # the event to record; None when the provider announces nothing
    verb: str = ""  # for refusals: "cannot <verb> …"


def transition(sources: str, target: str, event: str | None, verb: str = "") -> Transition:
    """`sources` is a space-separated list of states."""
    return Transition(frozenset(sources.split()), target, event, verb)


Refusal = Callable[[Any, Transition], SandboxError]
A = TypeVar("A", bound=Hashable)  # a provider's actions


class Machine(Generic[A]):
    def __init__(self, table: Mapping[A, Transition], *, state: str, refuse: Refusal) -> None:
        self.table = table
        self._state = state  # the attribute holding the object's state
        self._refuse = refuse

    def can(self, obj: Any, action: A) -> bool:
        return getattr(obj, self._state) in self.table[action].sources

    def check(self, obj: Any, action: A) -> Transition:
        """The transition for `action`, or the provider's refusal (a 409) when the state forbids it."""
        if not self.can(obj, action):
            raise self._refuse(obj, self.table[action])
        return self.table[action]

    def apply(self, obj: Any, action: A) -> str | None:
        """Move the object; returns the event type to record, if any."""
        move = self.check(obj, action)
        setattr(obj, self._state, move.target)
        return move.event
