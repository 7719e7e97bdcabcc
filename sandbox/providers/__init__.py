"""The emulated providers. Each depends on `sandbox.core`, never on another provider."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from sandbox.core.errors import ErrorStyle
from sandbox.core.runtime import Runtime


class Provider(Protocol):
    name: str
    prefixes: tuple[str, ...]  # paths this provider owns, so even unknown routes get its error shape
    style: ErrorStyle
    webhook_scheme: str  # how its webhooks are signed: dino | svix | standard

    def routes(self, runtime: Runtime) -> list[web.RouteDef]: ...
