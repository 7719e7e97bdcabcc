"""`sandbox listen`: a local webhook receiver that prints what arrives, like `stripe listen`.

With `--secret`, each delivery's signature is checked with the scheme its headers announce
(Dino, or Svix / Standard Webhooks), so a misconfigured secret shows at once. Basis Theory
platform deliveries (`BT-SIGNATURE`: RSA-PSS SHA-256 over the key-sorted JSON body) are checked
with the sandbox's public key: `--bt-public-key FILE|URL`, or `--sandbox URL` for the key that
sandbox serves. A URL is read at the first such delivery and read again once when a signature
does not verify, since a restarted sandbox signs with a new key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sandbox.core.webhooks.signing import STANDARD_WEBHOOKS
from sandbox.providers.basistheory_platform.control import KEY_PATH as BT_KEY_PATH
from sandbox.providers.dino.events import SIGNER as DINO

BT_SIGNATURE = "BT-SIGNATURE"


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


def bt_signature_ok(public_key: Any, signature: str, body: bytes) -> bool:
    """A Basis Theory platform signature: RSA-PSS (any salt length) with SHA-256 over the key-sorted JSON body."""
    try:
        stable = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        public_key.verify(base64.b64decode(signature, validate=True), stable, pss, hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error, orjson.JSONDecodeError):
        return False
    return True


def load_public_key(pem: bytes) -> Any:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


class BtPublicKey:
    """The key Basis Theory platform deliveries are checked with: a PEM file, read now, or a
    URL, read at the first delivery (and again once when a signature does not verify)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.url = source.startswith(("http://", "https://"))
        self._key: Any = None if self.url else load_public_key(Path(source).read_bytes())

    @classmethod
    def of_sandbox(cls, sandbox_url: str) -> BtPublicKey:
        return cls(sandbox_url.rstrip("/") + BT_KEY_PATH)

    async def _fetch(self) -> Any:
        async with aiohttp.ClientSession() as session, session.get(self.source, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            if resp.status != 200:
                raise ValueError(f"{self.source} answered {resp.status}")
            return load_public_key(await resp.read())

    async def verdict(self, signature: str, body: bytes) -> str:
        try:
            if self._key is None:
                self._key = await self._fetch()
            if bt_signature_ok(self._key, signature, body):
                return "signature ok"
            if self.url:  # the sandbox may have restarted with a new key
                fresh = await self._fetch()
                if fresh.public_numbers() != self._key.public_numbers():
                    self._key = fresh
                    if bt_signature_ok(fresh, signature, body):
                        return "signature ok"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return f"unchecked: cannot read the public key: {exc}"
        return "signature MISMATCH"


def _describe(payload: Any, headers) -> tuple[str, str]:
    """The event type and id, wherever the envelope keeps them."""
    if not isinstance(payload, dict):
        return "?", ""
    inner = payload.get("event")
    if isinstance(inner, dict):  # an envelope that wraps the event (Basis Theory platform)
        return str(inner.get("type", "?")), str(inner.get("id", ""))
    return str(payload.get("type", "?")), str(payload.get("id") or headers.get("svix-id", ""))


def make_app(secret: str | None, status: int, out=sys.stdout, bt_public_key: BtPublicKey | None = None) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            kind, ident = _describe(orjson.loads(body), request.headers)
        except orjson.JSONDecodeError:
            kind, ident = "not JSON", ""
        attempt = request.headers.get("Dino-Delivery-Attempt", "")
        if BT_SIGNATURE in request.headers:
            checked = await bt_public_key.verdict(request.headers[BT_SIGNATURE], body) if bt_public_key else "unchecked"
        else:
            checked = verdict(secret, request.headers, body)
        line = f"{request.path} {kind} {ident} {('attempt ' + attempt) if attempt else ''} [{checked}]"
        print(line.replace("  ", " "), file=out, flush=True)
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


def listen(
    host: str, port: int, secret: str | None, status: int, bt_public_key: str | None = None, sandbox: str | None = None,
) -> int:
    try:
        bt_key = BtPublicKey(bt_public_key) if bt_public_key else BtPublicKey.of_sandbox(sandbox) if sandbox else None
    except (OSError, ValueError) as exc:
        print(f"sandbox listen: cannot read --bt-public-key {bt_public_key}: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        runner = web.AppRunner(make_app(secret, status, bt_public_key=bt_key), access_log=None)
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
