"""`Authorization: Bearer <JWT>` for Basis Theory AI.

The project in the path is the tenant and must equal the token's `iss`; the entity a request
acts for must equal its `sub`. By default the signature is not checked, so any token with the
right claims works; configuring a JWKS or a public key turns strict verification on.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.core.api import PRINCIPAL
from sandbox.core.errors import ConfigError, ErrorKind, SandboxError
from sandbox.providers.basistheory_ai.errors import UNAUTHORIZED_MESSAGE

if TYPE_CHECKING:
    import jwt

CLAIMS = web.RequestKey("bt.claims", dict)  # where the decoded claims are kept on the request
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def unauthorized(reason: str) -> SandboxError:
    """The provider's exact 401 body; the reason travels in the RFC 6750 header instead."""
    description = reason.replace('"', "'")
    return SandboxError(
        ErrorKind.UNAUTHENTICATED, UNAUTHORIZED_MESSAGE,
        headers={"WWW-Authenticate": f'Bearer realm="basistheory.ai", error="invalid_token", error_description="{description}"'},
    )


def forbidden(message: str) -> SandboxError:
    return SandboxError(ErrorKind.FORBIDDEN, message)


@dataclass(frozen=True, slots=True)
class JwtSettings:
    jwks: str | None = None  # a JWKS file or URL: verify signatures strictly
    public_key: str | None = None  # a PEM public key file: verify signatures strictly


_PROJECT = re.compile(r"^/projects/([^/]+)/")


def tenant_of(request: web.Request) -> str | None:
    """The project in the path, before the token is checked (for tenant-scoped scenario rules)."""
    project = _PROJECT.match(request.path)
    return project.group(1) if project else None


class JwtAuthenticator:
    def __init__(self, settings: JwtSettings) -> None:
        self._jwks: jwt.PyJWKSet | None = None
        self._key: Any = None
        if not (settings.jwks or settings.public_key):
            return  # lenient: PyJWT and cryptography (~25 ms to import) wait for the first token
        import jwt

        try:
            self._jwks = _load_jwks(settings.jwks) if settings.jwks else None
            self._key = _load_public_key(settings.public_key) if settings.public_key else None
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise ConfigError(f"cannot load the Basis Theory JWT verification key: {exc}") from exc

    @property
    def strict(self) -> bool:
        return self._jwks is not None or self._key is not None

    def __call__(self, request: web.Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("missing bearer token")
        claims = self._decode(token.strip())
        project = request.match_info["projectId"]
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise unauthorized("token has no sub (the entity) claim")
        if claims.get("iss") != project:
            raise forbidden(f"Token issuer (iss) {claims.get('iss')!r} does not match project {project!r}")
        request[CLAIMS] = claims
        request[PRINCIPAL] = claims["sub"]
        return project

    def _decode(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            if not self.strict:
                return jwt.decode(token, options={"verify_signature": False, "verify_exp": True})
            return jwt.decode(token, self._verification_key(token), algorithms=ASYMMETRIC, options={"verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise unauthorized("token expired") from None
        except (jwt.PyJWTError, UnicodeError) as exc:  # a header byte that is not text is a bad token too
            raise unauthorized(f"invalid token: {exc}") from None

    def _verification_key(self, token: str) -> Any:
        if self._key is not None:
            return self._key
        import jwt

        kid = jwt.get_unverified_header(token).get("kid")
        try:
            if self._jwks is None or not isinstance(kid, str):
                raise KeyError(kid)
            return self._jwks[kid].key
        except KeyError:
            raise unauthorized(f"no key with kid {kid!r} in the configured JWKS") from None


def subject(request: web.Request) -> str:
    """The entity the token acts for; authentication made sure it is a non-empty string."""
    return str(request[CLAIMS]["sub"])


def require_subject(request: web.Request, entity_id: str) -> None:
    """The seed's rule: the body's entityId must be the token's `sub`."""
    if subject(request) != entity_id:
        raise forbidden(f"entityId {entity_id!r} does not match the token subject (sub) {subject(request)!r}")


def _load_public_key(path: str) -> Any:
    """Parsed at start-up, so a file that holds no public key stops the server at once."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(Path(path).read_bytes())


def _load_jwks(source: str) -> jwt.PyJWKSet:
    """A JWKS from a file or a URL, read once at start-up (never on the request path)."""
    import jwt

    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as resp:  # noqa: S310 - operator-given URL
            text = resp.read().decode()
    else:
        text = Path(source).read_text()
    return jwt.PyJWKSet.from_dict(json.loads(text))
