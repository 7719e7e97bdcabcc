"""Where webhooks may go: never back into the sandbox itself, and only to allowed hosts when an
allow-list is set (docs/security.md).

An endpoint whose URL is one of the sandbox's own routes (its `resend`, say) makes every delivery
cause another: a loop that only the disable-on-failure rules stop. A URL is checked when it is
registered (control plane, `--webhook`, a provider's webhook API), from the host as written, and
again before every attempt, after resolving its name (without blocking the event loop): a name's
addresses can change after registration.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from sandbox.core.security import Addresses, IPAddress, bare_host, ip_of, netloc, url_target

Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_TTL = 10.0  # seconds a name's addresses are reused (aiohttp's own DNS cache keeps them as long)
RESOLVE_TIMEOUT = 5.0


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to, looked up off the event loop; none when it does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class HostPattern:
    """An allow-list entry: a host (`hooks.example.com`, `localhost`, `10.1.2.3`), a glob
    (`*.example.com`), either with `:port`, or a network (`10.0.0.0/8`) for address hosts."""

    text: str
    host: str | None
    port: int | None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        raw = text.strip().lower()
        if not raw or "/" in raw and "://" in raw:
            raise ValueError(f"{text!r} is not a host pattern such as hooks.example.com, *.example.com:8443 or 10.0.0.0/8")
        if "/" in raw:
            try:
                return cls(text, None, None, ipaddress.ip_network(raw, strict=False))
            except ValueError:
                raise ValueError(f"{text!r} is not a network such as 10.0.0.0/8") from None
        host, port = raw, None
        if raw.startswith("["):
            close = raw.find("]")
            rest = raw[close + 1:] if close > 0 else ""
            if close < 0 or (rest and not rest.startswith(":")):
                raise ValueError(f"{text!r} is not a host pattern")
            host, port_text = raw[1:close], (rest[1:] if rest else None)
        elif raw.count(":") == 1:
            host, port_text = raw.split(":")
        else:
            port_text = None
        if port_text is not None:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
            port = int(port_text)
        if not host or any(ch in host for ch in "/?#@ "):
            raise ValueError(f"{text!r} is not a host pattern such as hooks.example.com or *.example.com")
        return cls(text, bare_host(host), port)

    def matches(self, host: str, port: int, ip: IPAddress | None) -> bool:
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        if self.port is not None and port != self.port:
            return False
        return self.host is not None and fnmatchcase(host, self.host)


class WebhookTargets:
    """The check every webhook URL passes: the allow-list (when one is set), and never this sandbox."""

    def __init__(self, addresses: Addresses, allow: Iterable[str] = (), resolver: Resolver = resolve) -> None:
        self.addresses = addresses
        self.allow = [HostPattern.parse(p) for p in allow]
        self.resolver = resolver
        self._resolved: dict[tuple[str, int], tuple[float, list[str]]] = {}

    def refusal(self, url: str) -> str | None:
        """Why `url` may not receive webhooks, judged from the URL as written; None when it may."""
        target, ip = _parsed_target(url)
        if target is None:
            return "must name a host"
        host, port = target
        if self.allow and not any(p.matches(host, port, ip) for p in self.allow):
            allowed = ", ".join(p.text for p in self.allow)
            return f"{netloc(host, port)} is not allowed by --webhook-allow (SANDBOX_WEBHOOK_ALLOW: {allowed})"
        if self.addresses.is_self(host, port):
            return f"{netloc(host, port)} is this sandbox itself: its deliveries would call the sandbox's own routes, a loop"
        return None

    async def delivery_refusal(self, url: str) -> str | None:
        """`refusal`, then the addresses the host resolves to now: one of this sandbox's refuses it."""
        refused = self.refusal(url)
        target, ip = _parsed_target(url)
        if refused is not None or target is None or ip is not None:
            return refused
        host, port = target
        for address in await self._addresses_of(host, port):
            ip = ip_of(address)
            if ip is not None and self.addresses.is_self_address(ip, port):
                return f"not sent: {host} resolves to {netloc(str(ip), port)}, this sandbox itself (a loop)"
        return None

    async def _addresses_of(self, host: str, port: int) -> list[str]:
        now = time.monotonic()
        cached = self._resolved.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                found = await self.resolver(host, port)
        except TimeoutError:
            found = []
        if len(self._resolved) >= 1024:
            self._resolved.clear()
        self._resolved[(host, port)] = (now + RESOLVE_TTL, found)
        return found


@functools.lru_cache(maxsize=1024)
def _parsed_target(url: str) -> tuple[tuple[str, int] | None, IPAddress | None]:
    """(host, port) of `url` and the address its host literally is: parsed once per URL (every
    attempt asks), while what they are checked against (allow-list, this sandbox's addresses) is
    read afresh each time."""
    target = url_target(url)
    return target, (ip_of(target[0]) if target is not None else None)
