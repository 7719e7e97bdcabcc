"""The open webhook signing standards, and the `whsec_` secrets every scheme here shares.

Svix and Standard Webhooks sign `v1,<base64 HMAC-SHA256(key, "<id>.<ts>.<body>")>` where the
key is the base64 after `whsec_`; several signatures (during a rotation) are space-separated.
A provider with its own scheme brings its signer (`sandbox.core.registry.WebhookSigner`).
"""

from __future__ import annotations

import base64
import functools
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.core.events import Event


@functools.lru_cache(maxsize=1024)  # decoded at every attempt otherwise
def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; padding may be left out, as Svix allows."""
    encoded = secret.removeprefix("whsec_")
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)


SECRET_PATTERN = re.compile(r"whsec_[A-Za-z0-9+/]{16,}={0,2}")


def checked_secret(value: str) -> str:
    """A secret a caller brings: `whsec_` and decodable base64 (a pydantic validator)."""
    if not SECRET_PATTERN.fullmatch(value):
        raise ValueError("must be whsec_ followed by base64 (at least 16 characters)")
    try:
        secret_key(value)
    except ValueError:
        raise ValueError("must be whsec_ followed by base64") from None
    return value


def new_secret(random_bytes: bytes) -> str:
    """`whsec_` + base64 of 24 random bytes: the format Svix, Standard Webhooks and others share."""
    return "whsec_" + base64.b64encode(random_bytes).decode()


def standard_signatures(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.digest(secret_key(secret), signed, "sha256")).decode() for secret in secrets
    )


@dataclass(frozen=True, slots=True)
class StandardSigner:
    """Standard Webhooks (`webhook-*` headers), or Svix's original names with `prefix="svix"`."""

    prefix: str = "webhook"

    def sign(self, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        signature = standard_signatures(secrets, message_id, timestamp, body)
        p = self.prefix
        return {f"{p}-id": message_id, f"{p}-timestamp": str(timestamp), f"{p}-signature": signature}

    def headers(self, event: Event, attempt: int) -> dict[str, str]:
        return {}


STANDARD_WEBHOOKS = StandardSigner("webhook")
SVIX = StandardSigner("svix")
