"""Who may reach the control plane, from where, and what this server is (docs/security.md).

- `Origins`: the browser origins whose pages may read the providers' APIs (CORS): the ones a
  user configures, plus loopback origins by default. Never any origin at all.
- `Addresses`: where this sandbox listens and has been reached, and its public URL. It decides
  whether a Host header names this server (links handed out, the DNS-rebinding guard) and whether
  a URL would lead back into the sandbox (webhook targets, `core/webhooks/targets.py`).
- `ControlGuard`: the middleware in front of the control plane: browsers may not change it from
  another origin, a browser request without an admin token must name this server in its Host,
  and with an admin token every route needs it (a header, or the cookie of the login page),
  except the human-step pages the face lists as open.
- `links_base`: the scheme and host of the links the sandbox hands out.

Nothing here does network I/O: deciding whether an address is local binds a throw-away socket.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import weakref
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.http import SAFE_METHODS, ErrorRouter
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import read_form, render_page
from sandbox.core.requests import UNLOGGED

if TYPE_CHECKING:
    from sandbox.core.api import ProviderApi

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Pages on these origins run on the developer's own machine: a front end on localhost:3000 works
# without any setting. Anything else must be named with --cors-origin.
LOOPBACK_ORIGINS = tuple(f"{scheme}://{host}:*" for scheme in ("http", "https") for host in ("localhost", "127.0.0.1", "[::1]"))


# -- names and addresses ------------------------------------------------------------------------


def bare_host(host: str) -> str:
    """A host as URLs and Host headers spell it, compared: lower case, no brackets, no final dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host not in (".", "") else host


def is_loopback_name(host: str) -> bool:
    name = bare_host(host)
    return name == "localhost" or name.endswith(".localhost")


_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}")


def ip_of(host: str) -> IPAddress | None:
    """The address a host literally is, None for a name. Also the legacy IPv4 spellings that
    resolvers accept (`2130706433`, `127.1`, `0x7f.0.0.1`); an IPv4-mapped IPv6 address is its IPv4."""
    text = bare_host(host).split("%", 1)[0]  # an IPv6 zone does not change the address
    found: IPAddress
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        if not _LEGACY_IPV4.fullmatch(text):
            return None
        try:
            found = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


@lru_cache(maxsize=512)
def is_local_address(ip: IPAddress) -> bool:
    """Whether `ip` is one of this machine's addresses (what 0.0.0.0 listens on): loopback, the
    unspecified address, or an address a socket can bind to. No packet is sent."""
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True


def split_host(value: str) -> tuple[str, int | None] | None:
    """`host[:port]` of a Host header or netloc; None when it is not one."""
    try:
        parts = urlsplit("//" + value.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return bare_host(host), port


def netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def origin_parts(text: str) -> tuple[str, str, int] | None:
    """`scheme://host[:port]` as (scheme, host, port with the scheme's default); None otherwise."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return parts.scheme.lower(), bare_host(parts.hostname), port if port is not None else DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def url_target(url: str) -> tuple[str, int] | None:
    """Host and port (the scheme's default when none) an http(s) URL connects to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return bare_host(parts.hostname), port if port is not None else DEFAULT_PORTS.get(parts.scheme.lower(), 80)


class Addresses:
    """Where this sandbox can be reached: the sockets it listens on (the intended --host/--port
    until the face says where it bound), every local address a request reached it at, and the
    public URL. Only the face and the first request of each connection change it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None) -> None:
        self.host = bare_host(host)
        self._listening: set[tuple[str, int]] = {(self.host, port)} if port else set()
        self._reached: set[tuple[str, int]] = set()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # transports already noted
        self.public = url_target(public_url) if public_url else None

    def bound(self, sockets: Iterable[Any]) -> None:
        """The face bound its sockets: `(host, port, …)` each, as aiohttp's runner lists them."""
        found = {(bare_host(str(sock[0])), int(sock[1])) for sock in sockets if isinstance(sock, tuple | list) and len(sock) >= 2}
        if found:
            self._listening = found

    def reached(self, request: web.Request) -> str | None:
        """Note the local address this request came in at; returns its IP."""
        transport = request.transport
        sock = transport.get_extra_info("sockname") if transport is not None else None
        if not isinstance(sock, tuple) or len(sock) < 2:
            return None
        key = (bare_host(str(sock[0])), int(sock[1]))
        if key not in self._reached:
            self._reached.add(key)
        return key[0]

    def note_connection(self, request: web.Request) -> None:
        """`reached`, once per connection: every request of one comes in at the same address."""
        transport = request.transport
        if transport is not None and transport not in self._connections:
            self._connections.add(transport)
            self.reached(request)

    def sockets(self) -> set[tuple[str, int]]:
        return self._listening | self._reached

    def is_self(self, host: str, port: int) -> bool:
        """Whether `host:port` leads to this sandbox, judged from the host as written (no DNS):
        an address of a socket it listens on, a local address when it listens on every interface,
        a loopback name, its own --host name, or its public URL."""
        name = bare_host(host)
        if self.public is not None and (name, port) == self.public:
            return True
        if all(p != port for _, p in self.sockets()):
            return False
        if is_loopback_name(name):
            return any(self._accepts_loopback(listen) for listen, p in self.sockets() if p == port)
        ip = ip_of(name)
        if ip is None:
            return bool(name) and name == self.host
        return self.is_self_address(ip, port)

    def is_self_address(self, ip: IPAddress, port: int) -> bool:
        for listen, listen_port in self.sockets():
            if listen_port != port:
                continue
            listen_ip = ip_of(listen) if listen else ipaddress.IPv4Address("0.0.0.0")
            if listen_ip is None:  # a name: localhost, or the machine's own name
                if ip.is_loopback or ip.is_unspecified or (not is_loopback_name(listen) and is_local_address(ip)):
                    return True
            elif listen_ip.is_unspecified:
                if is_local_address(ip):
                    return True
            elif ip == listen_ip or (listen_ip.is_loopback and (ip.is_loopback or ip.is_unspecified)):
                return True
        return False

    def _accepts_loopback(self, listen: str) -> bool:
        ip = ip_of(listen) if listen else ipaddress.IPv4Address("0.0.0.0")
        return ip is None or ip.is_loopback or ip.is_unspecified

    def names_this_server(self, host: str, reached_ip: str | None = None) -> bool:
        """Whether a Host header names this server: a loopback name or address, the address the
        request reached, one the sandbox listens on, its --host name or its public URL's host."""
        name = bare_host(host)
        if not name:
            return False
        if is_loopback_name(name) or (self.public is not None and name == self.public[0]) or name == self.host:
            return True
        ip = ip_of(name)
        if ip is None:
            return False
        if ip.is_loopback:
            return True
        if reached_ip is not None and ip == ip_of(reached_ip):
            return True
        return any(ip == ip_of(listen) for listen, _ in self.sockets())

    def fallback(self) -> str:
        """host:port of a listening socket, for links when nothing better is known."""
        for host, port in sorted(self._listening):
            if host not in ("", "0.0.0.0", "::"):
                return netloc(host, port)
        port = min((p for _, p in self._listening), default=0)
        return netloc("127.0.0.1", port or None)


ADDRESSES = web.AppKey("sandbox.addresses", Addresses)


def links_base(request: web.Request, public_url: str | None) -> str:
    """Scheme and host of links handed to a caller (approval pages and the like): the public URL
    when one is set; else the request's Host when it names this server (a loopback name, the
    address the request reached, …); else the address the request reached. A Host header naming
    somewhere else (`Host: evil.example`) never makes a link point there."""
    if public_url:
        return public_url.rstrip("/")
    addresses = request.app.get(ADDRESSES) or Addresses()
    scheme = request.scheme
    transport = request.transport
    sock = transport.get_extra_info("sockname") if transport is not None else None
    reached = str(sock[0]) if isinstance(sock, tuple) and len(sock) >= 2 else None
    given = split_host(request.headers.get("Host", ""))
    if given is not None and addresses.names_this_server(given[0], reached):
        return f"{scheme}://{netloc(*given)}"
    if reached is not None and isinstance(sock, tuple):
        return f"{scheme}://{netloc(bare_host(reached), int(sock[1]))}"
    return f"{scheme}://{addresses.fallback()}"


# -- CORS origins -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OriginPattern:
    """`https://app.example.com`, `http://localhost:*` (any port) or `https://*.example.com`
    (any subdomain)."""

    scheme: str
    host: str
    port: int | None  # None: any port

    @classmethod
    def parse(cls, text: str) -> OriginPattern:
        raw = text.strip().rstrip("/").lower()
        if raw in ("*", "null", ""):
            raise ValueError(f"{text!r} is not accepted: name each origin, such as https://app.example.com or http://localhost:*")
        any_port = raw.endswith(":*")
        parts = origin_parts(raw[:-2] if any_port else raw)
        wildcard = "*" in parts[1] if parts else False
        if parts is None or (wildcard and not (parts[1].startswith("*.") and "*" not in parts[1][2:] and "." in parts[1][2:])):
            raise ValueError(f"{text!r} is not an origin such as https://app.example.com, http://localhost:* or https://*.example.com")
        return cls(parts[0], parts[1], None if any_port else parts[2])

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


class Origins:
    """Which browser origins may read the providers' APIs."""

    def __init__(self, patterns: Iterable[str] = (), *, loopback: bool = True) -> None:
        self.patterns = [OriginPattern.parse(p) for p in (*patterns, *(LOOPBACK_ORIGINS if loopback else ()))]
        self._seen: dict[str, bool] = {}

    def allows(self, origin: str) -> bool:
        known = self._seen.get(origin)
        if known is None:
            parts = origin_parts(origin)
            known = parts is not None and origin.strip() not in ("null",) and any(p.matches(*parts) for p in self.patterns)
            if len(self._seen) >= 1024:  # a bound: origins are chosen by whoever calls
                self._seen.clear()
            self._seen[origin] = known
        return known


# -- the control plane's guard --------------------------------------------------------------------

TOKEN_HEADER = "X-Sandbox-Admin-Token"
COOKIE = "sandbox_admin"
_SESSION_CONTEXT = b"sandbox admin session v1"


class ControlGuard:
    """The middleware in front of the control plane (`prefix`, e.g. `/_sandbox`).

    - A browser may not change the control plane from another origin: a write whose `Origin`
      is not this server's (or whose `Sec-Fetch-Site` says cross-site) is a 403, token or not.
    - Without an admin token, a browser's request must name this server in its Host header
      (a loopback name, an address it listens on, its public URL): a DNS-rebinding page's
      requests name the attacker's host, and are refused.
    - With an admin token, every route needs it, sent as `Authorization: Bearer <token>`, as
      `X-Sandbox-Admin-Token`, or as the cookie the login page sets; JSON callers get a 401 in the
      control plane's error shape, a browser asking for a page is sent to the login page. The
      routes in `open_routes` (the human-step pages a front end opens for a cardholder) need no
      token: they are reached by the id of the one object they act on.
    """

    def __init__(
        self, prefix: str, token: str | None, addresses: Addresses, errors: ErrorRouter, *, open_routes: Collection[str] = (),
        secure_cookie: bool = False,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.login_path = self.prefix + "/login"
        self.logout_path = self.prefix + "/logout"
        self._token = token.encode() if token else None
        self._session = hmac.new(self._token, _SESSION_CONTEXT, hashlib.sha256).hexdigest().encode() if self._token else None
        self.addresses = addresses
        self.errors = errors
        self.open_routes = frozenset(open_routes)
        self.secure_cookie = secure_cookie  # the public URL is https: the browser sees TLS the server does not

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def concerns(self, request: web.Request) -> bool:
        """Whether the request is the control plane's, which the guard checks (`core/edge.py`)."""
        path = request.path
        return path == self.prefix or path.startswith(self.prefix + "/")

    def middleware(self) -> Middleware:
        prefix, slash = self.prefix, self.prefix + "/"

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            reached = self.addresses.reached(request)
            path = request.path
            if path != prefix and not path.startswith(slash):
                return await handler(request)
            refused = self._refusal(request, reached)
            if refused is not None:
                return self.errors.respond(request, refused)
            if path in (self.login_path, self.logout_path):
                return await self._login(request)
            if self._token is None or self._is_open(request) or self.authorized(request):
                return await handler(request)
            if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", ""):
                raise web.HTTPSeeOther(f"{self.login_path}?next={quote(request.path_qs, safe='/')}")
            return self.errors.respond(request, SandboxError(
                ErrorKind.UNAUTHENTICATED,
                f"The control plane needs this sandbox's admin token: send Authorization: Bearer <token> or {TOKEN_HEADER}, "
                f"or sign in at {self.login_path}",
                headers={"WWW-Authenticate": 'Bearer realm="sandbox"'},
            ))

        return guard

    # -- checks ---------------------------------------------------------------------------------

    def _refusal(self, request: web.Request, reached: str | None) -> SandboxError | None:
        headers = request.headers
        origin = headers.get("Origin")
        if request.method not in SAFE_METHODS:
            site = headers.get("Sec-Fetch-Site")
            if (origin is not None and not self._same_origin(origin, request)) or site in ("cross-site", "same-site"):
                return SandboxError(
                    ErrorKind.FORBIDDEN,
                    f"A browser page from another origin ({origin or site}) may not change the sandbox: "
                    "the control plane takes writes from its own pages and from programs, never cross-origin",
                )
        if self._token is None and (origin is not None or "Sec-Fetch-Site" in headers):
            host = split_host(headers.get("Host", ""))
            if host is None or not self.addresses.names_this_server(host[0], reached):
                return SandboxError(
                    ErrorKind.FORBIDDEN,
                    f"Host {headers.get('Host', '')!r} does not name this sandbox: a browser reaches the control plane at a "
                    "loopback address, an address the sandbox listens on or its --public-url (or set --admin-token)",
                )
        return None

    def _same_origin(self, origin: str, request: web.Request) -> bool:
        parts = origin_parts(origin)
        if parts is None:  # `null` (a sandboxed frame, a file) is never this server
            return False
        scheme, host, port = parts
        given = split_host(request.headers.get("Host", ""))
        if given is not None and (host, port) == (given[0], given[1] if given[1] is not None else DEFAULT_PORTS.get(scheme, 0)):
            return True
        return self.addresses.public is not None and (host, port) == self.addresses.public

    def _is_open(self, request: web.Request) -> bool:
        if not self.open_routes:
            return False
        resource = request.match_info.route.resource
        return resource is not None and resource.canonical in self.open_routes

    def authorized(self, request: web.Request) -> bool:
        """The admin token as a header (compared in constant time), or the login cookie."""
        if self._token is None or self._session is None:
            return True
        given = request.headers.get(TOKEN_HEADER)
        if given is None:
            scheme, _, credential = request.headers.get("Authorization", "").strip().partition(" ")
            given = credential.strip() if scheme.lower() == "bearer" else None
        if given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self._token):
            return True
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode("utf-8", "replace"), self._session)

    # -- the login page ---------------------------------------------------------------------------

    def routes(self, api: ProviderApi) -> list[web.RouteDef]:
        """The sign-in and sign-out pages, in the control plane's document. The guard answers them
        itself, before any route, so they behave the same with or without these."""
        page = ResponseDoc("The page", media_type="text/html")
        back = ResponseDoc("Signed in or out: on to `next` (the dashboard by default) or the sign-in page", media_type=None)
        return [
            api.document("GET", self.login_path, self._login, query=LoginQuery, responses={200: page},
                         summary="Sign in with the admin token (a page; with no token set, it says so)"),
            api.document("POST", self.login_path, self._login, body=LoginForm, body_media="application/x-www-form-urlencoded",
                         summary="Sign in: sets an HttpOnly, SameSite=Strict cookie for /_sandbox", responses={
                             303: back, 400: ResponseDoc("The form could not be read (the page, saying so)", media_type="text/html"),
                             401: ResponseDoc("Not this sandbox's admin token (the page, saying so)", media_type="text/html"),
                         }),
            api.document("GET", self.logout_path, self._login, summary="The sign-out page", responses={200: page}),
            api.document("POST", self.logout_path, self._login, summary="Sign out: forgets the cookie", responses={303: back}),
        ]

    async def _login(self, request: web.Request) -> web.StreamResponse:
        if request.method in ("GET", "HEAD"):
            if request.path == self.logout_path:
                return self._page("Sign out", self._sign_out_form(), 200)
            return self._login_page(self._next(request.query.get("next")), authorized=self.authorized(request))
        if request.method != "POST":
            error = SandboxError(
                ErrorKind.METHOD_NOT_ALLOWED, f"Method {request.method} is not allowed on {request.path}",
                headers={"Allow": "GET, HEAD, POST"},
            )
            return self.errors.respond(request, error)
        request[UNLOGGED] = True  # the form carries the token: it stays out of the request log
        if request.path == self.logout_path:
            response = web.HTTPSeeOther(self.login_path)
            response.del_cookie(COOKIE, path=self.prefix)
            raise response
        form = await read_form(request)
        if form is None:
            return self._login_page(self.login_path, notice="The form could not be read.", status=400)
        target = self._next(form.get("next"))
        if self._token is None or self._session is None:
            raise web.HTTPSeeOther(target)
        token = form.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8", "replace"), self._token):
            return self._login_page(target, notice="That is not this sandbox's admin token.", status=401)
        response = web.HTTPSeeOther(target)
        response.set_cookie(
            COOKIE, self._session.decode(), path=self.prefix, httponly=True, samesite="Strict", secure=request.secure or self.secure_cookie,
        )
        raise response

    def _next(self, value: object) -> str:
        """Where the login page sends the browser: a path of the control plane, else the login page.
        Never another host (`//evil.example`, `https://…`), never a way up out of it."""
        if not isinstance(value, str) or not value or len(value) > 2048 or "\\" in value or not value.isprintable():
            return self.login_path
        parts = urlsplit(value)
        path = parts.path
        if parts.scheme or parts.netloc or value.startswith("//") or ".." in unquote(path).split("/"):
            return self.login_path
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return self.login_path
        return value

    def _login_page(self, target: str, *, authorized: bool = False, notice: str = "", status: int = 200) -> web.Response:
        if self._token is None:
            body = "<p>This sandbox has no admin token: its control plane is open to whoever can reach it (see docs/security.md).</p>"
        elif authorized:
            body = f'<p>You are signed in.</p><p><a href="{escape(target)}">Continue</a></p>{self._sign_out_form()}'
        else:
            warning = f"<p><strong>{escape(notice)}</strong></p>" if notice else ""
            body = (
                f'{warning}<form method="post" action="{escape(self.login_path)}">'
                '<p><label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus></label></p>'
                f'<input type="hidden" name="next" value="{escape(target)}">'
                "<button>Sign in</button></form>"
            )
        return self._page("Sandbox control plane", body, status)

    def _sign_out_form(self) -> str:
        return f'<form method="post" action="{escape(self.logout_path)}"><button>Sign out</button></form>'

    def _page(self, title: str, body: str, status: int) -> web.Response:
        page = render_page(title, body, status, note="Sandbox: the admin token is set with --admin-token (SANDBOX_ADMIN_TOKEN).")
        page.headers["Cache-Control"] = "no-store"
        page.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        return page


class LoginQuery(BaseModel):
    next: str | None = None  # where to go once signed in: a path of the control plane


class LoginForm(BaseModel):
    token: str
    next: str | None = None
