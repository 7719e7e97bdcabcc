"""Deterministic ids.

Every (tenant, prefix) pair draws from its own random stream derived from the sandbox
seed, so a test's ids depend only on the seed and on that tenant's own requests, never
on what other tenants do on a shared server.
"""

from __future__ import annotations

import random
import uuid

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


class IdFactory:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[tuple[str, str], random.Random] = {}

    def _stream(self, tenant: str, prefix: str) -> random.Random:
        key = (tenant, prefix)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = random.Random(f"{self.seed}:{tenant}:{prefix}")
        return stream

    def ulid(self, prefix: str, tenant: str = "") -> str:
        """`<prefix>_<26 lower-case Crockford base32 chars>`, ULID-shaped."""
        bits = self._stream(tenant, prefix).getrandbits(128)
        # 128 bits in 26 base32 digits: the first digit carries 3 bits, as in a ULID.
        return prefix + "_" + "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(125, -5, -5))

    def uuid(self, tenant: str = "", namespace: str = "uuid") -> str:
        return str(uuid.UUID(int=self._stream(tenant, namespace).getrandbits(128), version=4))

    def token(self, tenant: str, namespace: str, nbytes: int = 24) -> str:
        """Hex secret material (handles, webhook secrets), reproducible from the seed."""
        return self._stream(tenant, namespace).getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def digits(self, tenant: str, namespace: str, count: int = 24) -> str:
        """`count` random decimal digits (card numbers, CVCs), reproducible from the seed."""
        stream = self._stream(tenant, namespace)
        return "".join(str(stream.randrange(10)) for _ in range(count))

    def alnum(self, tenant: str, namespace: str, count: int) -> str:
        """`count` random lower-case letters and digits (provider ids such as `agt_bt…`)."""
        stream = self._stream(tenant, namespace)
        return "".join(stream.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(count))

    def __len__(self) -> int:
        return len(self._streams)

    def forget(self, tenant: str | None = None) -> None:
        """Restart the streams (all, or one tenant's) after a reset.

        System streams (tenant starting with `_`, e.g. webhook endpoints) are kept: the objects
        they name survive resets, and a restarted stream would repeat their ids.
        """
        if tenant is None:
            for key in [k for k in self._streams if not k[0].startswith("_")]:
                del self._streams[key]
        else:
            for key in [k for k in self._streams if k[0] == tenant]:
                del self._streams[key]
