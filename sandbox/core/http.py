"""HTTP plumbing shared by every provider: JSON bodies, JSON responses, error rendering."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.errors import ErrorKind, ErrorStyle, SandboxError

log = logging.getLogger("sandbox")

JSON = "application/json"


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
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    if not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
        orjson.dumps(value)  # what cannot be written back (nested past 254 levels) cannot be stored or echoed
    except orjson.JSONDecodeError as exc:
        raise SandboxError(ErrorKind.MALFORMED, f"Request body is not valid JSON: {exc}") from None
    except orjson.JSONEncodeError:
        raise SandboxError(ErrorKind.MALFORMED, "Request body is nested too deeply (at most 254 levels)") from None
    return value


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
        self._prefixes: list[tuple[str, ErrorStyle]] = []

    def add(self, prefixes: Sequence[str], style: ErrorStyle) -> None:
        self._prefixes.extend((p, style) for p in prefixes)
        self._prefixes.sort(key=lambda item: -len(item[0]))

    def style_for(self, path: str) -> ErrorStyle:
        for prefix, style in self._prefixes:
            if path.startswith(prefix):
                return style
        return self._fallback

    def respond(self, request: web.Request, error: SandboxError) -> web.Response:
        return error_response(self.style_for(request.path), error, request.path)

    def middleware(self) -> Middleware:
        @web.middleware
        async def render_errors(request: web.Request, handler: Any) -> web.StreamResponse:
            try:
                return await handler(request)
            except SandboxError as error:
                return self.respond(request, error)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                return self.respond(request, _from_http(request, exc))
            except Exception:  # never a stack trace on the wire
                log.exception("unhandled error on %s %s", request.method, request.path)
                return self.respond(request, SandboxError(ErrorKind.INTERNAL, "Internal sandbox error"))

        return render_errors


def _from_http(request: web.Request, exc: web.HTTPException) -> SandboxError:
    kind, template = _HTTP_KINDS.get(exc.status, (ErrorKind.MALFORMED, exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
    status = exc.status if kind is ErrorKind.MALFORMED else None
    return SandboxError(kind, template.format(method=request.method, path=request.path), headers=headers, status=status)


EXPOSED_HEADERS = (
    "X-Total-Count, X-Limit, X-Offset, X-Has-Next, X-Has-Previous, Idempotent-Replayed, Idempotency-Key, WWW-Authenticate"
)


@web.middleware
async def cors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Let browser SDKs (a front end on localhost:3000, say) call the sandbox."""
    origin = request.headers.get("Origin")
    if origin is None:
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Authorization, Content-Type"
        )
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.headers["Vary"] = "Origin"
    return response
