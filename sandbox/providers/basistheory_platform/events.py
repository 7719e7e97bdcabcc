"""Basis Theory platform events: the documented envelope and its BT-SIGNATURE.

`{"event": {id, type, timestamp, tenant_id, trace_id, data}, "delivered_at"}`, signed with
RSA-PSS SHA-256 over the key-sorted JSON body; receivers check it with the public key served at
/_sandbox/keys/basistheory-webhooks.v1.key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson

from sandbox.core.events import Event

PROVIDER = "btplatform"


def platform_event(
    event_id: str, tenant: str, tenant_id: str, trace_id: str, event_type: str, now: str, object_name: str, obj: dict[str, Any],
) -> Event:
    envelope = {
        "event": {
            "id": event_id, "type": event_type, "timestamp": now, "tenant_id": tenant_id, "trace_id": trace_id,
            "data": {object_name: obj, "actor": {"id": tenant_id, "type": "application", "name": "sandbox"}},
        },
        "delivered_at": now,
    }
    return Event(event_id, PROVIDER, tenant, event_type, str(obj.get("id", "")), now, envelope)


class BtSigner:
    """One RSA key per sandbox, made on first use (RSA keys cannot come from a seed cheaply)."""

    def __init__(self) -> None:
        self._key: Any = None

    def private_key(self) -> Any:
        if self._key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa  # only a sandbox that signs pays for it

            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        public = self.private_key().public_key()
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        stable = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
        signature = self.private_key().sign(stable, pss, hashes.SHA256())
        return {"BT-SIGNATURE": base64.b64encode(signature).decode(), "BT-SIGNATURE-VERSION": "v1"}

    def headers(self, event: Event, attempt: int) -> dict[str, str]:
        return {}
