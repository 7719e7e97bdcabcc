"""Who owns a path: the value of its longest matching prefix (a provider, an error style)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_SEGMENTS = 4096  # answers kept: a client may send any number of distinct first segments


class PrefixMap(Generic[T]):
    """A prefix is one segment, `/name` or `/name/`, so a path's first segment (with its slash)
    decides its owner: the answer is looked up once per segment, not by a scan per request."""

    def __init__(self) -> None:
        self._prefixes: list[tuple[str, T]] = []
        self._by_segment: dict[str, T | None] = {}

    def add(self, prefixes: Iterable[str], value: T) -> None:
        prefixes = list(prefixes)
        if any(not prefix.startswith("/") or "/" in prefix[1:-1] for prefix in prefixes):
            raise ValueError(f"a path prefix is one segment, `/name` or `/name/`: {prefixes}")
        self._prefixes.extend((prefix, value) for prefix in prefixes)
        self._prefixes.sort(key=lambda item: -len(item[0]))  # the longest prefix wins
        self._by_segment.clear()

    def owner(self, path: str) -> T | None:
        end = path.find("/", 1)
        segment = path if end < 0 else path[:end + 1]
        try:
            return self._by_segment[segment]
        except KeyError:
            pass
        found = next((value for prefix, value in self._prefixes if _same_segment(segment, prefix)), None)
        if len(self._by_segment) >= MAX_SEGMENTS:
            self._by_segment.clear()
        self._by_segment[segment] = found
        return found


def _same_segment(segment: str, prefix: str) -> bool:
    """`/things` owns `/things` and `/things/…`, never `/things-x`; `/things/` owns `/things/…` only."""
    return segment == prefix or (not prefix.endswith("/") and segment == prefix + "/")
