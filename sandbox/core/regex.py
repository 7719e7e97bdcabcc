"""Regular expressions that run in linear time (RE2), for patterns or inputs a caller controls."""

from __future__ import annotations

import functools
from typing import Any

import re2

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the caller's 400, not a line on stderr


@functools.lru_cache(maxsize=1024)
def linear_regex(pattern: str) -> Any:
    """RE2: matching time is linear in the input, so no pattern can stall the event loop."""
    if not isinstance(pattern, str):
        raise TypeError("a regex is a string")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise re2.error(f"{message} (RE2 syntax: no backreferences or lookarounds)") from None


__all__ = ["linear_regex", "re2"]
