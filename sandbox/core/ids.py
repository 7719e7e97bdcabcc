"""Deterministic ids.

Every (owner, tenant, namespace) triple draws from its own random stream derived from the
sandbox seed. The owner is a provider (`ids.for_provider(name)` gives it a view bound to its
name) or the sandbox itself (webhook endpoints, deliveries, scenarios). So a provider's ids
depend only on the seed and on that tenant's own requests to that provider: never on what
other tenants, or other providers with a tenant of the same name, do on a shared server; and
no tenant name, however it is spelled, reaches the sandbox's own streams.
"""

from __future__ import annotations

import random
import uuid

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two digits: a ulid is 13 lookups, not 26
_SANDBOX = ""  # the owner of the sandbox's own streams: no provider is named ""


class IdStreams:
    """One owner's streams, keyed by tenant and namespace."""

    __slots__ = ("_factory", "owner")

    def __init__(self, factory: IdFactory, owner: str) -> None:
        self._factory = factory
        self.owner = owner

    @property
    def seed(self) -> int:
        return self._factory.seed

    def _stream(self, tenant: str, namespace: str) -> random.Random:
        return self._factory._stream(self.owner, tenant, namespace)

    def ulid(self, prefix: str, tenant: str) -> str:
        """`<prefix>_<26 lower-case Crockford base32 chars>`, ULID-shaped."""
        bits = self._stream(tenant, prefix).getrandbits(128)
        # 128 bits in 26 base32 digits: the first digit carries 3 bits, as in a ULID. Unrolled (it is
        # on every create's path, once per id): the digits of bits 129..0, two at a time.
        t = _PAIRS
        return "".join((
            prefix, "_", t[bits >> 120], t[(bits >> 110) & 1023], t[(bits >> 100) & 1023], t[(bits >> 90) & 1023],
            t[(bits >> 80) & 1023], t[(bits >> 70) & 1023], t[(bits >> 60) & 1023], t[(bits >> 50) & 1023],
            t[(bits >> 40) & 1023], t[(bits >> 30) & 1023], t[(bits >> 20) & 1023], t[(bits >> 10) & 1023], t[bits & 1023],
        ))

    def uuid(self, tenant: str, namespace: str = "uuid") -> str:
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


class IdFactory:
    """All the streams. A provider draws through `for_provider(name)`; the factory's own methods
    draw from the sandbox's streams, named by a tenant starting with `_` (`_webhooks`)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[tuple[str, str, str], random.Random] = {}
        self._views: dict[str, IdStreams] = {}
        self._own = IdStreams(self, _SANDBOX)
        self.touched: set[tuple[str, str, str]] | None = None  # streams drawn from, when a durable backend asks

    def _stream(self, owner: str, tenant: str, namespace: str) -> random.Random:
        key = (owner, tenant, namespace)
        stream = self._streams.get(key)
        if stream is None:
            # The sandbox's own streams keep the seed text they always had (endpoint ids and secrets
            # stay what they were); a provider's is the repr of the key, which no two keys share.
            source = f"{self.seed}:{tenant}:{namespace}" if owner == _SANDBOX else repr((self.seed, owner, tenant, namespace))
            stream = self._streams[key] = random.Random(source)
        if self.touched is not None:
            self.touched.add(key)
        return stream

    def for_provider(self, name: str) -> IdStreams:
        """The streams of one provider: its tenants' ids, apart from every other provider's."""
        if not name or name.startswith("_"):
            raise ValueError(f"{name!r} cannot own id streams: a provider's name is not empty and does not start with _")
        view = self._views.get(name)
        if view is None:
            view = self._views[name] = IdStreams(self, name)
        return view

    # -- the sandbox's own streams (endpoints, deliveries, scenarios), which resets keep ---------------

    def _own_tenant(self, tenant: str) -> str:
        if not tenant.startswith("_"):
            raise ValueError(f"the sandbox's own id streams are named with a leading _, not {tenant!r}: use ids.for_provider(name)")
        return tenant

    def ulid(self, prefix: str, tenant: str) -> str:
        return self._own.ulid(prefix, self._own_tenant(tenant))

    def uuid(self, tenant: str, namespace: str = "uuid") -> str:
        return self._own.uuid(self._own_tenant(tenant), namespace)

    def token(self, tenant: str, namespace: str, nbytes: int = 24) -> str:
        return self._own.token(self._own_tenant(tenant), namespace, nbytes)

    def __len__(self) -> int:
        return len(self._streams)

    def keys(self) -> list[tuple[str, str, str]]:
        return list(self._streams)

    def state_of(self, key: tuple[str, str, str]) -> object | None:
        stream = self._streams.get(key)
        return None if stream is None else stream.getstate()

    def restore(self, key: tuple[str, str, str], state: object | None) -> None:
        """Put back a stream where a durable backend left it (None: it never drew)."""
        if state is None:
            self._streams.pop(key, None)
            return
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = random.Random()
        stream.setstate(state)  # type: ignore[arg-type]

    def forget(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Restart providers' streams after a reset: all of them, one provider's, one tenant's
        (with every provider), or one provider's tenant's.

        The sandbox's own streams are never restarted: the objects they name (endpoints,
        deliveries, scenarios) survive resets, and a restarted stream would repeat their ids.
        """
        doomed = [
            key for key in self._streams
            if key[0] != _SANDBOX and provider in (None, key[0]) and tenant in (None, key[1])
        ]
        for key in doomed:
            del self._streams[key]
