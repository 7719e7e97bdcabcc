"""What changed since the last commit: (key, value) pairs a durable backend writes in one go.

A key names one piece of state (`o` objects, `e` events, `d` deliveries, ...: see `state.py`);
its value is the piece pickled, or None for "gone". A backend keeps the pairs in the order keys
first appeared, so state that is ordered (objects, events, deliveries) comes back in order.
Within one commit, the last write of a key wins.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import orjson

Change = tuple[str, bytes | None]


def state_key(kind: str, *parts: Any) -> str:
    """`kind` then the parts as a JSON array: no separator a tenant's name could fake."""
    return kind + orjson.dumps(parts).decode()


def key_parts(key: str) -> tuple[str, list[Any]]:
    return key[0], orjson.loads(key[1:]) if len(key) > 1 else []


def to_bytes(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def from_bytes(data: bytes) -> Any:
    return pickle.loads(data)  # noqa: S301 - the sandbox's own state, written by itself


class Journal:
    """Changes waiting for the next commit. Sources (the parts of the runtime that track what they
    touched rather than record each write) add theirs when the commit takes them."""

    def __init__(self) -> None:
        self._changes: dict[str, bytes | None] = {}
        self._sources: list[Callable[[Journal], None]] = []
        self._muted = 0

    def add_source(self, source: Callable[[Journal], None]) -> None:
        self._sources.append(source)

    def put(self, key: str, value: Any) -> None:
        if not self._muted:
            self._changes[key] = to_bytes(value)

    def put_bytes(self, key: str, data: bytes) -> None:
        if not self._muted:
            self._changes[key] = data

    def delete(self, key: str) -> None:
        if not self._muted:
            self._changes[key] = None

    def take(self) -> list[Change]:
        for source in self._sources:
            source(self)
        changes = list(self._changes.items())
        self._changes.clear()
        return changes

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """State put back from the backend is not a change to write again."""
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1
