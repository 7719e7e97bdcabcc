"""`Authorization: Bearer din_test_…`: any test key works and is its own tenant."""

from __future__ import annotations

import re

from aiohttp import web

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.store import Space, Store

KEY = re.compile(r"din_(test|live)_[A-Za-z0-9_\-]{1,200}")
REVOKED_KIND = "revoked_api_key"


def _unauthenticated(message: str) -> SandboxError:
    return SandboxError(ErrorKind.UNAUTHENTICATED, message, headers={"WWW-Authenticate": 'Bearer realm="dino"'})


def key_space(key: str) -> Space:
    return Space("dino", key)


def tenant_of(request: web.Request) -> str | None:
    """The key a request carries, before it is checked (for scenario rules scoped to a tenant)."""
    _, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if key.strip().startswith("din_") else None


def authenticator(store: Store):
    def authenticate(request: web.Request) -> str:
        header = request.headers.get("Authorization")
        if not header:
            raise _unauthenticated("Missing Authorization header; send `Authorization: Bearer din_test_…`")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _unauthenticated("Malformed Authorization header; expected `Bearer din_test_…`")
        match = KEY.fullmatch(key)
        if match is None:
            raise _unauthenticated("Invalid API key; sandbox keys look like din_test_<anything>")
        if match.group(1) == "live":
            raise _unauthenticated(
                "This is the Dino sandbox: it only accepts test keys (din_test_…); din_live_ keys work only against api.dino.id"
            )
        if store.get(key_space(key), REVOKED_KIND, key) is not None:
            raise SandboxError(ErrorKind.FORBIDDEN, "This API key has been revoked")
        return key

    return authenticate
