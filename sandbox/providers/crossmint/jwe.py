"""The compact JWE of the encrypted-card rail: RSA-OAEP-256 key wrapping, A256GCM content.

Crossmint encrypts the card to the RSA public key (a JWK) the client sends, and the client
decrypts it with its private key (RFC 7516 compact serialization, RFC 7518 algorithms). The
content key and IV come from the caller (the seed's streams); RSA-OAEP pads with fresh random
bytes, so the JWE itself differs from call to call while what it carries does not.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # cryptography (~20 ms to import) is imported by the first key checked, not by every start
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ALG, ENC = "RSA-OAEP-256", "A256GCM"
MIN_BITS, MAX_BITS = 2048, 8192
CEK_BYTES = 32  # A256GCM's content key: what RSA-OAEP wraps
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class BadKey(ValueError):
    """A JWK that is no usable RSA public key; the message says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise binascii.Error("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key(n: str, e: str) -> RSAPublicKey:
    """The RSA public key of a JWK's `n` and `e` (base64url, big-endian)."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    try:
        modulus, exponent = (int.from_bytes(b64url_decode(part), "big") for part in (n, e))
    except binascii.Error:
        raise BadKey("n and e must be base64url (no padding)") from None
    if not MIN_BITS <= modulus.bit_length() <= MAX_BITS:
        raise BadKey(f"the modulus must be {MIN_BITS} to {MAX_BITS} bits, not {modulus.bit_length()}")
    if modulus % 2 == 0:  # a product of two odd primes is odd; OpenSSL cannot encrypt to an even modulus
        raise BadKey("the modulus n must be odd: it is no RSA modulus")
    if exponent < 3 or exponent % 2 == 0 or exponent.bit_length() > 64:
        raise BadKey("e must be an odd public exponent such as AQAB (65537)")
    try:
        key = RSAPublicNumbers(exponent, modulus).public_key()
        key.encrypt(bytes(CEK_BYTES), _oaep())  # what `encrypt` will do, so a key that passes here cannot fail there
    except ValueError as exc:
        raise BadKey(f"not a usable RSA public key: {exc}") from None
    return key


def _oaep() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def encrypt(plaintext: bytes, key: RSAPublicKey, cek: bytes, iv: bytes, kid: str | None = None) -> str:
    """`protected.encrypted_key.iv.ciphertext.tag`, the protected header authenticated as AAD."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header: dict[str, str] = {"alg": ALG, "enc": ENC}
    if kid is not None:
        header["kid"] = kid
    protected = b64url(orjson.dumps(header))
    oaep = _oaep()
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return ".".join((protected, b64url(key.encrypt(cek, oaep)), b64url(iv), b64url(ciphertext), b64url(tag)))
