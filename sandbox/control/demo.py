"""`POST /_sandbox/demo`: fill a few tenants with realistic objects, so a first look is not empty.

The fill goes through the providers' real HTTP APIs: the route sends requests to the very server
that answered it (the address the request reached), one after another, so that the same seed and
clock give the same objects. What to send is the face's plan (`sandbox/demo.py`): the control
plane knows no provider. Values come from Faker, seeded from the sandbox's seed and the number of
fills this server made before, so a second fill adds other names rather than the same ones again.

The requests a fill sends are ordinary requests: they are in the request log, their events and
webhooks are like any others. Requests to the control plane (an operator's decision) carry the
caller's admin credential, when the sandbox runs with one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.control.objects import listing
from sandbox.core.api import ProviderApi
from sandbox.core.errors import ErrorKind, SandboxError, from_validation, invalid_field
from sandbox.core.http import json_response, read_json
from sandbox.core.openapi import OBJECT, ResponseDoc
from sandbox.core.persistence import outside_turn
from sandbox.core.runtime import RUNTIME
from sandbox.core.store import Store

if TYPE_CHECKING:
    from faker import Faker

PATH = "/_sandbox/demo"
CONTROL = "/_sandbox/"
# The caller's admin credential, passed on to the control plane's routes a plan calls.
CREDENTIAL_HEADERS = ("Authorization", "X-Sandbox-Admin-Token", "Cookie")


class DemoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")] = "en_US"  # Faker's locale of the names and addresses


class Failed(Exception):
    """A step of a plan did not answer as expected: the steps that need its answer are skipped."""


@dataclass
class DemoRun:
    """What a plan uses: Faker (seeded), and `call` to send one request to this sandbox."""

    session: aiohttp.ClientSession
    base: str
    fake: Faker
    credential: Mapping[str, str] = field(default_factory=dict)
    sent: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """Send one request; its JSON answer (None for an empty one). Another status than `expect`
        is noted as a failure and raises `Failed`."""
        sent = dict(headers or {})
        if path.startswith(CONTROL):
            sent.update(self.credential)
        self.sent += 1
        async with self.session.request(method, self.base + path, json=body, headers=sent, allow_redirects=False) as resp:
            raw = await resp.read()
            self.statuses[resp.status] += 1
            if resp.status not in expect:
                self.failures.append({
                    "method": method, "path": path, "status": resp.status, "body": raw[:500].decode("utf-8", "replace"),
                })
                raise Failed(f"{method} {path} answered {resp.status}")
            return await resp.json(content_type=None) if raw else None

    async def step(self, work: Awaitable[Any]) -> Any:
        """Run one part of a plan; a failure (already noted) skips only that part."""
        try:
            return await work
        except Failed:
            return None


Plan = Callable[[DemoRun], Awaitable[None]]


def routes(api: ProviderApi, plan: Plan) -> list[web.RouteDef]:
    fills = itertools.count()

    @outside_turn  # it waits for requests to this server, each of which takes its own turn
    async def demo(request: web.Request) -> web.Response:
        raw = await read_json(request) if request.body_exists else None
        if raw is not None and not isinstance(raw, dict):
            raise invalid_field("body", "must be a JSON object")
        try:
            body = DemoBody.model_validate(raw or {})
        except ValidationError as exc:
            raise from_validation(exc) from None
        from faker.config import AVAILABLE_LOCALES

        if body.locale not in AVAILABLE_LOCALES:
            raise invalid_field("locale", "must be one of Faker's locales, such as en_US, de_DE or fr_FR")
        rt = request.app[RUNTIME]
        before = _counts(rt.store)
        fill = next(fills)
        credential = {name: request.headers[name] for name in CREDENTIAL_HEADERS if name in request.headers}
        run = await run_plan(plan, _own_address(request), rt.settings.seed, fill, body.locale, credential)
        after = _counts(rt.store)
        tenants = [
            {"provider": provider, "tenant": tenant, "objects": count, "added": count - before.get((provider, tenant), 0)}
            for (provider, tenant), count in after.items() if count != before.get((provider, tenant), 0)
        ]
        return json_response({
            "object": "demo_fill", "seed": rt.settings.seed, "fill": fill, "complete": not run.failures, "requests": run.sent,
            "tenants": tenants, "failures": run.failures,
        })

    return [api.document("POST", PATH, demo, body=DemoBody, empty_ok=True, checked_query=True, summary=(
        "Fill a few tenants of every provider with realistic objects (Faker, from the seed), through the providers' own APIs"
    ), responses={
        200: ResponseDoc(
            "What was filled: {object: demo_fill, seed, fill, complete, requests, tenants: [{provider, tenant, objects, added}], "
            "failures: [{method, path, status, body}]}", schema=OBJECT,
        ),
        400: "The body is not a JSON object, or its locale is not one",
        409: "The request did not come over TCP, so the fill has no address to send its requests to",
        413: "The body is larger than the sandbox accepts",
        415: "The body is not sent as JSON",
    })]


async def run_plan(plan: Plan, base: str, seed: int, fill: int, locale: str, credential: Mapping[str, str]) -> DemoRun:
    from faker import Faker  # imported on the first fill only: it takes a while, and a start need not wait for it

    fake = Faker(locale)
    fake.seed_instance(f"{seed}:{fill}")
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        run = DemoRun(session, base, fake, credential)
        await plan(run)
    return run


def _own_address(request: web.Request) -> str:
    """This server, at the socket the request reached (a Host header may name anything)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        raise SandboxError(ErrorKind.INVALID_STATE, "the demo fill sends its requests over TCP, and this request came another way")
    host = str(sockname[0])
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{sockname[1]}" if ":" in host else f"http://{host}:{sockname[1]}"


def _counts(store: Store) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for space, _, held in listing(store).collections():
        counts[(space.provider, space.tenant)] += held
    return dict(counts)

