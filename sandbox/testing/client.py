"""A synchronous client of a running sandbox: plain HTTP (the standard library only), so it works the
same against the server the pytest plugin starts and against any `--sandbox-url`."""

from __future__ import annotations

import json as jsonlib
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

Source = str | os.PathLike[str] | Mapping[str, Any]  # a scenario: a file, YAML text, or the document itself

ADMIN_TOKEN_HEADER = "X-Sandbox-Admin-Token"

# No proxies: the sandbox is local, and an HTTP(S)_PROXY meant for the internet must not catch it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SandboxError(Exception):
    """A control-plane call answered with an error (or the server could not be reached)."""

    def __init__(self, method: str, url: str, status: int | None, body: Any) -> None:
        self.method, self.url, self.status, self.body = method, url, status, body
        detail = body.get("error", {}).get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{method} {url} -> {status if status is not None else 'no answer'}: {detail}")


@dataclass(frozen=True, slots=True)
class Response:
    """What `request` returns: any status, never an exception for a 4xx or 5xx."""

    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


@dataclass(slots=True)
class Changes:
    """What a test changed through the helpers, so that the plugin can undo it afterwards."""

    endpoints: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    clock: bool = False


def _instant(at: datetime | str) -> str:
    if isinstance(at, str):
        return at
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


class SandboxClient:
    """Helpers over the control plane under `/_sandbox/`; each is one HTTP call.

    Errors raise `SandboxError`. `request` reaches any path (the providers' APIs too) and returns
    the `Response` whatever its status.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, admin_token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.changes = Changes()
        # Sent with every call under /_sandbox/ (never to a provider's API): the sandbox's --admin-token.
        self.admin_token = admin_token or os.environ.get("SANDBOX_ADMIN_TOKEN", "").strip() or None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- HTTP ---------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, json: Any = None, *, headers: Mapping[str, str] | None = None, data: bytes | None = None,
        query: Mapping[str, Any] | None = None, timeout: float | None = None,
    ) -> Response:
        """`method path` (relative to the sandbox's URL), with a JSON body or raw `data`."""
        url = self.url + path
        pairs = {k: v for k, v in (query or {}).items() if v is not None}
        if pairs:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)
        sent = dict(headers or {})
        if self.admin_token and path.startswith("/_sandbox") and not any(k.lower() == ADMIN_TOKEN_HEADER.lower() for k in sent):
            sent[ADMIN_TOKEN_HEADER] = self.admin_token
        if json is not None:
            data = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(url, data=data, headers=sent, method=method.upper())
        try:
            with _OPENER.open(req, timeout=timeout or self.timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, err.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SandboxError(method.upper(), url, None, f"cannot reach the sandbox ({reason})") from None

    def control(
        self, method: str, path: str, json: Any = None, *, query: Mapping[str, Any] | None = None, data: bytes | None = None,
        headers: Mapping[str, str] | None = None, timeout: float | None = None, ok: Iterable[int] = (200, 201, 202, 204),
    ) -> Any:
        """A control-plane call: the decoded JSON answer, or `SandboxError` on any other status."""
        resp = self.request(method, path, json, query=query, data=data, headers=headers, timeout=timeout)
        try:
            body = resp.json() if resp.body else None
        except ValueError:
            body = resp.text
        if resp.status not in tuple(ok):
            raise SandboxError(method.upper(), self.url + path, resp.status, body)
        return body

    # -- server -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"status", "version", "providers", "seed", "clock"}`."""
        return self.control("GET", "/_sandbox/health")

    @property
    def seed(self) -> int:
        return self.health()["seed"]

    def reset(self, provider: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        """Forget objects, events, deliveries and idempotency keys: all, one provider's, or one tenant's."""
        return self.control("POST", "/_sandbox/reset", {k: v for k, v in (("provider", provider), ("tenant", tenant)) if v is not None})

    # -- clock --------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        """`{"now", "frozen", "offset_seconds"}`."""
        return self.control("GET", "/_sandbox/clock")

    def now(self) -> datetime:
        return datetime.fromisoformat(self.clock()["now"].replace("Z", "+00:00"))

    def advance_clock(self, seconds: float | timedelta) -> dict[str, Any]:
        """Move the sandbox clock forward; due retries, expiries and timers follow."""
        self.changes.clock = True
        amount = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        return self.control("POST", "/_sandbox/clock/advance", {"seconds": amount})

    def freeze(self, at: datetime | str | None = None) -> dict[str, Any]:
        """Stop the clock, at `at` (a datetime, naive = UTC, or ISO-8601 text) or where it is now."""
        self.changes.clock = True
        return self.control("POST", "/_sandbox/clock", {"now": _instant(at)} if at is not None else {"frozen": True})

    def unfreeze(self) -> dict[str, Any]:
        """Let the clock run again from where it stands."""
        self.changes.clock = True
        return self.control("POST", "/_sandbox/clock", {"frozen": False})

    def set_clock(self, now: datetime | str, *, frozen: bool = True) -> dict[str, Any]:
        """Put the clock at `now`, frozen there or (`frozen=False`) running on from it."""
        self.changes.clock = True
        return self.control("POST", "/_sandbox/clock", {"now": _instant(now), "frozen": frozen})

    # -- scenarios ----------------------------------------------------------------------------

    def resolve(self, source: str | os.PathLike[str]) -> Path:
        """Where a relative scenario path is looked for: the working directory."""
        return Path(source)

    def load_scenario(self, source: Source, *, tenant: str | None = None) -> dict[str, Any]:
        """Load a scenario's `rules` (a file path, YAML text, or a dict) for every tenant or one; returns it with its `id`."""
        if isinstance(source, Mapping):
            data, content_type = jsonlib.dumps(dict(source)).encode(), "application/json"
        elif isinstance(source, str) and "\n" in source:
            data, content_type = source.encode(), "application/yaml"
        else:
            data, content_type = self.resolve(source).read_bytes(), "application/yaml"
        loaded = self.control(
            "POST", "/_sandbox/scenarios", data=data, headers={"Content-Type": content_type}, query={"tenant": tenant},
        )
        self.changes.scenarios.append(loaded["id"])
        return loaded

    def unload_scenario(self, scenario_id: str) -> None:
        self.control("DELETE", f"/_sandbox/scenarios/{scenario_id}")

    def scenarios(self) -> list[dict[str, Any]]:
        """The loaded scenarios, with how often each rule fired."""
        return self.control("GET", "/_sandbox/scenarios")["data"]

    # -- events and webhooks --------------------------------------------------------------------

    def events(
        self, *, provider: str | None = None, type: str | None = None, object_id: str | None = None, tenant: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded events, oldest first: `{"id", "provider", "tenant", "type", "object_id", "occurred_at", "payload"}`."""
        query = {"provider": provider, "type": type, "object_id": object_id, "tenant": tenant, "limit": limit}
        return self.control("GET", "/_sandbox/events", query=query)["data"]

    def deliveries(
        self, *, provider: str | None = None, event_type: str | None = None, object_id: str | None = None, status: str | None = None,
        endpoint_id: str | None = None, tenant: str | None = None, limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The webhook delivery log, oldest first, with every attempt."""
        query = {
            "provider": provider, "event_type": event_type, "object_id": object_id, "status": status, "endpoint_id": endpoint_id,
            "tenant": tenant, "limit": limit,
        }
        return self.control("GET", "/_sandbox/webhook-deliveries", query=query)["data"]

    def flush_webhooks(self, timeout: float = 10.0, *, check: bool = True) -> dict[str, Any]:
        """Wait until every delivery due now has been attempted: `{"flushed", "pending"}`.

        Raises `SandboxError` when `timeout` passes first, unless `check=False`.
        """
        ok = (200, 504) if not check else (200,)
        return self.control("POST", "/_sandbox/webhooks/flush", query={"timeout": timeout}, timeout=timeout + 30, ok=ok)

    def register_endpoint(self, provider: str, url: str, **options: Any) -> dict[str, Any]:
        """`POST /_sandbox/webhook-endpoints`; options: `tenant`, `events`, `secret`, `description`."""
        endpoint = self.control("POST", "/_sandbox/webhook-endpoints", {"provider": provider, "url": url, **options})
        self.changes.endpoints.append(endpoint["id"])
        return endpoint

    def endpoints(self) -> list[dict[str, Any]]:
        return self.control("GET", "/_sandbox/webhook-endpoints")["data"]

    def remove_endpoint(self, endpoint_id: str) -> None:
        self.control("DELETE", f"/_sandbox/webhook-endpoints/{endpoint_id}")
