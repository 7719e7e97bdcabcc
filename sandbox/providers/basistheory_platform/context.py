"""What every part of the platform shares: the runtime, the tenant's space in the store, its events.

The tenant is the API key; each key's objects live in their own space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.runtime import Runtime
from sandbox.core.store import Page, Space, UnknownCursor
from sandbox.providers.basistheory_platform.events import PROVIDER
from sandbox.providers.basistheory_platform.webhooks import Webhooks


class Wired(Protocol):
    def to_wire(self) -> dict[str, Any]: ...


class Context:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)  # the platform's own id streams
        self.hooks = Webhooks(runtime, self.tenant_id)

    def space(self, tenant: str) -> Space:
        return Space(PROVIDER, tenant)

    def find(self, tenant: str, kind: str, obj_id: str) -> Any | None:
        return self.rt.store.get(self.space(tenant), kind, obj_id)

    def get(self, tenant: str, kind: str, obj_id: str, what: str) -> Any:
        """The object, or a 404 naming it as `what`."""
        obj = self.find(tenant, kind, obj_id)
        if obj is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"{what} {obj_id} not found")
        return obj

    def put(self, tenant: str, kind: str, obj_id: str, obj: Any) -> None:
        self.rt.store.put(self.space(tenant), kind, obj_id, obj)

    def delete(self, tenant: str, kind: str, obj_id: str) -> None:
        self.rt.store.delete(self.space(tenant), kind, obj_id)

    def page(self, tenant: str, kind: str, limit: int, cursor: str | None, where: Callable[[Any], bool] | None = None) -> Page:
        try:
            return self.rt.store.page(self.space(tenant), kind, limit=limit, after=cursor, where=where)
        except UnknownCursor:  # the SDK declares no 400 for lists: an unknown cursor is the end
            return Page([], False)

    def now(self) -> str:
        return iso(self.rt.clock.now())

    def tenant_id(self, tenant: str) -> str:
        """The id of the tenant behind the API key, made once."""
        tenant_id = self.find(tenant, "config", "tenant_id")
        if tenant_id is None:
            tenant_id = self.ids.uuid(tenant, "tenant")
            self.put(tenant, "config", "tenant_id", tenant_id)
        return tenant_id

    def record(self, tenant: str, event: str | None, object_name: str, obj: Wired) -> None:
        """Emit the event a transition names; a transition that names none stays silent."""
        if event is not None:
            self.hooks.emit(tenant, event, object_name, obj.to_wire())
