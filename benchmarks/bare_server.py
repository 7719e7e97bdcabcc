"""A bare aiohttp server: the floor the benchmarks compare the sandbox against.

It answers the paths the benchmarks send to the sandbox with fixed, pre-serialized JSON bodies
shaped and sized like the sandbox's own answers, and does nothing else: no middleware, no
authentication, no validation, no state. A POST reads the request body (as any real handler
must) but does not parse it.

| route | answer |
|---|---|
| `GET /`, `GET /_sandbox/health` | 200, a small JSON object |
| `POST /v1/purchase-intents` | 201, a Dino purchase intent (~0.9 KB) |
| `GET /v1/purchase-intents/{id}` | 200, the same intent |
| `POST /v1/purchase-intents/{id}/authorize` | 200, the intent as authorize answers it |
| `POST /v1/purchase-intents/{id}/issue-payment-credential` | 200, the intent with a credential (~1 KB) |
| `POST /projects/{project}/purchase-intents` | 201, a Basis Theory AI purchase intent (~0.4 KB) |
| `POST /projects/{project}/purchase-intents/{id}/verify` | 200, a verify answer (`VERIFIED`) |

With `--webhook URL`, every `POST /v1/purchase-intents` also queues a webhook (a fixed ~1.1 KB
event, HMAC-SHA256 signed) that 4 workers send to URL over one aiohttp ClientSession, as the
sandbox's outbox does (at most 4 in flight to one endpoint): the floor of webhook fan-out.

It runs like `sandbox serve`: uvloop when importable, access log off, one "listening on"
line on stdout once the socket listens, a clean exit on SIGINT/SIGTERM.

    python benchmarks/bare_server.py --port 8760
    python benchmarks/bare_server.py --port 8760 --webhook http://127.0.0.1:9000/hooks
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import signal
import time

import aiohttp
from aiohttp import web
from common import INTENT, event_runner

# The same fields as a freshly created Dino purchase intent, so the response size matches.
_INTENT = {
    "id": "pi_7zx4vezy8ctqga6j4h23xtca20",
    "object": "purchase_intent",
    "status": "intent_created",
    **INTENT,
    "metadata": {},
    **dict.fromkeys((
        "expected_total_cents", "merchant_name", "reason", "decision_reason", "decided_at", "approval_url",
        "payment_credential_handle", "one_time_exact_amount", "approved_amount_cents", "credential_expires_at",
        "credential_provider", "credential_mode", "credential_ttl_seconds", "merchant_lock", "failure_reason",
    )),
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z",
}
_AUTHORIZED = {
    **_INTENT, "status": "approved", "expected_total_cents": 4599, "merchant_name": "example.com",
    "reason": "Authorize online purchase", "decision_reason": "Purchase intent approved", "decided_at": "2026-01-01T00:00:00.000Z",
}
_ISSUED = {
    **_AUTHORIZED, "status": "payment_credential_issued", "payment_credential_handle": "pch_5ept30q2hy2f75ngdescmm6r1z",
    "one_time_exact_amount": True, "approved_amount_cents": 4599, "credential_expires_at": "2026-01-01T00:15:00.000Z",
    "credential_provider": "stripe_proxy_card", "credential_mode": "one_time_exact_amount", "credential_ttl_seconds": 900,
    "merchant_lock": "example.com",
}
_BT_INTENT = {
    "id": "76dc0a75-8e2a-4172-b891-d69fb6b5d188", "entityId": "bench-entity", "credentialType": "virtual-card",
    "status": "verify", "createdAt": "2026-01-01T00:00:00Z", "expiresAt": "2026-01-02T00:00:00Z",
    "paymentMethodId": "69ab4bce-5471-4265-a2e3-f07f9a1f1614", "projectId": "550e8400-e29b-41d4-a716-446655440000",
    "mandates": [{"type": "maxAmount", "value": "1000.00", "details": {"currency": "840", "period": "transaction"}}],
}
_BT_VERIFIED = {"status": "VERIFIED", "data": {"brand": "VISA", "purchaseIntentId": _BT_INTENT["id"]}}
_EVENT = {
    "id": "evt_5ept30q2hy2f75ngdescmm6r1z", "type": "purchase_intent.created", "occurred_at": "2026-01-01T00:00:00.000Z",
    "request_id": "req_trace_5ept30q2hy2f75ngdescmm6r1z", "data": {"purchase_intent": _INTENT},
}


def _bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


BODY = _bytes(_INTENT)
AUTHORIZED, ISSUED, BT_INTENT, BT_VERIFIED, EVENT = map(_bytes, (_AUTHORIZED, _ISSUED, _BT_INTENT, _BT_VERIFIED, _EVENT))
HEALTH = _bytes({"status": "ok", "server": "bare aiohttp"})
JSON = "application/json"
SECRET = b"whsec_YmFyZS1iZW5jaG1hcmstc2VjcmV0"
OUTBOX = web.AppKey("outbox", asyncio.Queue)


def fixed(body: bytes, status: int = 200, read: bool = False):
    async def handler(request: web.Request) -> web.Response:
        if read:
            await request.read()
        return web.Response(body=body, status=status, content_type=JSON)

    return handler


async def create(request: web.Request) -> web.Response:
    await request.read()
    outbox = request.app.get(OUTBOX)
    if outbox is not None:
        outbox.put_nowait(EVENT)
    return web.Response(body=BODY, status=201, content_type=JSON)


async def deliver(url: str, outbox: asyncio.Queue, in_flight: int = 4) -> None:
    """`in_flight` workers sending what `create` queued, signed as a Dino webhook is."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async def worker() -> None:
            while True:
                body = await outbox.get()
                stamp = str(int(time.time()))
                signature = hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                headers = {"Content-Type": JSON, "Dino-Signature": f"t={stamp},v1={signature}"}
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                        await resp.read()

        await asyncio.gather(*(worker() for _ in range(in_flight)))


def create_app(webhook: str | None = None) -> web.Application:
    app = web.Application()
    get = fixed(BODY)
    app.add_routes([
        web.get("/", fixed(HEALTH)),
        web.get("/_sandbox/health", fixed(HEALTH)),
        web.get("/v1/purchase-intents/{id}", get),
        web.post("/v1/purchase-intents", create),
        web.post("/v1/purchase-intents/{id}/authorize", fixed(AUTHORIZED, read=True)),
        web.post("/v1/purchase-intents/{id}/issue-payment-credential", fixed(ISSUED, read=True)),
        web.post("/projects/{project}/purchase-intents", fixed(BT_INTENT, 201, read=True)),
        web.post("/projects/{project}/purchase-intents/{id}/verify", fixed(BT_VERIFIED, read=True)),
    ])
    if webhook:
        app[OUTBOX] = asyncio.Queue()

        async def sender(app: web.Application):
            task = asyncio.get_running_loop().create_task(deliver(webhook, app[OUTBOX]))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(sender)
    return app


async def _serve(host: str, port: int, webhook: str | None) -> None:
    runner = web.AppRunner(create_app(webhook), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"bare aiohttp listening on http://{bound_host}:{bound_port} ({len(BODY)}-byte body)"
              + (f", webhooks to {webhook}" if webhook else ""), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signame in ("SIGINT", "SIGTERM"):
            with contextlib.suppress(NotImplementedError, AttributeError):
                loop.add_signal_handler(getattr(signal, signame), stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8760, help="0 picks a free port")
    parser.add_argument("--webhook", metavar="URL", help="send a webhook to URL for every POST /v1/purchase-intents")
    args = parser.parse_args()
    runner = event_runner()
    with runner, contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        runner.run(_serve(args.host, args.port, args.webhook))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
