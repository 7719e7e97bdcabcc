"""Where Crossmint's objects live, in one place for every concern module.

A project is the tenant; inside it, objects belong to a user and live in per-user collections.
An index (object id -> owner) lets the control plane and the seam find an object from its id
alone. Events are emitted here too, so the envelope and its id stream have a single caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
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


def _waiting(method_id: str) -> str:
    return f"waiting_for:{method_id!r}"  # quoted: a sent id holding `@` cannot run into the user's name


def _space(project: str) -> Space:
    return Space(PROVIDER, project)
