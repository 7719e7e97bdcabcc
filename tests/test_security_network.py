"""Issue 13: slow clients are bounded (the request head and body must arrive within the read
timeout, an idle connection closes after the keep-alive timeout), and links handed out never
follow a Host header that names another server (docs/security.md)."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest

from tests.conftest import KEY, free_port

HEAD = b"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def serve_with(serve, *flags: str) -> int:
    port = free_port()
    proc = serve("--port", str(port), *flags)
    assert "listening on" in proc.stdout.readline()
    return port


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """Reads (and drops) whatever comes until the server closes; the time it took."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return float("inf")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_half_a_request_head_is_closed_at_the_read_timeout(serve):
    port = serve_with(serve, "--read-timeout", "1", "--keepalive-timeout", "30")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(HEAD)  # and never the blank line that ends it
        assert seconds_until_closed(sock, 6) < 4


def test_a_head_dripping_in_is_closed_at_the_deadline_all_the_same(serve):
    """Each byte does not restart the clock: the deadline counts from the first one."""
    port = serve_with(serve, "--read-timeout", "1", "--keepalive-timeout", "30")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        try:
            for byte in HEAD + b"X-Slow: " + b"a" * 40:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - started + seconds_until_closed(sock, 6) < 4


def test_an_idle_connection_is_closed_at_the_keepalive_timeout(serve):
    port = serve_with(serve, "--read-timeout", "30", "--keepalive-timeout", "1")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(HEAD + b"\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        assert seconds_until_closed(sock, 6) < 4


def test_a_connection_in_use_is_not_cut(serve):
    """A keep-alive connection pausing between requests, and a request that takes longer than the
    read timeout to answer (a webhook flush), are not slow clients."""
    port = serve_with(serve, "--read-timeout", "1", "--keepalive-timeout", "30")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(HEAD + b"\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)
        sock.sendall(b"POST /_sandbox/webhooks/flush?timeout=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


async def test_half_a_body_is_a_408_and_the_connection_closes(make_api):
    api = await make_api(read_timeout_seconds=0.5)
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /v1/purchase-intents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"quantity\": 1,"
    )
    await writer.drain()
    started = time.monotonic()
    answer = await asyncio.wait_for(reader.read(), timeout=5)  # until the server closes
    writer.close()
    assert time.monotonic() - started < 3
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 0.5 seconds" in answer and b'"error"' in answer  # in Dino's error shape
    assert (await api.request("GET", "/v1/purchase-intents"))[1]["data"] == []


@pytest.mark.parametrize("flag, value", [("--read-timeout", "0"), ("--keepalive-timeout", "-1")])
def test_timeouts_must_be_positive(flag, value):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sandbox", "serve", flag, value], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "timeout" in result.stderr


# -- links ---------------------------------------------------------------------------------------------


async def approval_url(api, headers: dict[str, str] | None = None) -> str:
    intent = await api.create(max_total_cents=80_000)
    _, body, _ = await api.request(
        "POST", f"/v1/purchase-intents/{intent['id']}/authorize", {"expected_total_cents": 50_000, "merchant_name": "example.com"},
        headers=headers,
    )
    assert body["status"] == "needs_approval"
    return body["approval_url"]


async def test_a_host_header_naming_another_server_never_makes_a_link(api):
    url = await approval_url(api, {"Host": "evil.example"})
    assert url.startswith(f"http://127.0.0.1:{api.client.server.port}/_sandbox/dino/approvals/")


@pytest.mark.parametrize("host", ["localhost:9999", "127.0.0.1:18750", "[::1]:8750", "app.localhost:3000"])
async def test_a_host_header_naming_this_server_is_kept(api, host):
    """A port published elsewhere (docker run -p 18750:8750) still gives links the browser can open."""
    assert (await approval_url(api, {"Host": host})).startswith(f"http://{host}/_sandbox/")


async def test_a_host_header_with_a_path_is_not_a_host(api):
    url = await approval_url(api, {"Host": "localhost:8750/evil"})
    assert re.match(rf"http://127\.0\.0\.1:{api.client.server.port}/_sandbox/dino/approvals/pi_", url)


async def test_the_public_url_wins(make_api):
    api = await make_api(public_url="https://sandbox.example.com/")
    assert (await approval_url(api, {"Host": "evil.example"})).startswith("https://sandbox.example.com/_sandbox/dino/approvals/")


async def test_a_refused_request_is_answered_even_while_its_body_trickles_in(make_api):
    # Before, the request log waited for the whole body to log it, so the 401 never went out.
    api = await make_api(read_timeout_seconds=5)
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST /v1/purchase-intents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    head = await asyncio.wait_for(reader.readline(), timeout=3)
    writer.close()
    assert head.startswith(b"HTTP/1.1 401")
