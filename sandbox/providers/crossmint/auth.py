"""`X-API-KEY` (and, optionally, the user's `Authorization: Bearer <JWT>`).

A key `ck_staging_<project>` or `sk_staging_<project>` names the project, which is the tenant;
client and server keys of one project share it. Resources belong to a user: the JWT's `sub`
when a token is sent (as Crossmint's own quickstarts do), otherwise the key's default user, so
the seed's curl (key only) works too. The default user is the empty name, which no token can
take (a `sub` must not be empty), so a JWT never sees what key-only callers made. Signatures of
keys and tokens are never checked.
"""

from __future__ import annotations

import re

from aiohttp import web

from sandbox.core.api import PRINCIPAL
from sandbox.core.errors import ErrorKind, SandboxError

KEY = re.compile(r"(ck|sk)_(staging|development|production)_([A-Za-z0-9_\-]{1,200})")
DEFAULT_USER = ""  # key-only callers: a JWT's sub is never empty, so no token acts for them
_PROJECT = re.compile(r"^(?:ck|sk)_[a-z]+_(.+)$")


def _unauthorized(message: str, code: str | None = None) -> SandboxError:
    return SandboxError(ErrorKind.UNAUTHENTICATED, message, code=code)


def tenant_of(request: web.Request) -> str | None:
    """The project a request's key names, before it is checked (for tenant-scoped scenario rules)."""
    return project_of_key(request.headers.get("X-API-KEY", ""))


def project_of_key(key: str) -> str | None:
    match = _PROJECT.match(key)
    return match.group(1) if match else None


def authenticate(request: web.Request) -> str:
    key = request.headers.get("X-API-KEY", "").strip()
    if not key:
        raise _unauthorized("Missing X-API-KEY header; send a ck_staging_… or sk_staging_… key")
    match = KEY.fullmatch(key)
    if match is None:
        raise _unauthorized("Invalid API key; sandbox keys look like ck_staging_<project> or sk_staging_<project>")
    if match.group(2) == "production":
        raise _unauthorized("This is the Crossmint sandbox: it only accepts staging (or development) keys, not production keys")
    request[PRINCIPAL] = _user(request)
    return match.group(3)


def _user(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        return DEFAULT_USER
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Authorization must be `Bearer <JWT>`", "ERROR_JWT_INVALID")
    import jwt  # PyJWT and cryptography (~25 ms to import): paid by the first token, not by every start

    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False, "verify_exp": True})
    except jwt.ExpiredSignatureError:
        raise _unauthorized("JWT expired", "ERROR_JWT_EXPIRED") from None
    except (jwt.PyJWTError, UnicodeError) as exc:  # a header byte that is not text is a bad token too
        raise _unauthorized(f"Invalid JWT: {exc}", "ERROR_JWT_INVALID") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _unauthorized("JWT has no sub (user identifier) claim", "ERROR_JWT_IDENTIFIER_ERROR")
    return subject


def user(request: web.Request) -> str:
    return request[PRINCIPAL]
