"""`sandbox listen`: a local webhook receiver that prints what arrives, like `stripe listen`.

With `--secret`, each delivery's signature is checked with the scheme its headers announce
(Dino, or Svix / Standard Webhooks), so a misconfigured secret shows at once.
"""

from __future__ import annotations

import asyncio
import hmac
import sys
import time

import orjson
from aiohttp import web

from sandbox.core.webhooks.signing import STANDARD_WEBHOOKS
from sandbox.providers.dino.events import SIGNER as DINO


def verdict(secret: str | None, headers, body: bytes) -> str:
    if not secret:
        return "unchecked"
    if "Dino-Signature" in headers:
        parts = headers["Dino-Signature"].split(",")
        stamp = next((p[2:] for p in parts if p.startswith("t=")), "0")
        expected = DINO.sign([secret], "", int(stamp), body)["Dino-Signature"].split(",")[1]
        ok = any(hmac.compare_digest(expected, p) for p in parts[1:])
    else:
        msg_id = headers.get("webhook-id") or headers.get("svix-id", "")
        stamp = headers.get("webhook-timestamp") or headers.get("svix-timestamp", "0")
        given = (headers.get("webhook-signature") or headers.get("svix-signature", "")).split()
        expected = STANDARD_WEBHOOKS.sign([secret], msg_id, int(stamp), body)["webhook-signature"]
        ok = any(hmac.compare_digest(expected, g) for g in given)
    fresh = abs(time.time() - int(stamp)) <= 300
    return "signature ok" if ok and fresh else ("signature STALE" if ok else "signature MISMATCH")


def make_app(secret: str | None, status: int, out=sys.stdout) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = orjson.loads(body)
            kind, ident = payload.get("type", "?"), payload.get("id") or request.headers.get("svix-id", "")
        except orjson.JSONDecodeError:
            kind, ident = "not JSON", ""
        attempt = request.headers.get("Dino-Delivery-Attempt", "")
        line = f"{request.path} {kind} {ident} {('attempt ' + attempt) if attempt else ''} [{verdict(secret, request.headers, body)}]"
        print(line.replace("  ", " "), file=out, flush=True)
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


def listen(host: str, port: int, secret: str | None, status: int) -> int:
    async def run() -> None:
        runner = web.AppRunner(make_app(secret, status), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"sandbox listen: receiving webhooks on http://{host}:{port}/ (answering {status})", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"sandbox: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
