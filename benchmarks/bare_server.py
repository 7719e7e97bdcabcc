"""A bare aiohttp server: the floor `http_overhead.py` compares the sandbox against.

It answers GET /v1/purchase-intents/{id} and POST /v1/purchase-intents (plus GET /) with a
fixed, pre-serialized JSON body shaped and sized like a Dino purchase intent (~0.9 KB), and
does nothing else: no middleware, no authentication, no validation, no state. POST reads
the request body (as any real handler must) but does not parse it.

It runs like `sandbox serve`: uvloop when importable, access log off, one "listening on"
line on stdout once the socket listens, a clean exit on SIGINT/SIGTERM.

    python benchmarks/bare_server.py --port 8760
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from aiohttp import web

# The same fields as a freshly created Dino purchase intent, so the response size matches.
_INTENT = {
    "id": "pi_7zx4vezy8ctqga6j4h23xtca20",
    "object": "purchase_intent",
    "status": "intent_created",
    "product_url": "https://example.com/products/demo-item",
    "quantity": 1,
    "currency": "usd",
    "max_total_cents": 5000,
    "buyer": {
        "first_name": "John", "last_name": "Doe", "email": "john@example.com", "phone": "+15551234567",
        "address1": "123 Main St", "city": "New York", "province": "NY", "postal_code": "10001", "country": "US",
    },
    "metadata": {},
    **dict.fromkeys((
        "expected_total_cents", "merchant_name", "reason", "decision_reason", "decided_at", "approval_url",
        "payment_credential_handle", "one_time_exact_amount", "approved_amount_cents", "credential_expires_at",
        "credential_provider", "credential_mode", "credential_ttl_seconds", "merchant_lock", "failure_reason",
    )),
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z",
}
BODY = json.dumps(_INTENT, separators=(",", ":")).encode()
JSON = "application/json"


async def get(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type=JSON)


async def post(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, status=201, content_type=JSON)


def create_app() -> web.Application:
    app = web.Application()
    app.add_routes([
        web.get("/", get),
        web.get("/v1/purchase-intents/{id}", get),
        web.post("/v1/purchase-intents", post),
    ])
    return app


async def _serve(host: str, port: int) -> None:
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"bare aiohttp listening on http://{bound_host}:{bound_port} ({len(BODY)}-byte body)", flush=True)
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
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner, contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        runner.run(_serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
