"""Basis Theory's webhook management (`/webhooks`, `/ping`), on the sandbox's shared outbox.

A Basis Theory webhook is an outbox endpoint of provider `btplatform` for the key's tenant,
signed with BT-SIGNATURE. Events carry the documented envelope
`{"event": {id, type, timestamp, tenant_id, trace_id, data}, "delivered_at"}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.core.clock import iso
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.fields import Url
from sandbox.core.runtime import Runtime
from sandbox.core.webhooks.endpoints import Endpoint
from sandbox.core.webhooks.signing import new_secret
from sandbox.providers.basistheory_platform.events import PROVIDER, platform_event

EVENT_TYPES = [
    "token.created", "token.updated", "token.deleted",
    "3ds.session.created", "3ds.session.authenticated", "3ds.session.challenge-result-retrieved",
    "agentic.enrollment.created", "agentic.enrollment.verified", "agentic.enrollment.deleted",
    "agentic.enrollment.suspended", "agentic.enrollment.reinstated",
    "agentic.instruction.created", "agentic.instruction.approved", "agentic.credentials.created",
]


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: Annotated[str, Field(min_length=1, max_length=200)]
    url: Url
    events: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    notify_email: str | None = None


def to_wire(endpoint: Endpoint) -> dict[str, Any]:
    extra = endpoint.extra
    return {
        "id": endpoint.id, "tenant_id": extra["tenant_id"], "status": "enabled" if endpoint.enabled else "disabled",
        "name": endpoint.description or "", "url": endpoint.url, "events": list(endpoint.events or []),
        "notify_email": extra.get("notify_email"), "created_by": extra["created_by"], "created_at": endpoint.created_at,
        "modified_by": extra.get("modified_by"), "modified_at": extra.get("modified_at"),
    }


class Webhooks:
    def __init__(self, runtime: Runtime, tenant_id) -> None:
        self.rt = runtime
        self.ids = runtime.ids.for_provider(PROVIDER)
        self._tenant_id = tenant_id

    def create(self, tenant: str, body: WebhookBody) -> Endpoint:
        # The tenant's own ids and secret: they depend on the seed and this tenant's requests only.
        secret = new_secret(bytes.fromhex(self.ids.token(tenant, "webhook_secret", 24)))
        endpoint = self.rt.endpoints.add(
            PROVIDER, body.url, iso(self.rt.clock.now()), tenant=tenant, events=list(body.events), description=body.name,
            endpoint_id=self.ids.uuid(tenant, "webhook"), secret=secret, owned=True,
        )
        endpoint.extra = {"tenant_id": self._tenant_id(tenant), "created_by": self._tenant_id(tenant), "notify_email": body.notify_email}
        return endpoint

    def get(self, tenant: str, webhook_id: str) -> Endpoint:
        endpoint = self.rt.endpoints.get(webhook_id)
        if endpoint is None or endpoint.provider != PROVIDER or endpoint.tenant != tenant:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Webhook {webhook_id} not found")
        return self._owned(tenant, endpoint)

    def all(self, tenant: str) -> list[Endpoint]:
        return [self._owned(tenant, e) for e in self.rt.endpoints.all() if e.provider == PROVIDER and e.tenant == tenant]

    def _owned(self, tenant: str, endpoint: Endpoint) -> Endpoint:
        """Endpoints registered on the control plane lack Basis Theory's own fields: fill them in."""
        endpoint.extra.setdefault("tenant_id", self._tenant_id(tenant))
        endpoint.extra.setdefault("created_by", endpoint.extra["tenant_id"])
        return endpoint

    def replace(self, tenant: str, webhook_id: str, body: WebhookBody) -> Endpoint:
        endpoint = self.get(tenant, webhook_id)
        self.rt.endpoints.check_url(body.url)  # as a creation is checked: never the sandbox itself
        endpoint.description, endpoint.url, endpoint.events = body.name, body.url, list(body.events)
        endpoint.extra.update(
            notify_email=body.notify_email, modified_by=endpoint.extra["created_by"], modified_at=iso(self.rt.clock.now()),
        )
        return endpoint

    def delete(self, tenant: str, webhook_id: str) -> None:
        self.rt.endpoints.remove(self.get(tenant, webhook_id).id)

    def emit(self, tenant: str, event_type: str, object_name: str, obj: dict[str, Any]) -> None:
        """Record a platform event in Basis Theory's envelope (the outbox delivers it)."""
        event_id = self.ids.uuid(tenant, "event")
        trace_id = self.ids.uuid(tenant, "trace")
        now = iso(self.rt.clock.now())
        self.rt.events.publish(platform_event(event_id, tenant, self._tenant_id(tenant), trace_id, event_type, now, object_name, obj))
