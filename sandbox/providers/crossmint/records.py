"""Where Crossmint's objects live, in one place for every concern module.

A project is the tenant; inside it, objects belong to a user and live in per-user collections.
An index (object id -> owner) lets the control plane and the seam find an object from its id
alone. Events are emitted here too, so the envelope and its id stream have a single caller.
"""

from __future__ import annotations

import dataclasses
import operator
import types
import typing
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.limits import collector_paused
from sandbox.core.runtime import Runtime
from sandbox.core.store import Page, Space
from sandbox.providers.crossmint.events import event

PROVIDER = "crossmint"
INDEX = "index"  # id -> (user, kind, object id)


class Owner(NamedTuple):
    """What the index knows of an id: whose it is and which object it leads to."""

    project: str
    user: str
    kind: str
    obj_id: str


def not_found(what: str, obj_id: str) -> SandboxError:
    return SandboxError(ErrorKind.NOT_FOUND, f"{what} {obj_id} not found")


def _collection(kind: str, user: str) -> str:
    return f"{kind}@{user}"


class Records:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)  # Crossmint's own id streams

    # -- per-user collections -----------------------------------------------------------

    def put(self, project: str, user: str, kind: str, obj_id: str, obj: Any) -> None:
        self.rt.store.put(_space(project), _collection(kind, user), obj_id, obj)
        self.index(project, obj_id, user, kind, obj_id)

    def find(self, project: str, user: str, kind: str, obj_id: str) -> Any | None:
        return self.rt.store.get(_space(project), _collection(kind, user), obj_id)

    def get(self, project: str, user: str, kind: str, obj_id: str, what: str) -> Any:
        obj = self.find(project, user, kind, obj_id)
        if obj is None:
            raise not_found(what, obj_id)
        return obj

    def all(self, project: str, user: str, kind: str) -> list[Any]:
        """The whole collection, newest first: Crossmint does not page agents or order intents."""
        space, collection = _space(project), _collection(kind, user)
        return self.rt.store.page(space, collection, limit=self.rt.store.count(space, collection)).items

    def page(self, project: str, user: str, kind: str, limit: int, cursor: str | None) -> Page:
        """Raises the store's UnknownCursor for a cursor that names nothing."""
        return self.rt.store.page(_space(project), _collection(kind, user), limit=limit, after=cursor)

    def delete(self, project: str, user: str, kind: str, obj_id: str) -> None:
        self.rt.store.delete(_space(project), _collection(kind, user), obj_id)

    # -- order intents waiting for a card -------------------------------------------------

    def wait_for_card(self, project: str, user: str, method_id: str, intent_id: str) -> None:
        """Noted so that a completed enrollment finds its intents without reading all of them."""
        self.rt.store.put(_space(project), _collection(_waiting(method_id), user), intent_id, intent_id)

    def waiting_for_card(self, project: str, user: str, method_id: str) -> list[str]:
        """Oldest first, as they were created."""
        return self.all(project, user, _waiting(method_id))[::-1]

    def done_waiting(self, project: str, user: str, method_id: str, intent_id: str) -> None:
        self.rt.store.delete(_space(project), _collection(_waiting(method_id), user), intent_id)

    # -- the id index ---------------------------------------------------------------------

    def index(self, project: str, key: str, user: str, kind: str, obj_id: str) -> None:
        """`key` may differ from `obj_id`: an enrollment or an instruction leads to its parent."""
        self.rt.store.put(_space(project), INDEX, key, (user, kind, obj_id))

    def owner(self, key: str) -> Owner | None:
        space = self.rt.store.locate(INDEX, key)
        entry = self.rt.store.get(space, INDEX, key) if space else None
        if space is None or entry is None:
            return None
        return Owner(space.tenant, *entry)

    def locate(self, key: str, what: str) -> Owner:
        owner = self.owner(key)
        if owner is None:
            raise not_found(what, key)
        return owner

    # -- project-wide -------------------------------------------------------------------

    def public_key(self, project: str) -> str:
        """The project's Basis Theory public key, made on first use and the same ever after."""
        space = _space(project)
        key = self.rt.store.get(space, "config", "bt_public_api_key")
        if key is None:
            key = "key_test_" + self.ids.alnum(project, "bt_public_key", 24)
            self.rt.store.put(space, "config", "bt_public_api_key", key)
        return key

    def emit(self, project: str, event_type: str, object_id: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        """`at` back-dates an event to when a read-time transition really happened."""
        event_id = "evt_" + self.ids.uuid(project, "event")
        self.rt.events.publish(event(event_id, project, event_type, iso(at or self.rt.clock.now()), object_id, payload))

    def now(self) -> datetime:
        return self.rt.clock.now()


# -- frozen copies, read on the event loop and rendered in a worker thread ----------------------
#
# A stored object changes in place: a machine move sets a field (an order intent's status, a
# rail's, a reservation's), a credential appends to a list. A worker thread rendering a long list
# from the live objects could see an object half-way through such a change (a reservation counted
# neither reserved nor spent). So the loop reads each object's fields as they are (one C-level
# `attrgetter` call per object, far cheaper than its `to_wire`), copies the lists it holds, and
# reads the objects it holds (a rail, a reservation) the same way; the thread builds copies from
# those values and renders the copies. Everything else a field holds is replaced whole when it
# changes (dicts included: no handler changes a stored dict in place), so the value read is enough.
# How each field is copied follows from its type hint, once per class.


class _Shape(NamedTuple):
    freeze: Callable[[Any], Any]  # on the loop: the object's values, nothing shared that may change
    thaw: Callable[[Any], Any]  # in the thread: a copy of the object from them


_SHAPES: dict[type, _Shape] = {}


def _mutable_dataclass(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint) and not hint.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _field_copy(hint: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
    """(freeze, thaw) of a field's value (never None: the caller skips None), or None to hold it as read."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    members = [h for h in typing.get_args(hint) if h is not type(None)] if union else [hint]
    held = [h for h in members if _mutable_dataclass(h)]
    if held:
        if len(members) > 1 or len(held) > 1:
            raise TypeError(f"cannot freeze a field of type {hint}: one dataclass (or None) only")
        return _shape(held[0])
    lists = [h for h in members if typing.get_origin(h) is list or h is list]
    items = [arg for h in lists for arg in typing.get_args(h) if _mutable_dataclass(arg)]
    if items:
        if len(members) > 1 or len(items) > 1:
            raise TypeError(f"cannot freeze a field of type {hint}: a list of one dataclass only")
        item = _shape(items[0])
        return (lambda value: list(map(item.freeze, value))), (lambda value: list(map(item.thaw, value)))
    if _mentions_mutable(hint):
        raise TypeError(f"cannot freeze a field of type {hint}: a dataclass is frozen held directly or in a list only")
    if lists:
        return list, list  # appended to in place: copied on the loop; the copy is the thread's alone
    return None


def _mentions_mutable(hint: Any) -> bool:
    return _mutable_dataclass(hint) or any(_mentions_mutable(arg) for arg in typing.get_args(hint))


def _shape(cls: type) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:
        fields = dataclasses.fields(cls)
        if not all(f.init for f in fields):
            raise TypeError(f"{cls.__name__} cannot be frozen: a copy is made by passing every field to its constructor")
        names = [f.name for f in fields]
        read = operator.attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
        hints = typing.get_type_hints(cls)
        deep = [(i, copy) for i, name in enumerate(names) if (copy := _field_copy(hints[name])) is not None]
        if not deep:
            shape = _Shape(read, lambda values: cls(*values))
        else:
            def freeze(obj: Any) -> list[Any]:
                values = list(read(obj))
                for i, (frozen, _) in deep:
                    if values[i] is not None:
                        values[i] = frozen(values[i])
                return values

            def thaw(values: list[Any]) -> Any:
                for i, (_, thawed) in deep:
                    if values[i] is not None:
                        values[i] = thawed(values[i])
                return cls(*values)

            shape = _Shape(freeze, thaw)
        _SHAPES[cls] = shape
    return shape


class Frozen:
    """Stored objects (dataclasses) as they are now, to be copied once, later, in another thread."""

    __slots__ = ("_thaws", "_values")

    def __init__(self, objects: Sequence[Any]) -> None:
        with collector_paused():  # many small tuples: they set off no collection of the whole heap
            for cls in set(map(type, objects)):
                _shape(cls)
            shapes = list(map(_SHAPES.__getitem__, map(type, objects)))
            self._thaws = [shape.thaw for shape in shapes]
            self._values = list(map(operator.call, [shape.freeze for shape in shapes], objects))

    def thaw(self) -> list[Any]:
        """Copies of the objects as they were frozen: what no request can change any more. Once only
        (a copy's lists are the frozen ones)."""
        return list(map(operator.call, self._thaws, self._values))


def _waiting(method_id: str) -> str:
    return f"waiting_for:{method_id!r}"  # quoted: a sent id holding `@` cannot run into the user's name


def _space(project: str) -> Space:
    return Space(PROVIDER, project)
