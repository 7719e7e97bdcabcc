"""HTTP plumbing shared by every provider: JSON bodies, JSON responses, error rendering."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.errors import ErrorKind, ErrorStyle, SandboxError
from sandbox.core.prefixes import PrefixMap

log = logging.getLogger("sandbox")

JSON = "application/json"

# A near miss, set on the request when an error names one (the nearest route, where a missing
# id lives), so that the request log shows it beside the answer.
HINT = web.RequestKey("sandbox.hint", str)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type=JSON, headers=headers)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or None when there is none.

    Raises provider-neutral errors for a wrong content type, an oversized body or bad JSON.
    """
    if not request.body_exists:
        return None
    if request.content_type not in (JSON, "application/x-json") and not request.content_type.endswith("+json"):
        raise SandboxError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be application/json, not {request.content_type or 'missing'}",
            details={"content_type": request.content_type},
        )
    raw = await request.read()  # aiohttp enforces client_max_size here (413), the read deadline a 408
    if not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # counted in C: only a body that could be that deep is written
            orjson.dumps(value)  # what cannot be written back (nested past 254 levels) cannot be stored or echoed
    except orjson.JSONDecodeError as exc:
        raise SandboxError(ErrorKind.MALFORMED, f"Request body is not valid JSON: {exc}") from None
    except orjson.JSONEncodeError:
        raise SandboxError(ErrorKind.MALFORMED, "Request body is nested too deeply (at most 254 levels)") from None
    if _more_values(raw, value, MAX_JSON_VALUES):
        raise SandboxError(ErrorKind.MALFORMED, f"Request body holds more than {MAX_JSON_VALUES} JSON values")
    return value


MAX_DEPTH = 254  # orjson writes no deeper

# No provider's request holds more than a few hundred values; a 1 MiB body can hold 100 000, and
# validating that many unknown fields (one error each) held the event loop for half a second.
MAX_JSON_VALUES = 10_000


def _more_values(raw: bytes, value: Any, limit: int) -> bool:
    """Whether `value` (parsed from `raw`) holds more than `limit` values, containers included."""
    # Every value but the first follows a comma or opens a container: a bound counted in C.
    if raw.count(b",") + 2 * (raw.count(b"[") + raw.count(b"{")) + 1 <= limit:
        return False
    return holds_more_values(value, limit)


def holds_more_values(value: Any, limit: int) -> bool:
    """Whether a JSON-like value holds more than `limit` values, containers included; stops early."""
    budget, stack = limit, [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def error_response(style: ErrorStyle, error: SandboxError, path: str) -> web.Response:
    status, body = style.render(error, path)
    return json_response(body, status, error.headers or None)


# aiohttp raises these for requests that never reach a handler.
_HTTP_KINDS = {
    404: (ErrorKind.ROUTE_NOT_FOUND, "No route for {method} {path}"),
    405: (ErrorKind.METHOD_NOT_ALLOWED, "Method {method} is not allowed on {path}"),
    413: (ErrorKind.PAYLOAD_TOO_LARGE, "Request body is larger than the sandbox accepts"),
}


class ErrorRouter:
    """Finds the error style of the provider that owns a path (longest prefix wins)."""

    def __init__(self, fallback: ErrorStyle) -> None:
        self._fallback = fallback
        self._owners: PrefixMap[ErrorStyle] = PrefixMap()
        self._routes: list[tuple[str, str, ErrorStyle | None]] | None = None  # (method, template, its owner's style)

    def add(self, prefixes: Sequence[str], style: ErrorStyle) -> None:
        self._owners.add(prefixes, style)

    def _owner(self, path: str) -> ErrorStyle | None:
        return self._owners.owner(path)

    def style_for(self, path: str) -> ErrorStyle:
        owner = self._owner(path)
        return self._fallback if owner is None else owner

    def respond(self, request: web.Request, error: SandboxError) -> web.Response:
        return error_response(self.style_for(request.path), error, request.path)

    def middleware(self) -> Middleware:
        @web.middleware
        async def render_errors(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self.guard(request, handler)

        return render_errors

    async def guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """`handler`'s answer, or its error in the owning provider's shape (for middlewares outside this one too)."""
        try:
            return await handler(request)
        except Exception as exc:  # noqa: BLE001 - answered, or raised again
            return self.answer(request, exc)

    def answer(self, request: web.Request, exc: Exception) -> web.StreamResponse:
        """The answer to what a handler raised, in the owning provider's shape; raises again what is
        no error of the request's (a redirect, a client that went away). Call it in an `except`."""
        if isinstance(exc, SandboxError):
            return self.respond(request, exc)
        if isinstance(exc, BodyTimeout):  # the body did not arrive in time (core/limits.py)
            return self.respond(request, exc.error())
        if isinstance(exc, web.HTTPException):
            if exc.status < 400:
                raise exc
            return self.respond(request, self._from_http(request, exc))
        if isinstance(exc, (BadBody, web.RequestPayloadError)):
            # a chunked body the parser refused halfway (core/limits.py), or e.g. Content-Encoding: gzip
            # on a body that is not compressed: the rest cannot be drained, so the connection closes
            error = exc.error() if isinstance(exc, BadBody) else SandboxError(
                ErrorKind.MALFORMED, "The request body could not be read as its Content-Encoding says")
            response = self.respond(request, error)
            response.force_close()
            return response
        if isinstance(exc, ConnectionError) and (request.transport is None or request.transport.is_closing()):
            log.debug("client went away during %s %s", request.method, request.path)  # no one to answer
            raise exc
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)  # never a stack trace on the wire
        return self.respond(request, SandboxError(ErrorKind.INTERNAL, "Internal sandbox error"))

    def _from_http(self, request: web.Request, exc: web.HTTPException) -> SandboxError:
        kind, template = _HTTP_KINDS.get(exc.status, (ErrorKind.MALFORMED, exc.reason))
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        status = exc.status if kind is ErrorKind.MALFORMED else None
        message = template.format(method=request.method, path=request.path)
        details: dict[str, Any] = {}
        nearest = self.nearest_route(request) if kind in (ErrorKind.ROUTE_NOT_FOUND, ErrorKind.METHOD_NOT_ALLOWED) else None
        if nearest is not None:  # a near miss: said in the message (every style shows it) and in the details
            hint = f"did you mean {nearest}?"
            message = f"{message}; {hint}"
            details["nearest_route"] = nearest
            request[HINT] = hint
        return SandboxError(kind, message, details=details, headers=headers, status=status)

    def nearest_route(self, request: web.Request) -> str | None:
        """`METHOD /template` of the route most like the request among those of the provider
        owning its path (every route, for a path nobody owns); None when none is close."""
        if self._routes is None:  # fixed once the app serves: read at the first miss
            self._routes = [
                (route.method, route.resource.canonical, self._owner(route.resource.canonical))
                for route in request.app.router.routes()
                if route.resource is not None and route.method not in ("HEAD", "*")
            ]
        owner = self._owner(request.path)
        best, best_score = None, NEAREST_CUTOFF
        for method, template, style in self._routes:
            if owner is not None and style is not owner:
                continue
            distance = _method_distance(method, request.method)
            score = path_likeness(template, request.path, floor=best_score + distance) - distance
            if score > best_score:
                best, best_score = f"{method} {template}", score
        return best


NEAREST_CUTOFF = 0.8  # below it a suggestion is more noise than help
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _method_distance(route_method: str, asked: str) -> float:
    """Another method costs a little, a write for a write (or a read for a read) less."""
    if route_method == asked:
        return 0.0
    return 0.05 if (route_method in _WRITES) == (asked in _WRITES) else 0.1


def path_likeness(template: str, path: str, floor: float = 0.0) -> float:
    """0..1: how alike a route template and a concrete path read; a `{placeholder}` takes
    whatever segment stands in its place, so an id never counts as a difference. 0 when the
    two lengths alone rule out beating `floor` (SequenceMatcher is quadratic: a 5 KB path
    compared with every route took 200 ms)."""
    wanted = template.strip("/").split("/")
    given = path.strip("/").split("/")
    aligned = [w if w.startswith("{") else g for w, g in zip(wanted, given, strict=False)] + given[len(wanted):]
    left, right = "/".join(wanted), "/".join(aligned)
    total = len(left) + len(right)
    if floor > 0 and total and 2 * min(len(left), len(right)) / total <= floor:  # the best ratio these lengths allow
        return 0.0
    return SequenceMatcher(None, left, right, autojunk=False).ratio()


class BodyTimeout(TimeoutError):
    """Set on a request's body stream when the body did not arrive within the read timeout: the
    handler's read raises it (a `TimeoutError`, so aiohttp's lingering read after the answer
    swallows it and closes the connection)."""

    def error(self) -> SandboxError:
        return SandboxError(ErrorKind.MALFORMED, str(self), status=408)


class BadBody(web.RequestPayloadError):
    """Set on a request's body stream when the parser refuses the body halfway (a malformed
    chunk): the handler's read raises it, answered as a 400 in the owning provider's shape."""

    def error(self) -> SandboxError:
        return SandboxError(ErrorKind.MALFORMED, str(self))


# The app's error router, for what answers outside the app's handlers (core/limits.py: the
# requests aiohttp's parser refuses).
ERRORS = web.AppKey("sandbox.errors", ErrorRouter)


EXPOSED_HEADERS = (
    "X-Total-Count, X-Limit, X-Offset, X-Has-Next, X-Has-Previous, Idempotent-Replayed, Idempotency-Key, WWW-Authenticate"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cors(allowed: Callable[[str], bool], closed: Sequence[str] = ()) -> Middleware:
    """Let browser SDKs call the providers' APIs from the origins `allowed` accepts (a front end on
    localhost:3000, say), and only from those: another origin's preflight is a 403 and its answers
    carry no CORS header, so the browser keeps them from the page. Paths under `closed` (the
    control plane) never answer cross-origin at all; the sandbox's own pages are same-origin."""
    closed_prefixes = tuple(closed)

    @web.middleware
    async def cors_headers(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or request.path.startswith(closed_prefixes):
            return await handler(request)
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if not allowed(origin):
            if preflight:
                text = f"Origin {origin} may not call this sandbox from a browser: add it with --cors-origin (SANDBOX_CORS_ORIGINS)\n"
                return web.Response(status=403, text=text, headers={"Vary": "Origin"})
            response = await handler(request)
            _vary_origin(response)
            return response
        if preflight:
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Authorization, Content-Type"
            )
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
        if not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            _vary_origin(response)
        return response

    return cors_headers


def _vary_origin(response: web.StreamResponse) -> None:
    """The answer depends on the Origin header: say so to caches."""
    if response.prepared:
        return
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Origin"
