"""The request log (`GET /_sandbox/requests`) and the one-line-per-request access log.

The hot path is one tuple appended to a bounded deque: the method, path and query as aiohttp
already holds them, a reference to the request's and the response's headers, the two bodies
as raw bytes cut to a bound, the status, the duration and the sandbox clock's time. Nothing is
parsed, redacted or rendered then: that happens when someone reads the log. With the log off
(`request_log_size` 0) and access lines off, nothing is noted at all (`core/edge.py`).

Redaction, at read time, covers:

- headers: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `X-Sandbox-Admin-Token` and every credential
  header a provider declares (`Provider.secret_headers`); the value keeps its scheme word
  (`Bearer [redacted]`), and a JWT keeps its header and claims but loses its signature;
- anywhere in bodies, query strings and other header values: webhook secrets (`whsec_…`), the
  signature of a JWT (`eyJ….eyJ….[redacted]`, so `sub` and `iss` still show), PEM private
  keys, and any run of 13 to 19 digits that passes the Luhn check (masked as a PAN may be
  shown: first six, last four);
- JSON fields by name, at any depth (case, `_` and `-` ignored): card numbers (`number`,
  `cardNumber`, `pan`, …: digits only, 12 or more, masked the same way, so a test card's BIN
  and last four still tell which magic card was sent), CVCs (`cvc`, `cvv`, `securityCode`, …:
  `***`) and secrets (`secret`, `password`, `cryptogram`, `privateKey`, …: `[redacted]`).

JSON numbers are not checked for Luhn (a millisecond timestamp has 13 digits); a card number
sent as a JSON number is still masked under a card-number field name.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from aiohttp import web

from sandbox.core.cards import luhn_ok
from sandbox.core.clock import iso_timestamp
from sandbox.core.http import HINT
from sandbox.core.regex import linear_regex

if TYPE_CHECKING:
    from sandbox.core.runtime import Runtime

access_log = logging.getLogger("sandbox.requests")

# Set by a route whose requests stay out of the log (reading the log itself).
UNLOGGED = web.RequestKey("sandbox.unlogged", bool)

DEFAULT_SIZE = 1000
DEFAULT_BODY_BYTES = 16 * 1024

ALWAYS_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-sandbox-admin-token"})
REDACTED = "[redacted]"


class LoggedRequest(NamedTuple):
    seq: int
    at: float  # the sandbox clock's timestamp when the answer was ready
    method: str
    path: str
    query: str
    provider: str | None
    tenant: str | None
    status: int
    duration: float  # seconds
    request_headers: Mapping[str, str]
    request_body: bytes | None  # cut to the log's body bound
    request_size: int
    response_headers: Mapping[str, str] | None
    response_body: bytes | None
    response_size: int
    hint: str | None  # a near miss: the nearest route, or where a missing id lives


_PROVIDER, _TENANT = LoggedRequest._fields.index("provider"), LoggedRequest._fields.index("tenant")


class RequestLog:
    """The last `size` requests, oldest dropped first; `size` 0 keeps nothing."""

    def __init__(self, size: int = DEFAULT_SIZE, body_bytes: int = DEFAULT_BODY_BYTES) -> None:
        self.size = size
        self.body_bytes = body_bytes
        # Plain tuples in LoggedRequest's order: building the named tuple costs a call per request,
        # so it is made when the log is read.
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        """Whether the log keeps anything (not whether it holds anything now)."""
        return self.size > 0

    def next_seq(self) -> int:
        return next(self._seq)

    def append(self, entry: tuple[Any, ...]) -> None:
        """One request, as the fields of `LoggedRequest` in order."""
        self._entries.append(entry)

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget everything, or the entries of one provider and/or tenant (as a reset scopes it)."""
        if provider is None and tenant is None:
            self._entries.clear()
            return
        kept = [e for e in self._entries if not ((provider in (None, e[_PROVIDER])) and (tenant in (None, e[_TENANT])))]
        self._entries = deque(kept, maxlen=self.size)

    def query(
        self, *, provider: str | None = None, tenant: str | None = None, path: str | None = None, status: str | None = None,
        method: str | None = None, since: int | None = None, limit: int = 100,
    ) -> list[LoggedRequest]:
        """Newest first. `provider` "_sandbox" selects the control plane's own requests; `path`
        is a prefix when it starts with `/` and a substring otherwise; `status` is `404` or `4xx`."""
        wanted_provider: str | None = provider
        control_plane = provider == "_sandbox"
        statuses = _status_filter(status)
        method = method.upper() if method else None
        found: list[LoggedRequest] = []
        for raw in reversed(self._entries):
            entry = LoggedRequest._make(raw)
            if since is not None and entry.seq <= since:
                break  # entries are in sequence order
            if provider is not None and entry.provider != (None if control_plane else wanted_provider):
                continue
            if tenant is not None and entry.tenant != tenant:
                continue
            if path is not None and not (entry.path.startswith(path) if path.startswith("/") else path in entry.path):
                continue
            if statuses is not None and not statuses[0] <= entry.status <= statuses[1]:
                continue
            if method is not None and entry.method != method:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found


def _status_filter(status: str | None) -> tuple[int, int] | None:
    if status is None:
        return None
    text = status.strip().lower()
    if len(text) == 3 and text[0].isdigit() and text[1:] == "xx":
        return int(text[0]) * 100, int(text[0]) * 100 + 99
    code = int(text)  # the query model checked the shape
    return code, code


STATUS_PATTERN = r"^([1-5][0-9][0-9]|[1-5][xX][xX])$"


# -- the middleware -------------------------------------------------------------------------


def request_notes(runtime: Runtime) -> Callable[[web.Request, int, web.StreamResponse | None, float, bytes | None], None] | None:
    """What feeds the log and writes access lines, for `core/edge.py`; None when neither is on."""
    log = runtime.requests
    if not log and not access_log.isEnabledFor(logging.INFO):
        return None
    registry, clock_now, bound, append, next_seq = runtime.providers, runtime.clock.timestamp, log.body_bytes, log.append, log.next_seq

    def note(request: web.Request, status: int, response: web.StreamResponse | None, start: float, raw: bytes | None) -> None:
        duration = time.perf_counter() - start
        owner = registry.owner(request.path)
        tenant = owner.tenant_of(request) if owner is not None else None
        if access_log.isEnabledFor(logging.INFO):
            _access_line(request, status, duration, owner.name if owner else None, tenant)
        if not log:
            return
        answer: bytes | None = None
        headers: Mapping[str, str] | None = None
        if response is not None:
            headers = response.headers
            body = getattr(response, "body", None)
            answer = body if isinstance(body, bytes) else None
        append((
            next_seq(), clock_now(), request.method, request.path, request.query_string,
            owner.name if owner else None, tenant, status, duration,
            request.headers, raw[:bound] if raw is not None else None, len(raw) if raw is not None else 0,
            headers, answer[:bound] if answer is not None else None, len(answer) if answer is not None else 0,
            request.get(HINT) if status >= 400 else None,
        ))

    return note


async def logged_body(request: web.Request, status: int) -> bytes | None:
    """The request's body for the log: only one that has arrived whole (never wait on a slow client
    to log it); what the handler read is kept by aiohttp, so this is no second read."""
    if status == 413 or not request.content.is_eof():
        return None
    try:
        return await request.read()
    except Exception:  # noqa: BLE001 - the log never fails a request
        return None


def _access_line(request: web.Request, status: int, duration: float, provider: str | None, tenant: str | None) -> None:
    hint = request.get(HINT) if status >= 400 else None  # the near miss: the nearest route, or the id's other tenant
    fields = {
        "method": request.method, "path": request.path, "status": status, "duration_ms": round(duration * 1000, 3),
        "provider": provider, "tenant": tenant,
    }
    if hint is None:
        access_log.info("%s %s %d %.1fms %s", request.method, request.path, status, duration * 1000, tenant or "-",
                        extra={"fields": fields})
    else:
        access_log.info("%s %s %d %.1fms %s (%s)", request.method, request.path, status, duration * 1000, tenant or "-", hint,
                        extra={"fields": {**fields, "hint": hint}})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso_timestamp(record.created), "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


# -- reading: render and redact -------------------------------------------------------------


def render(entry: LoggedRequest, secret_headers: frozenset[str]) -> dict[str, Any]:
    secret = ALWAYS_SECRET_HEADERS | secret_headers
    return {
        "seq": entry.seq,
        "time": iso_timestamp(entry.at),
        "method": entry.method,
        "path": entry.path,
        "query": redact_text(entry.query),
        "provider": entry.provider,
        "tenant": entry.tenant,
        "status": entry.status,
        "duration_ms": round(entry.duration * 1000, 3),
        "hint": entry.hint,
        "request": _message(entry.request_headers, entry.request_body, entry.request_size, secret),
        "response": _message(entry.response_headers, entry.response_body, entry.response_size, secret),
    }


def _message(headers: Mapping[str, str] | None, body: bytes | None, size: int, secret: frozenset[str]) -> dict[str, Any]:
    return {
        "headers": redact_headers(headers.items(), secret) if headers is not None else {},
        "body": _body(body, size),
        "body_bytes": size,
        "truncated": body is not None and size > len(body),
    }


def _body(raw: bytes | None, size: int) -> Any:
    if not raw:
        return None
    if size == len(raw):  # a cut body is shown as text
        try:
            return redact_json(orjson.loads(raw))
        except orjson.JSONDecodeError:
            pass
    return redact_text(raw.decode("utf-8", errors="replace"))


def redact_headers(headers: Iterable[tuple[str, str]], secret: frozenset[str]) -> dict[str, str]:
    return {str(name): _credential(value) if name.lower() in secret else redact_text(value) for name, value in headers}


def _credential(value: str) -> str:
    scheme, space, credential = value.strip().partition(" ")
    if not space:
        scheme, credential = "", scheme
    jwt = _JWT_WHOLE.fullmatch(credential.strip())
    masked = f"{jwt.group(1)}.{REDACTED}" if jwt else REDACTED
    return f"{scheme} {masked}" if scheme else masked


_WHSEC = re.compile(r"whsec_[A-Za-z0-9+/=_\-]+")
# RE2 for the two patterns a crafted body could make a backtracking engine spend quadratic time on.
_JWT = linear_regex(r"(eyJ[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*)\.[A-Za-z0-9_\-]+")
_PEM = linear_regex(r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----")
# A whole credential, anchored at both ends: linear for `re` too. RE2 lets go of the GIL on every
# call, and a worker thread doing that once per logged request starved the event loop of it for
# 300 ms at a time while rendering the request log.
_JWT_WHOLE = re.compile(r"(eyJ[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*)\.[A-Za-z0-9_\-]+")
_DIGITS = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def mask_pan(digits: str) -> str:
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:] if len(digits) >= 13 else "*" * len(digits)


def redact_text(text: str) -> str:
    if not text:
        return text
    # Each pattern only where its fixed part is: most texts are short and hold none, and a full
    # request log redacts tens of thousands of them on the event loop (RE2's sub is slow to call).
    if "whsec_" in text:
        text = _WHSEC.sub("whsec_" + REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub(lambda m: f"{m.group(1)}.{REDACTED}", text)
    if "PRIVATE KEY-----" in text:
        text = _PEM.sub("[private key redacted]", text)
    if len(text) < 13:  # no room for a card number
        return text
    return _DIGITS.sub(lambda m: mask_pan(m.group(0)) if luhn_ok(m.group(0)) else m.group(0), text)


def _field_name(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


PAN_FIELDS = frozenset({"number", "cardnumber", "pan", "accountnumber", "primaryaccountnumber"})
CVC_FIELDS = frozenset({"cvc", "cvv", "cvc2", "cvv2", "csc", "securitycode", "cardsecuritycode", "cardverificationcode"})
SECRET_FIELDS = frozenset({"secret", "password", "privatekey", "clientsecret", "cryptogram", "apikey"})


def redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_field(key: str, value: Any) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool):
        name = _field_name(key)
        if name in CVC_FIELDS:
            return "***"
        if name in PAN_FIELDS:
            digits = str(value).replace(" ", "").replace("-", "")
            if digits.isdigit() and len(digits) >= 12:
                return mask_pan(digits)
        if name in SECRET_FIELDS and isinstance(value, str) and value:
            shown = redact_text(value)
            return shown if shown != value else REDACTED  # `whsec_[redacted]` still says what it was
    return redact_json(value)
