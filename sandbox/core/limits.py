"""How long a client may take to send a request, and to stay connected doing nothing.

aiohttp bounds the size of a request line and of each header (8190 bytes) and the number of
headers (128), and closes a connection idle for `keepalive_timeout` (also one that never sent a
complete request). It has no bound on the time a request takes to arrive: a client sending half
a request (slowloris) would hold its connection for ever. Two pieces close that:

- `SandboxRunner` serves connections with `TimedRequestHandler`, which closes a connection whose
  request head (line and headers) is not complete `read_timeout` seconds after its first byte;
- `ReadDeadline`, run around every request (`core/edge.py`), gives the body the same time from
  the end of the head: past it,
  reading the body raises `BodyTimeout` (a 408 in the owning provider's error shape), and the
  connection closes after the answer.

`TimedRequestHandler` also answers what aiohttp's parser refuses before any route runs (a
request line or header over its bounds, too many headers, a control character in a header, an
unknown method, a malformed request line, a bad Content-Length or chunked body; and a request
line with no HTTP version, which llhttp would accept as HTTP/0.9): in the error shape of the
provider owning the path (read from the raw request line), the control plane's otherwise, with a
fixed message per case that never repeats a header value. A client that goes away is a debug
line, not a traceback; a bug escaping the app still logs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.http import HttpVersion10
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, InvalidURLError, LineTooLong
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from yarl import URL

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.http import ERRORS, BadBody, BodyTimeout, ErrorRouter, error_response

log = logging.getLogger("sandbox")

_LINE_KEPT = 512  # bytes of a request line kept to find the path it names
_TARGET = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]+([^ \t\r\n]+)")  # METHOD SP request-target
_INSTANCE_CHARS = 200  # of a rejected path, echoed where a provider's shape names the path
# After an answer, aiohttp reads and drops what is left of a body nobody read (its "lingering"
# read), inflating a compressed one as it goes, without ever yielding while inflated bytes keep
# coming: a gzip bomb held the event loop about 2.3 ms per MB it inflated to (290 ms for 100 MB).
# Past this many bytes after the answer, the connection closes instead (about 10 ms of inflating).
_DRAIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Rejected:
    """What the raw bytes said about a request the parser refused, taken when it refused it."""

    path: str | None  # the path its request line names, when it names one
    line_len: int  # bytes of its request line seen
    line_ended: bool  # whether the request line's end had arrived


class ObsoleteHttp(BadStatusLine):
    """A request line with no HTTP version: llhttp reads it as HTTP/0.9 and parses the headers
    after it anyway. The sandbox answers it as the malformed request line it is."""

    def __init__(self) -> None:
        super().__init__(error="The request line has no HTTP version")


def _path_of(line: bytes) -> str | None:
    """The path a request line names; None when it names none."""
    match = _TARGET.match(line)
    return None if match is None else _path_of_target(match.group(1))


def _path_of_target(target: bytes) -> str | None:
    """The path of a request-target (origin or absolute form), percent-encoded and cut short."""
    if not target.startswith(b"/"):
        if not target.lower().startswith((b"http://", b"https://")):
            return None
        target = urlsplit(target).path or b"/"
    target = target.split(b"?", 1)[0].split(b"#", 1)[0]
    return quote(target[:_INSTANCE_CHARS], safe="/%:@!$&'()*+,;=-._~")


def _target(message: Any) -> bytes:
    return str(message.path).encode("utf-8", "surrogateescape")


def _reject(exc: HttpProcessingError, seen: _Rejected, handler: RequestHandler) -> tuple[int, str]:
    """The status and the fixed message for a request the parser refused. Never built from the
    exception's own text, which quotes the offending bytes (a header's value: a credential)."""
    text = exc.message
    if isinstance(exc, LineTooLong):
        if not seen.line_ended or seen.line_len > handler.max_line_size:
            return 414, f"The request line is longer than the sandbox accepts ({handler.max_line_size} bytes)"
        return 431, f"A request header is longer than the sandbox accepts ({handler.max_field_size} bytes)"
    if text.startswith("Too many headers"):
        return 431, f"The request has more header fields than the sandbox accepts ({handler.max_headers})"
    if isinstance(exc, ObsoleteHttp):
        return 400, "The request line has no HTTP version: expected METHOD /path HTTP/1.1"
    if isinstance(exc, BadHttpMethod):
        if "HTTPS" in text:
            return 400, "The sandbox speaks plain HTTP: this looks like TLS (https://) sent to its http:// port"
        return 400, "The request line does not start with an HTTP method"
    if isinstance(exc, (BadStatusLine, InvalidURLError)):
        return 400, "The request line is malformed: expected METHOD /path HTTP/1.1"
    if "Content-Length" in text:
        return 400, "Content-Length must be one non-negative integer, and not sent with Transfer-Encoding"
    if "Transfer-Encoding" in text:
        return 400, "Transfer-Encoding must be chunked, and not sent with Content-Length"
    if "chunk" in text:
        return 400, "The chunked request body is malformed"
    if "'Host'" in text:
        return 400, "An HTTP/1.1 request must carry a Host header"
    if text.startswith("Duplicate"):
        return 400, "A header that may appear once appears more than once"
    if "header" in text.lower():
        return 400, "A request header is malformed (a control character, or a character HTTP does not allow there)"
    return 400, "The request is not valid HTTP/1.1"


def _gone(exc: BaseException | None, handler: RequestHandler) -> bool:
    """Whether `exc` says the client went away (or sent a body that cannot be read) rather than
    that the sandbox has a bug: nothing to log above debug."""
    if isinstance(exc, ConnectionError):
        return handler.transport is None or handler.transport.is_closing()
    return isinstance(exc, (web.RequestPayloadError, HttpProcessingError))


class TimedRequestHandler(RequestHandler):
    """aiohttp's connection handler, plus a deadline on each request head, parser rejects in the
    owning provider's error shape and no traceback for a client that went away."""

    __slots__ = (
        "_read_timeout", "_head_timer", "_serving", "_begun", "_errors", "_line", "_line_len", "_line_open", "_rejected",
        "_draining", "_drain_from",
    )

    def __init__(self, manager: web.Server, *, read_timeout: float, errors: ErrorRouter | None = None, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._read_timeout = read_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._serving = 0  # requests being answered on this connection
        self._begun = 0  # requests begun so far
        self._errors = errors
        # The request line of the head arriving: its first bytes, its length so far, whether its
        # end is still to come. Read only when the parser refuses the request.
        self._line = b""
        self._line_len = 0
        self._line_open = True
        self._rejected: _Rejected | None = None
        self._draining: Any = None  # the body of the request last answered, while unread
        self._drain_from = 0

    def data_received(self, data: bytes) -> None:
        # Bytes while no request is being answered: a request head is arriving. It must be
        # complete (and its request begun) before the deadline.
        if not self._serving and self._head_timer is None and self.transport is not None:
            self._head_timer = asyncio.get_running_loop().call_later(self._read_timeout, self._head_overdue, self._begun)
        if self._line_open and data:
            self._note_line(data)
        queued, count = len(self._messages), self._request_count
        super().data_received(data)
        if self._request_count != count:
            self._parsed(queued, data)

    def _note_line(self, data: bytes) -> None:
        end = data.find(b"\n")
        part = data if end < 0 else data[:end]
        if len(self._line) < _LINE_KEPT:
            self._line += part[: _LINE_KEPT - len(self._line)]
        self._line_len += len(part)
        if end >= 0:
            self._line_open = False

    def _parsed(self, queued: int, data: bytes) -> None:
        """New messages were queued by this `data`: heads that completed, or a parser reject."""
        for index in range(queued, len(self._messages)):
            message, payload = self._messages[index]
            if isinstance(message, _ErrInfo):
                self._refused(index)
                return
            if message.version < HttpVersion10:  # llhttp's HTTP/0.9: a request line with no version
                obsolete = ObsoleteHttp()
                self._messages[index] = (_ErrInfo(status=400, exc=obsolete, message=obsolete.message), EMPTY_PAYLOAD)
                if self._rejected is None:
                    self._rejected = _Rejected(_path_of_target(_target(message)), self._line_len, True)
                return
        # Heads completed: the next bytes begin the next request line (pipelined ones may have
        # begun in this very chunk, after the last blank line).
        self._line, self._line_len, self._line_open = b"", 0, True
        blank = data.rfind(b"\r\n\r\n")
        tail = data[blank + 4:] if blank >= 0 else b""
        if tail[:1].isupper():
            self._note_line(tail)

    def _refused(self, index: int) -> None:
        """The parser refused what arrived. Inside a body still being read (a bad chunk), the
        request reading it fails at once with the provider's 400 (see `BadBody`), rather than
        waiting for the read deadline."""
        if self._rejected is not None:  # the parser repeats its error for every later chunk
            return
        reading = None
        if index > 0 and not self._messages[index - 1][1].is_eof():
            message = self._messages[index - 1][0]
            reading = (self._messages[index - 1][1], None if isinstance(message, _ErrInfo) else _path_of_target(_target(message)))
        elif self._current_request is not None and not self._current_request.content.is_eof():
            reading = (self._current_request.content, _path_of_target(self._current_request.raw_path.encode("utf-8", "surrogateescape")))
        if reading is not None:
            reading[0].set_exception(BadBody("The chunked request body is malformed"))
            self._rejected = _Rejected(reading[1], 0, True)
        else:
            self._rejected = _Rejected(_path_of(self._line), self._line_len, not self._line_open)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request it could not parse (a 400 with the parser's message,
        which may quote a credential) or whose handler raised: here in the owning provider's
        error shape, with a fixed message."""
        if self._errors is None:
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:  # part of an answer went out already: the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status < 500 and isinstance(exc, HttpProcessingError):
            seen = self._rejected or _Rejected(None, 0, True)
            status, text = _reject(exc, seen, self)
            path = seen.path or "/"
            log.info("refused a request from %s to %s before routing: %d %s", request.remote, path, status, text)
            error = SandboxError(ErrorKind.MALFORMED, text, status=status)
        else:
            path = request.path
            if _gone(exc, self):
                log.debug("client went away during %s %s", request.method, path)
            elif exc is not None:
                log.error("unhandled error on %s %s", request.method, path, exc_info=exc)
            else:
                log.warning("%s %s: no answer in time (%d)", request.method, path, status)
            error = SandboxError(ErrorKind.INTERNAL, "Internal sandbox error", status=status)
        response = error_response(self._errors.style_for(path), error, path)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's "Unhandled exception" after an answer (draining a body the client garbled,
        or lost with the client): a debug line, not a traceback. Anything else as aiohttp logs it."""
        exc = kw.get("exc_info")
        if isinstance(exc, BaseException) and _gone(exc, self):
            log.debug("connection closed after %s (%s)", args[0] if args else "an error", type(exc).__name__)
            return
        super().log_exception(*args, **kw)

    def _head_overdue(self, begun: int) -> None:
        self._head_timer = None
        if not self._serving and self._begun == begun:
            self.force_close()

    def request_begun(self) -> None:
        self._serving += 1
        self._begun += 1
        self._draining = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def request_done(self, body: Any = None) -> None:
        self._serving -= 1
        if not self._serving and body is not None and not body.is_eof():
            self._draining, self._drain_from = body, body.total_bytes

    def resume_reading(self, resume_parser: bool = True) -> None:
        """Called by a body stream as it is read. Past `_DRAIN_BYTES` read after the answer, the
        body is given up (its stream ends) and the connection closes."""
        draining = self._draining
        if draining is not None and not self._serving and draining.total_bytes - self._drain_from > _DRAIN_BYTES:
            self._draining = None
            log.debug("closing a connection: more than %d bytes of an unread body after the answer", _DRAIN_BYTES)
            draining.feed_eof()
            self.force_close()
            return
        super().resume_reading(resume_parser)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


class _TimedServer(web.Server):
    def __init__(
        self, handler: Any, *, request_factory: Any, handler_cancellation: bool, loop: asyncio.AbstractEventLoop, read_timeout: float,
        errors: ErrorRouter | None, **kwargs: Any,
    ) -> None:
        super().__init__(handler, request_factory=request_factory, handler_cancellation=handler_cancellation, loop=loop, **kwargs)
        self._handler_loop = loop
        self._handler_kwargs = kwargs  # what aiohttp's Server hands each RequestHandler
        self._read_timeout = read_timeout
        self._errors = errors

    def __call__(self) -> RequestHandler:
        return TimedRequestHandler(
            self, loop=self._handler_loop, read_timeout=self._read_timeout, errors=self._errors, **self._handler_kwargs,
        )


class SandboxRunner(web.AppRunner):
    """`web.AppRunner` whose connections carry the head deadline and answer parser rejects
    through the app's `ErrorRouter` (`ERRORS`, when the app has one); `keepalive_timeout` and
    the other handler arguments pass through to aiohttp as usual."""

    def __init__(self, app: web.Application, *, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._read_timeout = read_timeout

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # runs the app's startup, as aiohttp does
        kwargs = {k: v for k, v in self._kwargs.items() if k not in ("handler_cancellation", "loop")}
        return _TimedServer(
            made.request_handler, request_factory=_with_a_path(made.request_factory), handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(), read_timeout=self._read_timeout, errors=self.app.get(ERRORS), **kwargs,
        )


class ReadDeadline:
    """The body must arrive within `seconds` of the request head; also marks when a connection
    answers a request, for `TimedRequestHandler`. Begun above whatever reads the body."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _overdue(self, content: Any) -> None:
        if not content.is_eof():
            content.set_exception(BodyTimeout(f"The request body did not arrive within {self.seconds:g} seconds"))

    def begin(self, request: web.Request) -> asyncio.TimerHandle | None:
        protocol = request.protocol
        if isinstance(protocol, TimedRequestHandler):
            protocol.request_begun()
        if request.body_exists and not request.content.is_eof():
            return asyncio.get_running_loop().call_later(self.seconds, self._overdue, request.content)
        return None

    def end(self, request: web.Request, timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()
        protocol = request.protocol
        if isinstance(protocol, TimedRequestHandler):
            protocol.request_done(request.content)


_collector = threading.Lock()
_collector_holders = 0
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a worker thread builds and drops a large object graph
    (a 512 KiB scenario is 350 000 YAML nodes). A full collection scans every object, holding the
    GIL, so each one the graph set off stopped the event loop for 200 ms or more; with the
    collector off the thread yields the GIL as usual and the loop keeps serving. What the graph
    leaves is freed by reference counting; the collector resumes when the last holder is done."""
    global _collector_holders, _collector_was_enabled
    with _collector:
        if _collector_holders == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_holders += 1
    try:
        yield
    finally:
        with _collector:
            _collector_holders -= 1
            if _collector_holders == 0 and _collector_was_enabled:
                gc.enable()



def _with_a_path(make: Callable[..., BaseRequest]) -> Callable[..., BaseRequest]:
    """aiohttp reads a CONNECT's target as an authority (`host:port`), so the request has no path
    and no route, not even the catch-all, can take it: aiohttp answered a bare text 404, unlogged.
    Given the target as its path (or `/`), it is answered and logged like any other request."""

    def request(*args: Any, **kwargs: Any) -> BaseRequest:
        made = make(*args, **kwargs)
        if made.method != "CONNECT":
            return made
        path, _, query = made.raw_path.partition("?")
        return made.clone(rel_url=URL.build(path=path if path.startswith("/") else "/", query_string=query, encoded=True))

    return request
