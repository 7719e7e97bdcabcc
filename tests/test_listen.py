"""`sandbox listen`: the local receiver prints each webhook and checks its signature."""

import io

import pytest
from sandbox.listen import make_app

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
