"""Issue 13: what aiohttp's parser refuses before any route runs is answered in the owning
provider's error shape (the control plane's when no provider owns the path), with a fixed message
that never repeats a header value; a client that goes away mid-request is not a traceback.

These run the app with the runner `sandbox serve` uses (`sandbox.app.runner`): aiohttp's test
client serves with its own runner, which has none of this."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from http import HTTPStatus

import pytest
from aiohttp import web
from sandbox.app import bound, create_app, runner
from sandbox.config import Settings

from tests.conftest import START

SECRET = b"din_test_SECRETSECRET0123456789"


@pytest.fixture
async def served():
    """Starts the app on a free port with the real runner; its port."""
    runners: list[web.AppRunner] = []

    async def start(prepare=None, **overrides) -> int:
        settings = Settings(**{"seed": 7, "clock": START, **overrides})
        app = create_app(settings)
        if prepare is not None:
            prepare(app)
        run = runner(app, settings)
        await run.setup()
        runners.append(run)
        await web.TCPSite(run, "127.0.0.1", 0).start()
        bound(run)
        return run.addresses[0][1]

    yield start
    for run in runners:
        await run.cleanup()


async def exchange(port: int, raw: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Sends `raw`, reads until the server closes: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def dino(status: int, body: dict) -> None:
    assert body["error"]["code"] == "invalid_request" and body["error"]["message"]


def crossmint(status: int, body: dict) -> None:
    assert body["statusCode"] == status and body["error"] == HTTPStatus(status).phrase and isinstance(body["message"], str)


def bt_ai(status: int, body: dict) -> None:
    assert body["error"]["status"] == status and body["error"]["type"] == "bad_request" and body["error"]["message"]
    assert body["error"]["title"] == HTTPStatus(status).phrase  # the title follows the status sent


def bt_platform(path: str):
    def check(status: int, body: dict) -> None:
        assert body["status"] == status and body["type"].endswith(f"/{status}") and body["detail"]
        assert body["instance"] == path

    return check


def control(status: int, body: dict) -> None:
    assert body["error"]["code"] == "invalid_request" and body["error"]["message"]


HOST = b"Host: 127.0.0.1\r\n"
DINO_AUTH = b"Authorization: Bearer " + SECRET + b"\r\n"

CASES = [
    pytest.param(
        b"GET /v1/purchase-intents HTTP/1.1\r\n" + HOST + b"Authorization: Bearer " + SECRET + b"A" * 9000 + b"\r\n\r\n",
        431, dino, "header is longer", id="header-over-8k-dino",
    ),
    pytest.param(
        b"GET /api/2025-06-09/orders HTTP/1.1\r\n" + HOST + b"X-" + b"N" * 9000 + b": " + SECRET + b"\r\n\r\n",
        431, crossmint, "header is longer", id="header-name-over-8k-crossmint",
    ),
    pytest.param(
        b"GET /v1/" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + DINO_AUTH + b"\r\n",
        414, dino, "request line is longer", id="request-line-over-8k",
    ),
    pytest.param(
        b"GET /projects/p/agents HTTP/1.1\r\n" + HOST + b"".join(b"X-H%d: 1\r\n" % i for i in range(200))
        + b"Authorization: Bearer " + SECRET + b"\r\n\r\n",
        431, bt_ai, "more header fields", id="too-many-headers-bt-ai",
    ),
    pytest.param(
        b"GET /tokens HTTP/1.1\r\n" + HOST + b"BT-API-KEY: key_" + SECRET + b"\x01x\r\n\r\n",
        400, bt_platform("/tokens"), "header is malformed", id="control-char-in-header-value",
    ),
    pytest.param(
        b"GET /tokens HTTP/1.1\r\n" + HOST + b"BT-API\x7fKEY: key_" + SECRET + b"\r\n\r\n",
        400, bt_platform("/tokens"), "header is malformed", id="control-char-in-header-name",
    ),
    pytest.param(
        b"FOO /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"\r\n",
        400, dino, "HTTP method", id="unknown-method",
    ),
    pytest.param(
        b"GET /api/2025-06-09/orders HTTP/9.9\r\n" + HOST + b"X-API-KEY: " + SECRET + b"\r\n\r\n",
        400, crossmint, "request line is malformed", id="bad-http-version",
    ),
    pytest.param(
        b"GET /v1/purchase-intents\r\n" + HOST + DINO_AUTH + b"\r\n",
        400, dino, "no HTTP version", id="request-line-without-version",
    ),
    pytest.param(
        b"GET /_sandbox/hea\x01lth HTTP/1.1\r\n" + HOST + b"\r\n",
        400, control, "request line is malformed", id="control-char-in-path",
    ),
    pytest.param(b"\x00\x01\x02 hello\r\n\r\n", 400, control, "HTTP method", id="not-http-at-all"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, control, "TLS", id="tls-to-the-http-port"),
    pytest.param(
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400, dino, "chunked request body", id="bad-chunk-size",
    ),
    pytest.param(
        b"POST /api/2025-06-09/orders HTTP/1.1\r\n" + HOST + b"X-API-KEY: " + SECRET + b"\r\nContent-Length: 12abc\r\n\r\n{}",
        400, crossmint, "Content-Length", id="content-length-not-a-number",
    ),
    pytest.param(
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        400, dino, "Content-Length", id="content-length-twice",
    ),
    pytest.param(
        b"POST /projects/p/agents HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        400, bt_ai, "Content-Length", id="content-length-with-transfer-encoding",
    ),
    pytest.param(
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Transfer-Encoding: gzip\r\n\r\n{}",
        400, dino, "Transfer-Encoding", id="transfer-encoding-not-chunked",
    ),
    pytest.param(b"GET /_sandbox/health HTTP/1.1\r\n\r\n", 400, control, "Host header", id="http11-without-host"),
]


@pytest.mark.parametrize("raw, status, shape, says", CASES)
async def test_a_parser_reject_answers_in_the_owners_shape_without_the_secret(served, raw, status, shape, says):
    port = await served()
    answer_status, headers, body = await exchange(port, raw)
    assert answer_status == status
    assert headers["content-type"].startswith("application/json")
    assert SECRET not in body and b"SECRETSECRET" not in body
    parsed = json.loads(body)
    shape(status, parsed)
    assert says in body.decode()


async def test_a_bad_chunk_after_the_head_is_answered_at_once_not_at_the_read_deadline(served):
    """The head was served and the handler is reading the body when a malformed chunk arrives:
    the handler's read fails there and then (a 400 in Dino's shape), instead of waiting for the
    read deadline's 408."""
    port = await served(read_timeout_seconds=30)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.write(b"zz\r\n" + SECRET + b"\r\n0\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'"message":"The chunked request body is malformed"' in answer and SECRET not in answer


async def test_pipelined_requests_still_work(served):
    port = await served()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((b"GET /_sandbox/health HTTP/1.1\r\n" + HOST + b"\r\n") * 3)
    await writer.drain()
    seen = b""
    while seen.count(b"HTTP/1.1 200") < 3:
        seen += await asyncio.wait_for(reader.read(65536), 5)
    writer.close()


# -- client disconnects -------------------------------------------------------------------------------


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]


@pytest.mark.parametrize("path, auth", [
    ("/v1/purchase-intents", DINO_AUTH),
    ("/api/2025-06-09/orders", b"X-API-KEY: sk_staging_x\r\n"),
    ("/_sandbox/scenarios", b""),
], ids=["dino", "crossmint", "control"])
@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
async def test_a_client_leaving_mid_body_is_no_traceback(served, caplog, path, auth, reset):
    caplog.set_level(logging.DEBUG)
    port = await served()
    head = f"POST {path} HTTP/1.1\r\n".encode() + HOST + auth + b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", port))
    if reset:  # an RST rather than a FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sendall(head + b'{"quantity": ')
    await asyncio.sleep(0.2)
    sock.close()
    await asyncio.sleep(0.3)
    assert tracebacks(caplog) == []
    status, _, _ = await exchange(port, b"GET /_sandbox/health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    assert status == 200


async def test_a_client_leaving_mid_head_or_after_a_garbled_body_is_no_traceback(served, caplog):
    caplog.set_level(logging.DEBUG)
    port = await served()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + b"Authori")
    await asyncio.sleep(0.1)
    sock.close()
    # A gzip body that is not gzip: answered by the provider, then drained by aiohttp (which logged
    # an "Unhandled exception" traceback for it).
    status, _, body = await exchange(port, (
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + b"x" * 20
    ))
    assert status == 400 and b"Content-Encoding" in body
    await asyncio.sleep(0.2)
    assert tracebacks(caplog) == []


async def test_parser_rejects_log_one_line_without_the_header(served, caplog):
    caplog.set_level(logging.DEBUG)
    port = await served()
    await exchange(port, b"GET /v1/purchase-intents HTTP/1.1\r\n" + HOST + b"Authorization: Bearer " + SECRET + b"\x01\r\n\r\n")
    assert tracebacks(caplog) == []
    refused = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.INFO
    assert SECRET.decode() not in caplog.text


async def test_a_real_bug_still_logs_a_traceback(served, caplog, monkeypatch):
    """A handler bug is still an error with its traceback (and a 500 in the provider's shape)."""
    from sandbox.providers.dino import service

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service.DinoService, "page", broken)
    caplog.set_level(logging.DEBUG)
    port = await served()
    status, _, body = await exchange(port, b"GET /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Connection: close\r\n\r\n")
    assert status == 500 and json.loads(body)["error"]["code"] == "internal_error"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged and "a bug" in caplog.text


async def test_a_bug_above_the_error_router_logs_a_traceback_and_answers_in_the_owners_shape(served, caplog):
    @web.middleware
    async def broken(request, handler):
        raise RuntimeError("a bug outside the router")

    caplog.set_level(logging.DEBUG)
    port = await served(prepare=lambda app: app.middlewares.insert(0, broken))
    status, headers, body = await exchange(port, b"GET /api/2025-06-09/orders/x HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    assert status == 500 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["statusCode"] == 500  # Crossmint's shape
    assert any(r.exc_info and r.levelno >= logging.ERROR for r in caplog.records) and "a bug outside the router" in caplog.text


# -- bounds the event-loop benchmark led to (benchmarks/event_loop.py; no timings asserted) --------------


async def test_a_json_body_of_more_than_10000_values_is_a_400_naming_the_bound(served):
    port = await served()
    body = json.dumps({f"k{i}": i for i in range(20_000)}).encode()
    status, _, answer = await exchange(port, (
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    ))
    assert status == 400 and "more than 10000 JSON values" in json.loads(answer)["error"]["message"]


async def test_an_answer_names_at_most_100_field_errors(served):
    port = await served()
    body = json.dumps({f"k{i}": i for i in range(500)}).encode()
    status, _, answer = await exchange(port, (
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    ))
    assert status == 400 and len(json.loads(answer)["error"]["details"]["errors"]) == 100


async def test_a_gzip_bomb_is_a_413_and_its_rest_is_not_inflated(served):
    """After the 413, aiohttp would inflate and drop the whole rest of the body on the event loop;
    past 4 MiB the connection closes instead."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64)) + compressor.flush()  # 64 MiB of zeros
    port = await served()
    status, _, answer = await exchange(port, (
        b"POST /v1/purchase-intents HTTP/1.1\r\n" + HOST + DINO_AUTH + b"Content-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\n" + f"Content-Length: {len(bomb)}\r\n\r\n".encode() + bomb
    ))
    assert status == 413 and json.loads(answer)["error"]["code"] == "invalid_request"


async def test_more_regex_rules_than_the_regex_cache_holds_still_match(served):
    """Each rule keeps its compiled regexes: past the shared cache's 1024 patterns they are not
    recompiled on every request, and still decide."""
    rules = "".join(
        f'  - on: request\n    when: {{path: {{regex: "^/v1/purchase-intents/nothing-{i}$"}}}}\n    then: {{fault: {{status: 503}}}}\n'
        for i in range(1100)
    ) + '  - on: request\n    when: {path: {regex: "^/v1/purchase-intents/pi_(x|y)+$"}}\n    then: {fault: {status: 502}}\n'
    scenario = f"name: many-regexes\nrules:\n{rules}".encode()
    port = await served()
    status, _, _ = await exchange(port, (
        b"POST /_sandbox/scenarios HTTP/1.1\r\n" + HOST + b"Content-Type: application/yaml\r\nConnection: close\r\n"
        + f"Content-Length: {len(scenario)}\r\n\r\n".encode() + scenario
    ))
    assert status == 201
    closing = HOST + DINO_AUTH + b"Connection: close\r\n\r\n"
    for _ in range(2):
        assert (await exchange(port, b"GET /v1/purchase-intents/pi_xyx HTTP/1.1\r\n" + closing))[0] == 502
        assert (await exchange(port, b"GET /v1/purchase-intents/nothing-1099 HTTP/1.1\r\n" + closing))[0] == 503


async def test_options_asterisk_answers_in_json_and_is_logged(served):
    """`OPTIONS *` names no path, so no route pattern matches it: the catch-all still takes it
    (core/edge.py), so it answers as any unknown path does and shows in the request log."""
    port = await served()
    status, headers, body = await exchange(port, b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status == 404 and headers["content-type"].startswith("application/json"), body
    assert "error" in json.loads(body)
    read_log = b"GET /_sandbox/requests?method=OPTIONS HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, _, logged = await exchange(port, read_log)
    assert status == 200 and [entry["path"] for entry in json.loads(logged)["data"]] == ["*"], logged


@pytest.mark.parametrize(
    ("target", "status", "shape"),
    [
        (b"example.com:443", 404, None),  # a proxy's tunnel: this is no proxy
        (b"/v1/purchase-intents", 405, None),
        (b"/api/2025-06-09/agents", 405, crossmint),
        (b"/v1/purchase-intents?limit=1", 405, None),  # the query is no part of the path
    ],
)
async def test_connect_is_answered_in_the_owners_shape_and_logged(served, target, status, shape):
    port = await served()
    answer_status, headers, body = await exchange(port, b"CONNECT " + target + b" HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    assert answer_status == status and headers["content-type"].startswith("application/json"), body
    parsed = json.loads(body)
    if shape is not None:
        shape(status, parsed)
    message = parsed["message"] if shape is crossmint else parsed["error"]["message"]
    path = target.decode().partition("?")[0]
    assert message.startswith("No route for CONNECT /" if status == 404 else f"Method CONNECT is not allowed on {path};")
    _, _, logged = await exchange(port, b"GET /_sandbox/requests?limit=1 HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
    (entry,) = json.loads(logged)["data"]
    assert (entry["method"], entry["status"]) == ("CONNECT", status)
