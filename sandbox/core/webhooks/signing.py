"""The three signing schemes, one per provider, each as its receivers verify it.

- `dino`: `Dino-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (one `v1` per
  active secret, as Stripe does during rotation) and `X-Dino-Signature-Sha256: <hex
  HMAC-SHA256(secret, body)>`; the key is the whole `whsec_…` string.
- `svix` (Crossmint) and `standard` (Basis Theory): `v1,<base64 HMAC-SHA256(key, "<id>.<ts>.<body>")>`
  where the key is the base64 after `whsec_`; several signatures are space-separated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence

Signer = Callable[[Sequence[str], str, int, bytes], dict[str, str]]


def _hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def dino(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signed = f"{timestamp}.".encode() + body
    versions = ",".join(f"v1={_hex(secret.encode(), signed)}" for secret in secrets)
    return {"Dino-Signature": f"t={timestamp},{versions}", "X-Dino-Signature-Sha256": _hex(secrets[0].encode(), body)}


def _standard_signatures(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode() for secret in secrets
    )


def svix(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signature = _standard_signatures(secrets, message_id, timestamp, body)
    return {"svix-id": message_id, "svix-timestamp": str(timestamp), "svix-signature": signature}


def standard(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signature = _standard_signatures(secrets, message_id, timestamp, body)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; padding may be left out, as Svix allows."""
    encoded = secret.removeprefix("whsec_")
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)


def new_secret(random_bytes: bytes) -> str:
    """`whsec_` + base64 of 24 random bytes: the format Svix, Standard Webhooks and Dino share."""
    return "whsec_" + base64.b64encode(random_bytes).decode()


SCHEMES: dict[str, Signer] = {"dino": dino, "svix": svix, "standard": standard}


def context_headers(scheme: str, event, attempt: int) -> dict[str, str]:
    """Headers beside the signature: Dino names the event, the attempt and the trace."""
    if scheme != "dino":
        return {}
    return {
        "Dino-Event-Id": event.id,
        "Dino-Event-Type": event.type,
        "Dino-Delivery-Attempt": str(attempt),
        "Dino-Request-Id": str(event.payload.get("request_id", "")),
    }


# -- Basis Theory platform: BT-SIGNATURE, RSA-PSS SHA-256 over the key-sorted JSON body -------

_BT_KEY = None


def bt_private_key():
    """The sandbox's webhook signing key, made on first use (RSA keys cannot come from a seed
    cheaply); its public half is served at /_sandbox/keys/basistheory-webhooks.v1.key."""
    global _BT_KEY
    if _BT_KEY is None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        _BT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _BT_KEY


def bt_public_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bt_private_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def basis_theory(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    import orjson
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    stable = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    signature = bt_private_key().sign(stable, pss, hashes.SHA256())
    return {"BT-SIGNATURE": base64.b64encode(signature).decode(), "BT-SIGNATURE-VERSION": "v1"}


SCHEMES["bt"] = basis_theory
