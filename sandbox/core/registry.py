"""What core needs from a provider, and the registry the face fills at start-up.

A provider declares, in its own folder: its name and the paths it owns (so even an unknown
route gets its error shape), its error style, how its webhooks are signed, the scenario
operations it lets rules decide, how to find a request's tenant, which request headers a
recording keeps and which carry its credentials, and its routes (public and operator). Core
lists none of them: it asks the registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from pydantic import BaseModel

from sandbox.core.errors import ErrorStyle
from sandbox.core.events import Event
from sandbox.core.prefixes import PrefixMap

if TYPE_CHECKING:
    from sandbox.core.api import ProviderApi
    from sandbox.core.runtime import Runtime


class WebhookSigner(Protocol):
    def sign(self, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The signature headers of one attempt; `secrets` holds the current secret first."""
        ...

    def headers(self, event: Event, attempt: int) -> dict[str, str]:
        """Headers sent beside the signature (event type, attempt number, …)."""
        ...


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The paths it owns, so that even an unknown route gets its error shape."""
        ...

    @property
    def style(self) -> ErrorStyle: ...

    @property
    def signer(self) -> WebhookSigner: ...

    @property
    def outcomes(self) -> Mapping[str, type[BaseModel]]:
        """Scenario operation -> the model of the outcome its rules give (`then`)."""
        ...

    @property
    def recorded_headers(self) -> tuple[str, ...]:
        """Lower-case request headers a recording keeps (its credentials and idempotency key)."""
        ...

    @property
    def secret_headers(self) -> tuple[str, ...]:
        """Lower-case request headers that carry its credentials: the request log redacts them."""
        ...

    @property
    def open_pages(self) -> tuple[str, ...]:
        """Control-plane routes (templates) that need no admin token: its human-step pages, which a
        front end opens for a cardholder in a popup or a frame (no header), each acting on the one
        object its id names; and whatever the real provider publishes too (a verification key)."""
        ...

    def tenant_of(self, request: web.Request) -> str | None:
        """The tenant a request acts for, read before the provider authenticates it."""
        ...

    def tenant_named(self, text: str) -> str:
        """The tenant a control-plane caller means by `text`: itself, or the tenant a credential stands for."""
        ...

    def mount(self, runtime: Runtime, operator: ProviderApi) -> list[web.RouteDef]:
        """Its public routes, and its operator routes and pages (through `operator`, the control plane's API)."""
        ...


def as_sent(text: str) -> str:
    """`Provider.tenant_named` of a provider whose tenant is written as it is sent (a key, a project id)."""
    return text


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}
        self._owners: PrefixMap[Provider] = PrefixMap()

    def register(self, provider: Provider) -> None:
        if provider.name in self._providers:
            raise ValueError(f"provider {provider.name!r} is registered twice")
        self._owners.add(provider.prefixes, provider)
        self._providers[provider.name] = provider

    @property
    def names(self) -> list[str]:
        return list(self._providers)

    def __iter__(self) -> Iterator[Provider]:
        return iter(list(self._providers.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def signer(self, name: str) -> WebhookSigner:
        return self._providers[name].signer

    def owner(self, path: str) -> Provider | None:
        return self._owners.owner(path)

    def tenant_of(self, request: web.Request) -> str | None:
        owner = self.owner(request.path)
        return owner.tenant_of(request) if owner is not None else None

    def get(self, name: str) -> Provider | None:
        return self._providers.get(name)

    def recorded_headers(self) -> frozenset[str]:
        return frozenset(header for provider in self._providers.values() for header in provider.recorded_headers)

    def secret_headers(self) -> frozenset[str]:
        return frozenset(header.lower() for provider in self._providers.values() for header in provider.secret_headers)
