"""Per-tenant object storage.

Objects live in a namespace per (provider, tenant): tenants never see each other's
objects. `Store` is the small interface providers use, so a persistent backend can replace
`MemoryStore` later; the memory backend keeps every lookup O(1) and pages without scanning
from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol


class Space(NamedTuple):
    provider: str
    tenant: str


class Page(NamedTuple):
    items: list[Any]
    has_more: bool


class UnknownCursor(LookupError):
    pass


class Shared:
    """One copy of equal values that stored objects keep (a buyer's fields, a currency, a URL): a
    test suite creates object after object from the same fixture, and each would otherwise hold its
    own copies. A bounded cache, not `sys.intern`: a value is shared while it is among the last
    `limit` distinct ones seen, and unique values cost nothing once they fall out. The values must
    never be changed in place (a dict is copied when it is rendered)."""

    __slots__ = ("_seen", "limit")

    def __init__(self, limit: int = 4096) -> None:
        self._seen: dict[Any, Any] = {}
        self.limit = limit

    def __call__(self, value: Any, key: Any = None) -> Any:
        """The copy kept of `value` (equal to it); `key` is its hashable form when it is not hashable."""
        key = value if key is None else key
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            found = self._seen[key] = value
        return found

    def text(self, value: str | None) -> str | None:
        return value if value is None else self(value)

    def strings(self, values: dict[str, Any]) -> dict[str, Any]:
        """A dict of strings (or None) made of shared values, itself shared with equal dicts."""
        shared = {name: self.text(value) for name, value in values.items()}
        return self(shared, tuple(shared.items()))


class Store(Protocol):
    def get(self, space: Space, kind: str, obj_id: str) -> Any | None: ...

    def peek(self, space: Space, kind: str, obj_id: str) -> Any | None:
        """`get` for a reader that changes nothing: a durable backend need not write it back."""
        ...

    def browse(self, space: Space, kind: str) -> Iterator[tuple[str, Any]]:
        """(id, object) newest first, for a reader that changes nothing (as `peek`)."""
        ...

    def put(self, space: Space, kind: str, obj_id: str, obj: Any) -> None: ...

    def delete(self, space: Space, kind: str, obj_id: str) -> bool: ...

    def page(
        self, space: Space, kind: str, *, limit: int, after: str | None = None,
        where: Callable[[Any], bool] | None = None,
    ) -> Page: ...

    def slice(self, space: Space, kind: str, *, offset: int, limit: int) -> Page: ...

    def count(self, space: Space, kind: str) -> int: ...

    def locate(self, kind: str, obj_id: str) -> Space | None: ...

    def holders(self, obj_ids: Collection[str]) -> list[tuple[str, Space]]: ...

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None: ...

    def sizes(self) -> dict[str, int]: ...


@dataclass(slots=True)
class _Collection:
    items: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # creation order; deleted ids stay as gaps
    position: dict[str, int] = field(default_factory=dict)

    def put(self, obj_id: str, obj: Any) -> None:
        if obj_id not in self.position:
            self.position[obj_id] = len(self.order)
            self.order.append(obj_id)
        self.items[obj_id] = obj

    def newest_first(self, before: int) -> Iterator[Any]:
        for index in range(before - 1, -1, -1):
            obj = self.items.get(self.order[index])
            if obj is not None:
                yield obj


class MemoryStore:
    _collection_type: Callable[[MemoryStore, Space, str], _Collection] = staticmethod(lambda store, space, kind: _Collection())

    def __init__(self) -> None:
        self._spaces: dict[Space, dict[str, _Collection]] = {}
        self._index: dict[tuple[str, str], Space] = {}  # (kind, id) -> owner, for the control plane

    def _collection(self, space: Space, kind: str) -> _Collection | None:
        kinds = self._spaces.get(space)
        return kinds.get(kind) if kinds else None

    def get(self, space: Space, kind: str, obj_id: str) -> Any | None:
        coll = self._collection(space, kind)
        return coll.items.get(obj_id) if coll else None

    def put(self, space: Space, kind: str, obj_id: str, obj: Any) -> None:
        kinds = self._spaces.setdefault(space, {})
        coll = kinds.get(kind)
        if coll is None:
            coll = kinds[kind] = self._collection_type(self, space, kind)
        coll.put(obj_id, obj)
        self._index[(kind, obj_id)] = space

    def delete(self, space: Space, kind: str, obj_id: str) -> bool:
        coll = self._collection(space, kind)
        if coll is None or coll.items.pop(obj_id, None) is None:
            return False
        self._index.pop((kind, obj_id), None)
        return True

    def page(self, space, kind, *, limit, after=None, where=None) -> Page:
        """Newest first; `after` is the last id of the previous page."""
        coll = self._collection(space, kind)
        if coll is None:
            if after is not None:
                raise UnknownCursor(after)
            return Page([], False)
        if after is None:
            start = len(coll.order)
        elif after in coll.position:
            start = coll.position[after]
        else:
            raise UnknownCursor(after)
        found: list[Any] = []
        for obj in coll.newest_first(start):
            if where is None or where(obj):
                if len(found) == limit:
                    return Page(found, True)
                found.append(obj)
        return Page(found, False)

    def slice(self, space: Space, kind: str, *, offset: int, limit: int) -> Page:
        """Newest first, skipping `offset` objects (offset paging, as some providers use)."""
        coll = self._collection(space, kind)
        if coll is None:
            return Page([], False)
        found: list[Any] = []
        for index, obj in enumerate(coll.newest_first(len(coll.order))):
            if index >= offset + limit:
                return Page(found, True)
            if index >= offset:
                found.append(obj)
        return Page(found, False)

    def count(self, space: Space, kind: str) -> int:
        coll = self._collection(space, kind)
        return len(coll.items) if coll else 0

    def locate(self, kind: str, obj_id: str) -> Space | None:
        return self._index.get((kind, obj_id))

    def holders(self, obj_ids: Collection[str]) -> list[tuple[str, Space]]:
        """(id, space) for each object with one of these ids, whatever its kind: a scan, made
        only for a 404 that asks where a missing id lives (a near miss)."""
        return [(obj_id, space) for (_, obj_id), space in self._index.items() if obj_id in obj_ids]

    def collections(self) -> list[tuple[Space, str, int]]:
        """(space, kind, objects held) of every collection, in the order each appeared: for the
        control plane's listings, never on a provider's request path."""
        return [(space, kind, len(coll.items)) for space, kinds in self._spaces.items() for kind, coll in kinds.items()]

    def peek(self, space: Space, kind: str, obj_id: str) -> Any | None:
        return self.get(space, kind, obj_id)

    def browse(self, space: Space, kind: str) -> Iterator[tuple[str, Any]]:
        """(id, object) of one collection, newest first, read without being noted as handed out
        (a durable backend writes back what handlers were handed): for listings that change nothing."""
        coll = self._collection(space, kind)
        if coll is None:
            return
        for obj_id in reversed(coll.order):
            obj = coll.items.get(obj_id)
            if obj is not None:
                yield obj_id, obj

    def sizes(self) -> dict[str, int]:
        collections = [coll for kinds in self._spaces.values() for coll in kinds.values()]
        return {
            "spaces": len(self._spaces), "objects": sum(len(c.items) for c in collections),
            "object_slots": sum(len(c.order) for c in collections), "object_index": len(self._index),
        }

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None:
        doomed = [s for s in self._spaces if (provider in (None, s.provider)) and (tenant in (None, s.tenant))]
        for space in doomed:
            del self._spaces[space]
        if provider is None and tenant is None:
            self._index.clear()
        elif doomed:
            gone = set(doomed)
            self._index = {key: space for key, space in self._index.items() if space not in gone}


class _TrackedCollection(_Collection):
    """A collection that notes every object it hands out: a handler may change it in place."""

    __slots__ = ("touched", "space", "kind")

    def __init__(self, touched: set[tuple[Space, str, str]], space: Space, kind: str) -> None:
        super().__init__()
        self.touched, self.space, self.kind = touched, space, kind

    def newest_first(self, before: int) -> Iterator[Any]:
        for index in range(before - 1, -1, -1):
            obj_id = self.order[index]
            obj = self.items.get(obj_id)
            if obj is not None:
                self.touched.add((self.space, self.kind, obj_id))
                yield obj


class TrackedStore(MemoryStore):
    """The memory store, noting which objects were read or written since `take_touched`, for a
    durable backend to write back (objects are changed in place, so a read may be a write)."""

    _collection_type = staticmethod(lambda store, space, kind: _TrackedCollection(store.touched, space, kind))

    def __init__(self) -> None:
        super().__init__()
        self.touched: set[tuple[Space, str, str]] = set()

    def get(self, space: Space, kind: str, obj_id: str) -> Any | None:
        found = super().get(space, kind, obj_id)
        if found is not None:
            self.touched.add((space, kind, obj_id))
        return found

    def put(self, space: Space, kind: str, obj_id: str, obj: Any) -> None:
        super().put(space, kind, obj_id, obj)
        self.touched.add((space, kind, obj_id))

    def delete(self, space: Space, kind: str, obj_id: str) -> bool:
        self.touched.add((space, kind, obj_id))
        return super().delete(space, kind, obj_id)

    def peek(self, space: Space, kind: str, obj_id: str) -> Any | None:
        return MemoryStore.get(self, space, kind, obj_id)

    def spaces(self) -> list[tuple[Space, str, str]]:
        """Every object's (space, kind, id), in creation order per collection."""
        return [(space, kind, obj_id) for space, kinds in self._spaces.items() for kind, coll in kinds.items()
                for obj_id in coll.order if obj_id in coll.items]

    def take_touched(self) -> list[tuple[Space, str, str]]:
        """What was touched, each collection's in creation order: a backend keeps keys in the order
        they first appear, and that order is the one a restarted process lists them in."""
        touched = sorted(self.touched, key=self._position)  # the collections hold this very set
        self.touched.clear()
        return touched

    def _position(self, ref: tuple[Space, str, str]) -> int:
        coll = self._collection(ref[0], ref[1])
        return coll.position.get(ref[2], -1) if coll is not None else -1
