"""Webhook endpoints: where each provider's events go, and the secrets that sign them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

from sandbox.core.clock import iso_timestamp
from sandbox.core.errors import invalid_field
from sandbox.core.events import Event
from sandbox.core.webhooks.signing import new_secret


class TargetCheck(Protocol):
    """Which URLs may receive webhooks (`core/webhooks/targets.py`)."""

    def refusal(self, url: str) -> str | None: ...

    async def delivery_refusal(self, url: str) -> str | None: ...


@dataclass(slots=True)
class Endpoint:
    id: str
    provider: str
    url: str
    secret: str
    created_at: str
    tenant: str | None = None
    events: list[str] | None = None  # patterns such as "order.*"; None: every event
    description: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    previous_secrets: list[tuple[str, float]] = field(default_factory=list)  # (secret, valid until)
    extra: dict[str, Any] = field(default_factory=dict)  # a provider's own fields, kept for its webhook routes
    owned: bool = False  # made through a provider's own API: the tenant's object, forgotten by its reset

    def wants(self, event: Event) -> bool:
        return (
            self.enabled
            and event.provider == self.provider
            and (self.tenant is None or self.tenant == event.tenant)
            and (self.events is None or any(fnmatchcase(event.type, pattern) for pattern in self.events))
        )

    def signing_secrets(self, now: float) -> list[str]:
        """The current secret first, then those still inside their rotation overlap."""
        self.previous_secrets = [(s, until) for s, until in self.previous_secrets if until > now]
        return [self.secret, *(s for s, _ in self.previous_secrets)]

    def to_wire(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id, "provider": self.provider, "url": self.url, "tenant": self.tenant, "events": self.events,
            "description": self.description, "enabled": self.enabled, "disabled_reason": self.disabled_reason,
            "secret": self.secret,
            "previous_secrets": [{"secret": s, "expires_at": iso_timestamp(until)} for s, until in self.previous_secrets if until > now],
            "created_at": self.created_at,
        }


class EndpointRegistry:
    def __init__(self, make_id: Callable[[], str], random_bytes: Callable[[], bytes], targets: TargetCheck | None = None) -> None:
        self._make_id = make_id
        self._random_bytes = random_bytes
        self._endpoints: dict[str, Endpoint] = {}
        self.targets = targets  # set by the face; None: any URL
        self.touched: set[str] | None = None  # endpoints handed out or changed, when a durable backend asks

    def _touch(self, endpoint_id: str) -> None:
        if self.touched is not None:
            self.touched.add(endpoint_id)

    def restore(self, endpoint_id: str, endpoint: Endpoint | None) -> None:
        """Put back an endpoint from a durable backend (None: it was removed)."""
        if endpoint is None:
            self._endpoints.pop(endpoint_id, None)
        elif endpoint_id in self._endpoints:
            current = self._endpoints[endpoint_id]
            for name in Endpoint.__slots__:  # in place: a delivery in flight holds it
                setattr(current, name, getattr(endpoint, name))
        else:
            self._endpoints[endpoint_id] = endpoint

    def check_url(self, url: str) -> None:
        """Refuse (a 400 on `url`) a URL webhooks may not go to: this sandbox itself, or a host
        outside the allow-list. Every registration and URL change passes here."""
        refused = self.targets.refusal(url) if self.targets is not None else None
        if refused is not None:
            raise invalid_field("url", refused)

    async def delivery_refusal(self, url: str) -> str | None:
        """Checked again before each attempt, with the host's addresses as they resolve now."""
        return await self.targets.delivery_refusal(url) if self.targets is not None else None

    def add(
        self, provider: str, url: str, created_at: str, *, secret: str | None = None, endpoint_id: str | None = None,
        **options: Any,
    ) -> Endpoint:
        """`endpoint_id` (with `owned=True`): an endpoint a provider's own API made, with the tenant's ids."""
        self.check_url(url)
        secret = secret or new_secret(self._random_bytes())
        endpoint = Endpoint(endpoint_id or self._make_id(), provider, url, secret, created_at, **options)
        self._endpoints[endpoint.id] = endpoint
        self._touch(endpoint.id)
        return endpoint

    def get(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint, which the caller may change in place."""
        self._touch(endpoint_id)
        return self._endpoints.get(endpoint_id)

    def peek(self, endpoint_id: str) -> Endpoint | None:
        return self._endpoints.get(endpoint_id)

    def all(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    def forget(self, provider: str | None = None, tenant: str | None = None) -> None:
        """A reset forgets the endpoints a tenant made through its provider's API (they are its objects);
        endpoints registered on the control plane are configuration and stay."""
        doomed = [e for e in self._endpoints.values() if e.owned and provider in (None, e.provider) and tenant in (None, e.tenant)]
        for endpoint in doomed:
            del self._endpoints[endpoint.id]
            self._touch(endpoint.id)

    def remove(self, endpoint_id: str) -> bool:
        self._touch(endpoint_id)
        return self._endpoints.pop(endpoint_id, None) is not None

    def rotate(self, endpoint: Endpoint, now: float, overlap_seconds: float, secret: str | None = None) -> None:
        self._touch(endpoint.id)
        endpoint.previous_secrets.append((endpoint.secret, now + overlap_seconds))
        endpoint.secret = secret or new_secret(self._random_bytes())

    def matching(self, event: Event) -> list[Endpoint]:
        return [endpoint for endpoint in self._endpoints.values() if endpoint.wants(event)]
