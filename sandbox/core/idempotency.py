"""Idempotency keys, as Stripe defines them.

The first response for a key is kept (scoped to provider, tenant, method and path) and
replayed for a retry with the same body. The same key with a different body is a conflict.
A request that arrives while the first one with its key is still running waits for it, so
concurrent duplicates create one object.

Keys are bounded per tenant (of a provider) and in all: a tenant sending key after key forgets
its own oldest keys first, never another tenant's; the global bound is the last resort.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from sandbox.core.clock import Clock

# Stripe keeps keys for 24 hours; the bound keeps a long-running sandbox's memory flat.
DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_MAX_KEYS = 50_000
DEFAULT_MAX_KEYS_PER_TENANT = 10_000

# Responses that say "this request was never processed" are not kept, so a corrected retry
# with the same key can go through (Stripe's rule for validation and auth failures). A
# provider may add its own (`ProviderApi(unsaved_statuses=…)`).
UNSAVED_STATUSES = frozenset({400, 401, 403, 415, 429})


def fingerprint(body: Any) -> str:
    # No body and `{}` are the same request to every handler, so they share a fingerprint.
    canonical = orjson.dumps(body if body is not None else {}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


@dataclass(slots=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Entry:
    fingerprint: str
    expires_at: float
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    response: StoredResponse | None = None


Scope = tuple[str, ...]  # (provider, tenant, principal, method, path, key)


class KeyWatcher(Protocol):
    """Told of every kept and forgotten key (a durable backend)."""

    def saved(self, scope: Scope, entry: Entry) -> None: ...

    def forgotten(self, scope: Scope) -> None: ...


class IdempotencyStore:
    def __init__(
        self, clock: Clock, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_keys: int = DEFAULT_MAX_KEYS,
        max_keys_per_tenant: int = DEFAULT_MAX_KEYS_PER_TENANT,
    ) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._max = max_keys
        self._max_per_tenant = max_keys_per_tenant
        self._entries: OrderedDict[Scope, Entry] = OrderedDict()  # oldest first
        self._tenants: dict[tuple[str, ...], OrderedDict[Scope, None]] = {}  # (provider, tenant) -> its scopes, oldest first
        self.watcher: KeyWatcher | None = None

    def lookup(self, scope: Scope) -> Entry | None:
        entry = self._entries.get(scope)
        if entry is not None and entry.done.done() and entry.expires_at <= self._clock.timestamp():
            self._forget(scope)
            return None
        return entry

    def begin(self, scope: Scope, body_fingerprint: str) -> Entry:
        entry = Entry(body_fingerprint, self._clock.timestamp() + self._ttl)
        if scope in self._entries:
            self._forget(scope)  # begun again: it becomes the newest
        self._entries[scope] = entry
        mine = self._tenants.setdefault(scope[:2], OrderedDict())
        mine[scope] = None
        while len(mine) > self._max_per_tenant:
            self._forget(next(iter(mine)))
        while len(self._entries) > self._max:
            self._forget(next(iter(self._entries)))
        return entry

    def finish(self, scope: Scope, entry: Entry, response: StoredResponse | None) -> None:
        """Record the outcome; `None` forgets the key (the request was not processed)."""
        if response is None and self._entries.get(scope) is entry:
            self._forget(scope)
        entry.response = response
        if not entry.done.done():
            entry.done.set_result(None)
        if response is not None and self.watcher is not None and self._entries.get(scope) is entry:
            self.watcher.saved(scope, entry)

    def restore(self, scope: Scope, body_fingerprint: str, expires_at: float, response: StoredResponse | None) -> None:
        """Put back a finished key (from a durable backend); None forgets it."""
        if scope in self._entries:
            self._forget(scope, quiet=True)
        if response is None:
            return
        entry = self.begin(scope, body_fingerprint)
        entry.expires_at, entry.response = expires_at, response
        entry.done.set_result(None)

    def items(self) -> list[tuple[Scope, Entry]]:
        return [(scope, entry) for scope, entry in self._entries.items() if entry.response is not None]

    def __len__(self) -> int:
        return len(self._entries)

    def tenants(self) -> int:
        """How many tenants hold keys (each holds at least one)."""
        return len(self._tenants)

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget keys; scopes start with (provider, tenant). A reset's deletions reach a durable
        backend through `Runtime.reset`, not the watcher."""
        if provider is None and tenant is None:
            self._entries.clear()
            self._tenants.clear()
            return
        for owner in [o for o in self._tenants if provider in (None, o[0]) and tenant in (None, o[1])]:
            for scope in self._tenants.pop(owner):
                del self._entries[scope]

    def _forget(self, scope: Scope, quiet: bool = False) -> None:
        del self._entries[scope]
        if self.watcher is not None and not quiet:
            self.watcher.forgotten(scope)
        mine = self._tenants[scope[:2]]
        del mine[scope]
        if not mine:
            del self._tenants[scope[:2]]
