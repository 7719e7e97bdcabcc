"""`sandbox listen`: the local receiver prints each webhook and checks its signature."""

import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sandbox.listen import BtPublicKey, make_app

from tests.bt import Bt

SECRET = "whsec_" + "c2FuZGJveC1saXN0ZW4tdGVzdC1zZWNyZXQ="


@pytest.mark.parametrize("provider", ["dino", "basistheory"])
@pytest.mark.parametrize(
    "secret, verdict",
    [(SECRET, "signature ok"), ("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==", "signature MISMATCH")],
)
async def test_listen_prints_and_checks(make_api, aiohttp_server, provider, secret, verdict):
    out = io.StringIO()
    server = await aiohttp_server(make_app(secret, 200, out))
    sandbox = await make_api()
    status, _ = await sandbox.control(
        "POST", "/_sandbox/webhook-endpoints", {"provider": provider, "url": str(server.make_url("/hooks")), "secret": SECRET}
    )
    assert status == 201
    if provider == "dino":
        await sandbox.create()
    else:
        await Bt(sandbox.client).intent("6011111111111117")
    await sandbox.control("POST", "/_sandbox/webhooks/flush")
    (line,) = out.getvalue().splitlines()
    assert line.startswith("/hooks purchase_intent.created ") and line.endswith(f"[{verdict}]")


PLATFORM_KEY = {"BT-API-KEY": "key_test_listen"}
CARD = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}


async def platform_delivery(make_api, aiohttp_server, key_for):
    """A Basis Theory platform token.created delivered to `sandbox listen`; its printed line."""
    out = io.StringIO()
    sandbox = await make_api()
    server = await aiohttp_server(make_app(None, 200, out, bt_public_key=key_for(sandbox)))
    status, _ = await sandbox.control("POST", "/_sandbox/webhook-endpoints", {"provider": "btplatform", "url": str(server.make_url("/bt"))})
    assert status == 201
    async with sandbox.client.post("/tokens", json={"type": "card", "data": CARD}, headers=PLATFORM_KEY) as resp:
        assert resp.status == 201
        token = await resp.json()
    await sandbox.control("POST", "/_sandbox/webhooks/flush")
    (line,) = out.getvalue().splitlines()
    assert line.startswith("/bt token.created ")
    return line, token


async def test_listen_checks_basis_theory_platform_signatures_with_the_sandboxs_key(make_api, aiohttp_server):
    line, _ = await platform_delivery(make_api, aiohttp_server, lambda s: BtPublicKey.of_sandbox(str(s.client.make_url("/"))))
    assert line.endswith("[signature ok]")


async def test_listen_with_another_key_file_says_mismatch(make_api, aiohttp_server, tmp_path):
    other = tmp_path / "other.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    line, _ = await platform_delivery(make_api, aiohttp_server, lambda s: BtPublicKey(str(other)))
    assert line.endswith("[signature MISMATCH]")


async def test_listen_without_a_key_leaves_platform_deliveries_unchecked(make_api, aiohttp_server):
    line, token = await platform_delivery(make_api, aiohttp_server, lambda s: None)
    assert line.endswith("[unchecked]")


def test_listen_refuses_an_unreadable_key(tmp_path, capsys):
    from sandbox.cli import main

    assert main(["listen", "--bt-public-key", str(tmp_path / "missing.pem")]) == 2
    assert "cannot read --bt-public-key" in capsys.readouterr().err
