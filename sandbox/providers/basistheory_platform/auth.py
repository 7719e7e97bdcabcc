"""`BT-API-KEY: key_test_…`: any test key works and is its own tenant."""

from __future__ import annotations

import re

from aiohttp import web

from sandbox.core.errors import ErrorKind, SandboxError

KEY = re.compile(r"key_test_[A-Za-z0-9_\-]{1,200}")


def tenant_of(request: web.Request) -> str | None:
    """The key a request carries, before it is checked (for tenant-scoped scenario rules)."""
    return request.headers.get("BT-API-KEY") or None


def authenticate(request: web.Request) -> str:
    key = request.headers.get("BT-API-KEY", "").strip()
    if not KEY.fullmatch(key):
        reason = "Missing BT-API-KEY header" if not key else "Only test keys (key_test_…) are accepted by the sandbox"
        raise SandboxError(ErrorKind.UNAUTHENTICATED, reason)
    return key
