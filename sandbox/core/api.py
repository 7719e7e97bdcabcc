"""A provider's HTTP surface: authentication, JSON bodies and idempotency around small handlers.

Handlers are plain functions `(Call) -> Reply`. They run without awaiting, so each one is
atomic on the event loop; everything asynchronous (reading the body, waiting for a
concurrent request with the same idempotency key) happens here, around them.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from sandbox.core.errors import ErrorKind, ErrorStyle, SandboxError, from_validation, invalid_field
from sandbox.core.http import HINT, JSON, error_response, json_response, read_json
from sandbox.core.idempotency import UNSAVED_STATUSES, StoredResponse, fingerprint
from sandbox.core.limits import collector_paused
from sandbox.core.openapi import ApiInfo, ResponseDoc, RouteDoc
from sandbox.core.runtime import RUNTIME, Runtime
from sandbox.core.security import links_base
from sandbox.core.store import Space

M = TypeVar("M", bound=BaseModel)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(slots=True)
class Call:
    request: web.Request
    space: Space
    body: Any
    null_body: bool = False  # the body was the JSON literal `null`: not "no body", so never an empty one

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    def parse(self, model: type[M], *, empty_ok: bool = False) -> M:
        """Validate the JSON body with a pydantic model; field errors name the field."""
        body = self.body
        if body is None and empty_ok and not self.null_body:
            body = {}
        if not isinstance(body, dict):
            raise invalid_field("body", "must be a JSON object")
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise from_validation(exc) from None

    def query(self, model: type[M]) -> M:
        """Validate the query string; a repeated parameter keeps its first value."""
        try:
            return model.model_validate(dict(self.request.query))
        except ValidationError as exc:
            raise from_validation(exc) from None

    def links_base(self) -> str:
        """Scheme and host for links handed to the caller (approval pages and the like): the public
        URL, else the Host header only when it names this server, else the address the request
        reached (`core/security.py`); `Host: evil.example` never makes a link point there."""
        return links_base(self.request, self.request.app[RUNTIME].settings.public_url)


@dataclass(slots=True)
class Reply:
    payload: Any
    status: int = 200
    headers: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class InThread:
    """A payload too costly to build on the event loop (a full request log, each body redacted):
    the handler chooses what to show, `make()` builds it in a worker thread from values that do not
    change. Only for answers that are not stored under an idempotency key."""

    make: Callable[[], Any]


# A finer principal than the tenant (an entity inside a project, say), set by an
# authenticator: idempotency keys never cross it.
PRINCIPAL = web.RequestKey("principal", str)

Handler = Callable[[Call], Reply]
Authenticator = Callable[[web.Request], str]
Responses = Mapping[int, str | ResponseDoc]

# The attribute naming the API an endpoint belongs to: set once when the route is declared, so that
# the documents (`core/openapi.py`) find every API of an application from its router alone.
_API_OF = "sandbox_provider_api"


class ProviderApi:
    def __init__(
        self, runtime: Runtime, provider: str, authenticate: Authenticator, style: ErrorStyle,
        idempotency_header: str = IDEMPOTENCY_HEADER, unsaved_statuses: frozenset[int] = UNSAVED_STATUSES,
        idempotent_methods: frozenset[str] = frozenset(), trailing_slash: bool = False, strict_query: bool = False,
    ) -> None:
        self.idempotency_header = idempotency_header  # a provider may name its own
        self.unsaved_statuses = unsaved_statuses  # answers not kept for a key, so a retry can succeed
        # Methods whose routes honour the idempotency header unless a route says otherwise.
        self.idempotent_methods = idempotent_methods
        # Serve `/things/` as `/things` (clients that join a base path and "/" send both), one
        # resource per route: the documents and the route table show each path once.
        self.trailing_slash = trailing_slash
        # A query parameter the route does not declare is a 400 rather than ignored: for the control
        # plane, where `POST /_sandbox/reset?provider=x` must not reset everything.
        self.strict_query = strict_query
        self.runtime = runtime
        self.provider = provider
        self.authenticate = authenticate
        self.style = style
        # Documentation, collected once while the routes are declared (never on the request path).
        self.info = ApiInfo(title=provider)
        self.docs: list[RouteDoc] = []

    def describe(self, info: ApiInfo) -> None:
        """What the API's document says of it as a whole: title, description, security scheme."""
        self.info = info

    def route(
        self, method: str, path: str, handler: Handler, *, idempotent: bool | None = None,
        body: type[BaseModel] | None = None, body_media: str | tuple[str, ...] = (), empty_ok: bool = False,
        query: type[BaseModel] | None = None, summary: str = "", description: str = "", responses: Responses | None = None,
        tags: tuple[str, ...] = (),
    ) -> web.RouteDef:
        """A handler behind authentication, the JSON body and idempotency (`idempotent` None: as
        the API's `idempotent_methods` say for the method). The keywords after `idempotent` only
        document the route: `body` and `query` are the models the handler parses (`body_media`
        the media types it is documented under, JSON unless said; `empty_ok` as it passes to
        `Call.parse`), `responses` its statuses beyond those the machinery gives every route
        (`core/openapi.py`)."""
        if idempotent is None:
            idempotent = method in self.idempotent_methods
        accepted = _parameters(query) if self.strict_query else None

        async def endpoint(request: web.Request) -> web.StreamResponse:
            if accepted is not None and request.query_string:
                _refuse_undeclared(request, accepted)
            space = Space(self.provider, self.authenticate(request))
            body = await read_json(request) if request.method != "GET" else None
            call = Call(request, space, body)
            if body is None and request.body_exists and request.method != "GET":
                call.null_body = bool((await request.read()).strip())  # read_json read it: aiohttp keeps it
            key = request.headers.get(self.idempotency_header) if idempotent else None
            if key is None:
                reply = self._run(handler, call)
                if isinstance(reply.payload, InThread):
                    body = await asyncio.to_thread(_made, reply.payload)
                    return web.Response(body=body, status=reply.status, content_type=JSON, headers=reply.headers)
                return self._render(reply)
            return await self._idempotent(call, key, handler)

        setattr(endpoint, _API_OF, self)
        self.docs.append(RouteDoc(
            method, path, summary=summary or _summary_of(handler), description=description, body=body,
            body_media=(body_media,) if isinstance(body_media, str) else body_media, empty_ok=empty_ok,
            query=query, responses=dict(responses or {}), tags=tags, authenticated=True, reads_body=method != "GET",
            idempotency_header=self.idempotency_header if idempotent else None,
        ))
        return self._route_def(method, path, endpoint)

    def document(
        self, method: str, path: str, handler: Callable[[web.Request], Any], *, summary: str, description: str = "",
        body: type[BaseModel] | None = None, body_media: str | tuple[str, ...] = (), empty_ok: bool = False,
        query: type[BaseModel] | None = None, responses: Responses | None = None, tags: tuple[str, ...] = (),
        checked_query: bool = False,
    ) -> web.RouteDef:
        """A plain aiohttp handler (a page, a stream, a non-JSON body), documented in this API's
        document; it is routed exactly as `web.route` would, without authentication. With
        `checked_query` (and a `strict_query` API), an undeclared query parameter is a 400, as on
        `route`; pages stay lenient, since a front end may add its own."""
        if checked_query and self.strict_query:
            handler = _checking_query(handler, _parameters(query))
        self.docs.append(RouteDoc(
            method, path, summary=summary, description=description, body=body, empty_ok=empty_ok,
            body_media=(body_media,) if isinstance(body_media, str) else body_media,
            query=query, responses=dict(responses or {}), tags=tags, authenticated=False, reads_body=False,
        ))
        return self._route_def(method, path, handler)

    def _route_def(self, method: str, path: str, handler: Any) -> web.RouteDef:
        if self.trailing_slash and path != "/" and not path.endswith("/"):
            return SlashTolerantRoute(method, path, handler, {})
        return web.route(method, path, handler)

    def _run(self, handler: Handler, call: Call) -> Reply:
        try:
            return handler(call)
        except SandboxError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                self._near_miss(call, error)
            raise

    def _near_miss(self, call: Call, error: SandboxError) -> None:
        """WireMock's near miss for a missing object: say when its id exists under another tenant
        (never which one) or another provider. The ids asked about: the path's parameters, the
        error's `details.id` and the id-like words of its message."""
        if self.provider not in self.runtime.providers or "hint" in error.details:
            return  # the control plane sees every tenant anyway
        asked = {value for value in call.request.match_info.values() if value}
        if isinstance(error.details.get("id"), str):
            asked.add(error.details["id"])
        asked.update(_id_like_words(error.message))
        elsewhere = [(obj_id, space) for obj_id, space in self.runtime.store.holders(asked) if space != call.space]
        if not elsewhere:
            return
        obj_id, space = min(elsewhere, key=lambda found: found[1].provider != call.space.provider)
        if space.provider == call.space.provider:
            hint = f"{obj_id} exists under another tenant (another API key or project), which this one cannot see"
        else:
            hint = f"{obj_id} exists, but belongs to another provider's API"
        error.message = f"{error.message}; {hint}"
        error.details["hint"] = hint
        call.request[HINT] = hint

    def _render(self, reply: Reply) -> web.Response:
        if reply.status == 204:
            return web.Response(status=204, headers=reply.headers)
        return json_response(reply.payload, reply.status, reply.headers)

    async def _idempotent(self, call: Call, key: str, handler: Handler) -> web.Response:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise invalid_field(self.idempotency_header, f"must be 1 to {MAX_KEY_LENGTH} characters")
        keys = self.runtime.idempotency
        principal = call.request.get(PRINCIPAL, "")
        path = call.request.path.rstrip("/") or "/"  # `/things/` is `/things` (`trailing_slash`)
        scope = (call.space.provider, call.space.tenant, principal, call.request.method, path, key)
        body_print = fingerprint(call.body)
        while (entry := keys.lookup(scope)) is not None:
            if entry.fingerprint != body_print:
                raise SandboxError(
                    ErrorKind.IDEMPOTENCY_CONFLICT,
                    f"{self.idempotency_header} {key!r} was already used with a different request body on this endpoint",
                    details={"idempotency_key": key},
                )
            await asyncio.shield(entry.done)
            if entry.response is not None:
                return _replay(entry.response, key, self.idempotency_header)
            # The first attempt was not processed (e.g. failed validation): try again.
        entry = keys.begin(scope, body_print)
        response: web.Response | None = None
        try:
            try:
                response = self._render(self._run(handler, call))
            except SandboxError as error:
                response = error_response(self.style, error, call.request.path)
        finally:
            keys.finish(scope, entry, self._stored(response))  # also when the handler crashed: waiters go on
        response.headers[self.idempotency_header] = key
        return response

    def _stored(self, response: web.Response | None) -> StoredResponse | None:
        """What a retry with the same key replays; None when the request counts as never processed."""
        if response is None or response.status in self.unsaved_statuses or response.status >= 500:
            return None
        # A copy: orjson's bytes carry spare capacity that would stay allocated with the key.
        return StoredResponse(response.status, bytes(cast(bytes, response.body)), _kept_headers(response))


class SlashTolerantRoute(web.RouteDef):
    """A route whose path also answers with one trailing slash: `/things/` and `/things/{id}/` are
    served as `/things` and `/things/{id}`. Its resource keeps the route's own path as canonical
    (so the route table, its documents and near-miss hints show it once); consecutive routes of
    one path share a resource, as aiohttp's own do."""

    def register(self, router: web.UrlDispatcher) -> list[web.AbstractRoute]:
        last = next(reversed(list(router.resources())), None)
        if isinstance(last, (_SlashPlain, _SlashDynamic)) and last.raw_match(self.path):
            resource: web.Resource = last
        else:
            dynamic = "{" in self.path or "}" in self.path
            resource = _SlashDynamic(self.path) if dynamic else _SlashPlain(self.path)
            router.register_resource(resource)
        routes: list[web.AbstractRoute] = []
        if self.method == "GET":  # as `router.add_get` does
            routes.append(resource.add_route("HEAD", self.handler, **self.kwargs))
        routes.append(resource.add_route(self.method, self.handler, **self.kwargs))
        return routes


def _without_slash(path: str) -> str:
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


class _SlashPlain(web.PlainResource):
    def _match(self, path: str) -> dict[str, str] | None:
        return super()._match(_without_slash(path))


class _SlashDynamic(web.DynamicResource):
    def _match(self, path: str) -> dict[str, str] | None:
        return super()._match(_without_slash(path))


def apis_of(app: web.Application) -> list[ProviderApi]:
    """Every API whose routes an application serves, in the order they were mounted."""
    found: dict[int, ProviderApi] = {}
    for route in app.router.routes():
        api = getattr(route.handler, _API_OF, None)
        if isinstance(api, ProviderApi):
            found.setdefault(id(api), api)
    return list(found.values())


def _made(payload: InThread) -> bytes:
    """The payload as JSON. Made and dropped with the cycle collector off: its many small objects
    set off no collection (which holds the GIL), and are gone before it resumes."""
    with collector_paused():
        return orjson.dumps(payload.make())


def _summary_of(handler: Handler) -> str:
    """A route declared without a summary is named after its handler: `list_intents` -> "List intents"."""
    name = getattr(handler, "__name__", "").strip("_")
    return name.replace("_", " ").capitalize() if name and name != "<lambda>" else ""


_WORD = re.compile(r"[A-Za-z0-9_\-.:]+")  # one linear pass: no nested quantifiers to backtrack
_ID_MARK = re.compile(r"[0-9_\-]")
MAX_ID_LENGTH = 128  # ids are far shorter; longer words are not worth a lookup


def _id_like_words(message: str) -> set[str]:
    """The words of a message that look like ids: a digit, `_` or `-` inside, trimmed of punctuation."""
    words = (word.strip("_-.:") for word in _WORD.findall(message))
    return {word for word in words if 1 < len(word) <= MAX_ID_LENGTH and _ID_MARK.search(word)}


def _kept_headers(response: web.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower() not in ("content-length", "date", "server")}


def _replay(stored: StoredResponse, key: str, header: str) -> web.Response:
    headers = dict(stored.headers)
    headers[header] = key
    headers["Idempotent-Replayed"] = "true"
    return web.Response(body=stored.body, status=stored.status, headers=headers)


def _parameters(query: type[BaseModel] | None) -> frozenset[str]:
    """The query parameters a route's model declares (by the name sent)."""
    if query is None:
        return frozenset()
    return frozenset(field.alias or name for name, field in query.model_fields.items())


def _refuse_undeclared(request: web.Request, accepted: frozenset[str]) -> None:
    unknown = sorted(set(request.query) - accepted)
    if unknown:
        takes = f"it takes {', '.join(sorted(accepted))}" if accepted else "it takes none"
        raise invalid_field(unknown[0], f"is not a query parameter of this route ({takes})")


def _checking_query(handler: Callable[[web.Request], Any], accepted: frozenset[str]) -> Callable[[web.Request], Any]:
    @functools.wraps(handler)  # with the marks set on the handler (`outside_turn`: a flush must hold no lock)
    async def checked(request: web.Request) -> Any:
        if request.query_string:
            _refuse_undeclared(request, accepted)
        return await handler(request)

    return checked
