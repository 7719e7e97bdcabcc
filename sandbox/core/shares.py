"""A bounded log shared fairly between tenants.

Items are kept in shares, one per key (a provider's tenant), each oldest first, under one bound
on them all. When the bound is passed, the oldest item of the largest share goes (of shares as
large, the one that got there first). A lone tenant keeps everything up to the bound, oldest
dropped first, as a plain bounded log would; a tenant that floods the log pushes out its own
items, never the others'. Every operation is O(1) but listing, which merges the shares in the
order the items were added.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FairShares(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._shares: dict[K, OrderedDict[Hashable, tuple[int, V]]] = {}  # key -> item id -> (order, item)
        self._sized: dict[int, dict[K, None]] = {}  # share length -> the shares of that length, in the order they got there
        self._largest = 0
        self._size = 0
        self._seq = 0

    def add(self, key: K, item_id: Hashable, item: V) -> list[V]:
        """Keep `item` (as the newest of its share); returns the items pushed out to stay in bounds."""
        self.discard(key, item_id)
        self._seq += 1
        share = self._shares.setdefault(key, OrderedDict())
        share[item_id] = (self._seq, item)
        self._moved(key, len(share) - 1)
        self._size += 1
        gone: list[V] = []
        while self._size > self.limit:
            gone.append(self._drop_one())
        return gone

    def discard(self, key: K, item_id: Hashable) -> bool:
        share = self._shares.get(key)
        if share is None or item_id not in share:
            return False
        del share[item_id]
        self._size -= 1
        self._moved(key, len(share) + 1)
        if not share:
            del self._shares[key]
        return True

    def drop_shares(self, doomed: Callable[[K], bool]) -> None:
        for key in [k for k in self._shares if doomed(k)]:
            share = self._shares.pop(key)
            self._size -= len(share)
            self._unsized(key, len(share))
        self._largest = max(self._sized, default=0)

    def items(self, wanted: Callable[[K], bool] | None = None) -> Iterator[V]:
        """Oldest first across the shares `wanted` picks (all of them by default)."""
        shares = [share.values() for key, share in self._shares.items() if wanted is None or wanted(key)]
        ordered = heapq.merge(*shares, key=lambda entry: entry[0]) if len(shares) > 1 else (shares[0] if shares else ())
        return (item for _, item in ordered)

    def share(self, key: K) -> Iterator[V]:
        share = self._shares.get(key)
        return (item for _, item in share.values()) if share else iter(())

    def __len__(self) -> int:
        return self._size

    def shares(self) -> int:
        return len(self._shares)

    # -- the bound -----------------------------------------------------------------------------

    def _drop_one(self) -> V:
        key = next(iter(self._sized[self._largest]))
        share = self._shares[key]
        _, (_, item) = share.popitem(last=False)
        self._size -= 1
        self._moved(key, len(share) + 1)
        if not share:
            del self._shares[key]
        return item

    def _moved(self, key: K, old: int) -> None:
        """A share went from `old` items to its length now (one more or one less)."""
        share = self._shares.get(key)
        new = len(share) if share else 0
        self._unsized(key, old)
        if new:
            self._sized.setdefault(new, {})[key] = None
        if new > self._largest:
            self._largest = new
        while self._largest and self._largest not in self._sized:
            self._largest -= 1  # a share shrinks by one: the next largest is at most one less

    def _unsized(self, key: K, length: int) -> None:
        bucket = self._sized.get(length)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del self._sized[length]
