"""`sandbox_webhooks`: a local receiver that checks every delivery the way the provider's own receivers do.

- Dino: the HMAC recipe of docs/webhooks.md (`Dino-Signature` and `X-Dino-Signature-Sha256`);
- Crossmint: the official `svix` library;
- Basis Theory AI: the official `standardwebhooks` library;
- Basis Theory platform: `BT-SIGNATURE`, RSA-PSS with the key served at /_sandbox/keys/basistheory-webhooks.v1.key.

It runs in a thread (the standard library's HTTP server), so synchronous and asynchronous tests alike
can wait for a webhook without an event loop of their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.testing.client import SandboxClient, SandboxError

PROVIDERS = ("dino", "crossmint", "basistheory", "btplatform")
BT_KEY_PATH = "/_sandbox/keys/basistheory-webhooks.v1.key"
LIBRARIES = {"crossmint": ("svix.webhooks", "svix"), "basistheory": ("standardwebhooks", "standardwebhooks")}


class VerificationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Webhook:
    """One delivery that passed its provider's signature check."""

    provider: str
    type: str
    id: str  # the event id: retries and resends of one event share it
    object_id: str | None
    payload: Any  # the parsed body: the provider's envelope
    headers: dict[str, str]
    body: bytes

    @property
    def data(self) -> Any:
        """The object inside the envelope: Dino's and Basis Theory AI's `data`, Crossmint's `payload`, the platform's `event.data`."""
        if self.provider == "crossmint":
            return self.payload.get("payload")
        if self.provider == "btplatform":
            return self.payload.get("event", {}).get("data")
        return self.payload.get("data")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A delivery whose signature did not verify (answered 400)."""

    provider: str
    reason: str
    headers: dict[str, str]
    body: bytes

    def __str__(self) -> str:
        return f"{self.provider}: {self.reason} ({self.body[:200]!r})"


def verify_dino(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300) -> Any:
    """docs/webhooks.md's recipe. `headers` with lower-case names."""
    fields = [item.strip().split("=", 1) for item in headers.get("dino-signature", "").split(",") if "=" in item]
    timestamps = [value for name, value in fields if name == "t"]
    signatures = [value for name, value in fields if name == "v1"]
    if not timestamps or not timestamps[0].isdigit() or abs(time.time() - int(timestamps[0])) > tolerance:
        raise VerificationError("Dino-Signature timestamp missing or outside the tolerance")
    key = secret.encode()  # the whole "whsec_…" string, not base64-decoded
    expected = hmac.new(key, timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise VerificationError("no v1 signature in Dino-Signature matches")
    body_only = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(body_only, headers.get("x-dino-signature-sha256", "")):
        raise VerificationError("X-Dino-Signature-Sha256 does not match")
    return json.loads(body)


def verify_svix(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    from svix.webhooks import Webhook as SvixWebhook

    SvixWebhook(secret).verify(body, dict(headers))
    return json.loads(body)  # svix 2.x returns None


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    import standardwebhooks

    return standardwebhooks.Webhook(secret).verify(body, dict(headers))


def verify_bt_signature(public_pem: bytes, headers: Mapping[str, str], body: bytes) -> Any:
    """RSA-PSS (SHA-256, MGF1 SHA-256, maximum salt) over the key-sorted compact JSON of the body."""
    import orjson
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise VerificationError("the sandbox's Basis Theory webhook key is not an RSA key")
    if headers.get("bt-signature-version") != "v1":
        raise VerificationError("BT-SIGNATURE-VERSION is not v1")
    stable = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    try:
        key.verify(base64.b64decode(headers.get("bt-signature", "")), stable, pss, hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise VerificationError("BT-SIGNATURE does not verify with the sandbox's public key") from None
    return json.loads(body)


def describe(provider: str, payload: Any, headers: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(type, event id, object id) of a verified body."""
    if provider == "btplatform":
        event = payload["event"]
        objects = [v for k, v in event.get("data", {}).items() if k != "actor" and isinstance(v, dict)]
        return event["type"], event["id"], objects[0].get("id") if objects else None
    if provider == "crossmint":
        inner = payload.get("payload") or {}
        return payload["type"], headers.get("svix-id", ""), inner.get("orderIntentId") or inner.get("paymentMethodId")
    if provider == "dino":
        return payload["type"], payload["id"], payload.get("data", {}).get("purchase_intent", {}).get("id")
    return payload["type"], payload["id"], payload.get("data", {}).get("id")


class ReceiverServer:
    """One HTTP server in a thread, shared by the receivers of a session: each gets its own path prefix."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._receivers: dict[str, WebhookReceiver] = {}
        self._count = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix, _, provider = self.path.strip("/").partition("/")
                receiver = server._receivers.get(prefix)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = receiver.receive(provider, headers, body) if receiver else (404, "no such receiver")
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        bind = host if host in ("127.0.0.1", "localhost", "::1") else ""  # another host: listen on every interface
        self._http = ThreadingHTTPServer((bind, 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, args=(0.05,), name="sandbox-webhooks", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._http.server_address[1]}"

    def add(self, receiver: WebhookReceiver) -> str:
        prefix = f"r{next(self._count)}"
        self._receivers[prefix] = receiver
        return prefix

    def remove(self, prefix: str) -> None:
        self._receivers.pop(prefix, None)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class WebhookReceiver:
    """Receives the test's webhooks on a free port: one endpoint per provider, registered for the test.

    `events` holds each verified event once (retries and resends share an event id), `deliveries`
    every verified request, `rejected` those whose signature failed (the fixture fails the test on any).
    """

    def __init__(
        self, client: SandboxClient, *, server: ReceiverServer | None = None, host: str = "127.0.0.1",
        tenants: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.host = server.host if server is not None else host
        self.tenants = dict(tenants or {})  # provider -> tenant filter of its endpoint
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.missing: dict[str, str] = {}  # provider -> why it is not received
        self._deliveries: list[Webhook] = []
        self._rejected: list[Rejection] = []
        self._seen: set[tuple[str, str]] = set()
        self._events: list[Webhook] = []
        self._changed = threading.Condition()
        self._bt_key: bytes | None = None
        self._server = server
        self._own_server = False
        self._prefix = ""

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        """Listen (on the shared `server`, or a server of its own) and register one endpoint per provider."""
        if self._server is None:
            self._server, self._own_server = ReceiverServer(self.host), True
        self._prefix = self._server.add(self)
        for provider in PROVIDERS:
            module, package = LIBRARIES.get(provider, (None, None))
            if module is not None:
                try:
                    importlib.import_module(module)
                except ImportError:
                    why = f"{provider} webhooks are verified with the official `{package}` library, which is not installed"
                    self.missing[provider] = f"{why}: pip install {package}"
                    continue
            options = {"tenant": self.tenants[provider]} if provider in self.tenants else {}
            self.endpoints[provider] = self.client.register_endpoint(
                provider, self.urls[provider], description="pytest sandbox_webhooks", **options
            )
        return self

    def close(self) -> None:
        try:
            for endpoint in self.endpoints.values():
                try:
                    self.client.remove_endpoint(endpoint["id"])
                except SandboxError as exc:
                    if exc.status not in (404, None):
                        raise
        finally:
            if self._server is not None:
                self._server.remove(self._prefix)
                if self._own_server:
                    self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "the receiver is not started"
        return f"{self._server.url}/{self._prefix}"

    @property
    def urls(self) -> dict[str, str]:
        return {provider: f"{self.url}/{provider}" for provider in PROVIDERS}

    # -- what arrived ---------------------------------------------------------------------------

    @property
    def events(self) -> list[Webhook]:
        with self._changed:
            return list(self._events)

    @property
    def deliveries(self) -> list[Webhook]:
        with self._changed:
            return list(self._deliveries)

    @property
    def rejected(self) -> list[Rejection]:
        with self._changed:
            return list(self._rejected)

    def types(self, provider: str | None = None) -> list[str]:
        """The types of the events received so far, in arrival order."""
        return [e.type for e in self.events if provider in (None, e.provider)]

    def of_type(self, type: str, *, provider: str | None = None, object_id: str | None = None) -> list[Webhook]:
        return [e for e in self.events if e.type == type and provider in (None, e.provider) and object_id in (None, e.object_id)]

    def clear(self) -> None:
        """Forget what arrived (event ids seen stay seen, so a retry is not counted again)."""
        with self._changed:
            self._events.clear()
            self._deliveries.clear()

    def wait_for(
        self, type: str, *, provider: str | None = None, object_id: str | None = None,
        match: Callable[[Webhook], bool] | None = None, timeout: float = 10.0,
    ) -> Webhook:
        """The first event of `type` (and `provider`, `object_id`, `match`) received, waiting up to `timeout` seconds.

        It flushes the sandbox's outbox (every delivery due now is attempted), then waits on the
        receiver's condition, woken by each arrival: events recorded later (timers, another thread)
        are caught when they arrive, and nothing sleeps blindly.
        """
        deadline = time.monotonic() + timeout

        def found() -> Webhook | None:
            return next((e for e in self._events if e.type == type and provider in (None, e.provider)
                         and object_id in (None, e.object_id) and (match is None or match(e))), None)

        with self._changed:
            hit = found()
        if hit is not None:
            return hit
        self.client.flush_webhooks(timeout=max(0.1, min(deadline - time.monotonic(), 120.0)), check=False)
        with self._changed:
            while (hit := found()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        if hit is not None:
            return hit
        raise TimeoutError(self._explain(type, provider, object_id, timeout))

    def _explain(self, type: str, provider: str | None, object_id: str | None, timeout: float) -> str:
        wanted = type + (f" ({provider})" if provider else "") + (f" for {object_id}" if object_id else "")
        lines = [f"no {wanted} webhook arrived within {timeout} s"]
        try:
            recorded = self.client.events(type=type, provider=provider, object_id=object_id)
            mine = [d for d in self.client.deliveries(event_type=type, provider=provider, object_id=object_id)
                    if d["endpoint_id"] in {e["id"] for e in self.endpoints.values()}]
        except SandboxError:
            recorded, mine = [], []
        lines.append(f"the sandbox recorded {len(recorded)} such event(s); deliveries to this receiver: "
                     + (", ".join(f"{d['status']} ({len(d['attempts'])} attempts)" for d in mine) or "none"))
        lines.append(f"received: {', '.join(self.types()) or 'nothing'}")
        lines += [f"rejected: {r}" for r in self.rejected]
        lines += [f"not received: {why}" for why in self.missing.values()]
        return "\n  ".join(lines)

    # -- one request ----------------------------------------------------------------------------

    def receive(self, provider: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        endpoint = self.endpoints.get(provider)
        if endpoint is None:
            return 404, "no such endpoint"
        try:
            payload = self._verify(provider, endpoint["secret"], headers, body)
            kind, event_id, object_id = describe(provider, payload, headers)
        except Exception as exc:  # WebhookVerificationError of either library, bad JSON, a missing field
            with self._changed:
                self._rejected.append(Rejection(provider, f"{type(exc).__name__}: {exc}", headers, body))
                self._changed.notify_all()
            return 400, "signature check failed"
        webhook = Webhook(provider, kind, event_id, object_id, payload, headers, body)
        with self._changed:
            self._deliveries.append(webhook)
            if (provider, event_id) not in self._seen:
                self._seen.add((provider, event_id))
                self._events.append(webhook)
            self._changed.notify_all()
        return 204, ""

    def _verify(self, provider: str, secret: str, headers: dict[str, str], body: bytes) -> Any:
        if provider == "dino":
            return verify_dino(secret, headers, body)
        if provider == "crossmint":
            return verify_svix(secret, headers, body)
        if provider == "basistheory":
            return verify_standard(secret, headers, body)
        if self._bt_key is None:
            resp = self.client.request("GET", BT_KEY_PATH)
            if resp.status != 200:
                raise VerificationError(f"GET {BT_KEY_PATH} answered {resp.status}")
            self._bt_key = resp.body
        return verify_bt_signature(self._bt_key, headers, body)
