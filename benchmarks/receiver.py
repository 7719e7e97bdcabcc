"""A webhook receiver that costs next to nothing: counts POSTs, answers 200 at once.

A plain asyncio protocol (on uvloop when importable), not a web framework, so that the receiver
takes as little of the machine's CPU as it can while the server under test sends it webhooks.
It speaks just enough HTTP/1.1 for a webhook sender: keep-alive, `Content-Length` bodies (read
and dropped), several requests in one read. Every POST answers `200` with an empty body and is
counted; two paths are its own:

- `GET /stats`: `{"count": N, "first": T, "last": T}`, the POSTs counted and the
  `time.monotonic()` of the first and the last (CLOCK_MONOTONIC, the same clock in every
  process of the machine), or null;
- `POST /reset`: sets them back to zero (not counted).

Prints one "listening on http://HOST:PORT" line once it listens; stops on SIGINT/SIGTERM.

    python benchmarks/receiver.py --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time

from common import event_runner

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None

    def hit(self) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1

    def stats(self) -> bytes:
        body = json.dumps({"count": self.count, "first": self.first, "last": self.last}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class Receiver(asyncio.Protocol):
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            if len(self.buffer) < end + 4 + length:
                break  # the body is not all here yet
            self.buffer = self.buffer[end + 4 + length:]
            method, _, rest = head.partition(b" ")
            path = rest.partition(b" ")[0]
            if method == b"GET" and path == b"/stats":
                out.append(self.counter.stats())
            elif method == b"POST" and path == b"/reset":
                self.counter.__init__()  # type: ignore[misc]
                out.append(OK)
            else:
                if method == b"POST":
                    self.counter.hit()
                out.append(OK)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    counter = Counter()
    server = await loop.create_server(lambda: Receiver(counter), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()
    print(f"receiver listening on http://{bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    for signame in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, signame), stop.set)
    async with server:
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    args = parser.parse_args()
    runner = event_runner()
    with runner, contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        runner.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
