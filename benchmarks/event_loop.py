"""Does any one request block the sandbox's event loop? Hostile inputs, with a lag probe.

Starts the sandbox in a subprocess, served as `sandbox serve` serves it (its CLI, its runner,
uvloop when installed), with one addition in that process: a lag probe, a task that sleeps
10 ms in a loop and reports every wake-up that came more than 2 ms late (so the loop was busy
with something else for that long). Then sends the hostile inputs of issue 13 one at a time,
each in its own time window, while a thread in this process keeps issuing cheap
`GET /_sandbox/health` requests over a keep-alive connection. For each input it prints the
status answered, the worst loop lag the probe saw during the window, the worst latency of the
concurrent health checks (what another client would have waited) and the longest cycle
collection (Python's GC, which holds the GIL) the server ran in the window.

    python benchmarks/event_loop.py                  # every input; ~1 minute
    python benchmarks/event_loop.py --only path,scenario   # inputs whose name contains a word
    python benchmarks/event_loop.py --list-objects 5000    # a smaller Crossmint list (and token search)
    python benchmarks/event_loop.py --json           # machine-readable rows on stdout

The budget is 100 ms: a row over it is marked `!!`. Inputs that take setup (20 000 Crossmint
agents, 20 000 Basis Theory tokens, a recording of 5000 requests) say so in their name; the setup
is outside the window.
Standard library plus aiohttp (the client for the setup) and, in the server, the sandbox.
Linux or macOS; the server is stopped at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import INTENT, PROJECT, bt_ai_jwt, json_body

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READY = re.compile(r"listening on http://([^:/]+|\[[^\]]+\]):(\d+)")
LAG_LINE = re.compile(r"^lag (\d+\.\d+) (\d+\.\d+)$")
GC_LINE = re.compile(r"^gc (\d+\.\d+) (\d+\.\d+)$")
BUDGET_MS = 100.0
PROBE_PERIOD = 0.010
PROBE_REPORT_MS = 2.0

DINO = {"Authorization": "Bearer din_test_bench"}
CROSSMINT = {"X-API-KEY": "sk_staging_bench"}
BT_PLATFORM = {"BT-API-KEY": "key_test_bench"}
BT_SEARCH = {"BT-API-KEY": "key_test_bench_search"}
BT_CARD = {"type": "card", "data": {"number": "4000000000003220", "expiration_month": 12, "expiration_year": 2030}}


# -- the server side: the sandbox's own CLI, plus the lag probe ------------------------------------------


def serve_with_probe(argv: list[str]) -> int:
    """`sandbox serve ARGV`, with a task in its event loop that reports late wake-ups on stdout."""
    sys.path.insert(0, str(ROOT))
    import gc

    import sandbox.cli as cli

    collecting: list[float] = []

    def collection(phase: str, info: dict[str, int]) -> None:
        """Reports each cycle collection over 2 ms: they run under the GIL, wherever they start."""
        if phase == "start":
            collecting[:] = [time.monotonic()]
        elif collecting and (took := (time.monotonic() - collecting[0]) * 1000) > PROBE_REPORT_MS:
            sys.stdout.write(f"gc {collecting[0]:.6f} {took:.3f}\n")
            sys.stdout.flush()

    gc.callbacks.append(collection)

    served = cli._serve

    async def probe() -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(PROBE_PERIOD)
            late = (time.monotonic() - began - PROBE_PERIOD) * 1000
            if late > PROBE_REPORT_MS:
                sys.stdout.write(f"lag {began:.6f} {late:.3f}\n")
                sys.stdout.flush()

    async def serve_probed(settings: Any) -> None:
        task = asyncio.get_running_loop().create_task(probe())
        try:
            await served(settings)
        finally:
            task.cancel()

    cli._serve = serve_probed
    return cli.main(["serve", *argv])


# -- the client side ---------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    status: str
    lag_ms: float
    health_ms: float
    seconds: float
    gc_ms: float = 0.0


class Server:
    """The sandbox subprocess: its port, the probe's reports, its stderr."""

    def __init__(self, argv: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"sandbox-event-loop-{os.getpid()}.stderr"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", *argv],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=ROOT, env=env,
        )
        self.lags: list[tuple[float, float]] = []
        self.collections: list[tuple[float, float]] = []
        self.port = 0
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                match = LAG_LINE.match(line.strip())
                if match:
                    self.lags.append((float(match.group(1)), float(match.group(2))))
                elif gc_match := GC_LINE.match(line.strip()):
                    self.collections.append((float(gc_match.group(1)), float(gc_match.group(2))))
                elif not ready.is_set() and (found := READY.search(line)):
                    self.port = int(found.group(2))
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            raise SystemExit(f"the sandbox did not start; see {self.stderr_path}")

    def worst_lag(self, start: float, end: float) -> float:
        return max((ms for began, ms in list(self.lags) if start - PROBE_PERIOD <= began <= end), default=0.0)

    def worst_collection(self, start: float, end: float) -> float:
        return max((ms for began, ms in list(self.collections) if start <= began <= end), default=0.0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


class HealthProbe:
    """A thread issuing GET /_sandbox/health back to back (5 ms apart) over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.samples: list[tuple[float, float]] = []  # (sent at, latency ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self._thread.start()

    def _run(self, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("GET", "/_sandbox/health")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            self.samples.append((sent, (time.monotonic() - sent) * 1000))
            time.sleep(0.005)
        conn.close()

    def worst(self, start: float, end: float) -> float:
        return max((ms for sent, ms in list(self.samples) if sent <= end and sent + ms / 1000 >= start), default=0.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


async def raw(port: int, data: bytes, timeout: float = 120) -> tuple[int, bytes]:
    """Sends `data` as is on a new connection, reads until the server closes: (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout)
    except (TimeoutError, ConnectionError):
        return 0, b""
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), body
    except (IndexError, ValueError):
        return 0, answer


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None, raw_headers: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n").encode() + raw_headers + b"\r\n" + (body or b"")


def one_mb_of_keys() -> bytes:
    """A JSON object of unknown keys, just under 1 MiB (the sandbox's default body bound)."""
    keys, size, parts = 0, 2, []
    while True:
        part = f'"k{keys:06d}":{keys}'
        if size + len(part) + 1 > 1_040_000:
            break
        parts.append(part)
        size += len(part) + 1
        keys += 1
    return ("{" + ",".join(parts) + "}").encode()


def one_mb_list(field: str, item: Any, base: dict[str, Any] | None = None) -> bytes:
    """`base` with `field` set to a list of `item`, just under 1 MiB."""
    one = len(json.dumps(item, separators=(",", ":"))) + 1
    count = (1_030_000 - len(json_body(base or {}))) // one
    return json_body({**(base or {}), field: [item] * count})


def gzip_bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    out = [compressor.compress(block) for _ in range(inflated >> 20)]
    return b"".join(out) + compressor.flush()


def scenario_of_regex_rules(limit: int = 512 * 1024) -> tuple[bytes, int]:
    """A scenario just under `limit` bytes: request-fault rules whose `when` is a regex on the path."""
    head = "name: regex-rules\nrules:\n"
    rule = '  - on: request\n    when: {{path: {{regex: "^/v1/(a|aa)*{n}$"}}}}\n    then: {{fault: {{status: 503}}}}\n'
    parts, size, count = [head], len(head), 0
    while True:
        text = rule.format(n=count)
        if size + len(text) > limit:
            break
        parts.append(text)
        size += len(text)
        count += 1
    return "".join(parts).encode(), count


class Bench:
    def __init__(self, port: int, server: Server, health: HealthProbe, list_objects: int) -> None:
        self.port = port
        self.server = server
        self.health = health
        self.list_objects = list_objects
        self.rows: list[Row] = []
        self.jwt = bt_ai_jwt()

    async def measure(self, name: str, action: Callable[[], Awaitable[Any]], settle: float = 0.05) -> None:
        await asyncio.sleep(0.3)  # a quiet gap, so the windows do not bleed into each other
        start = time.monotonic()
        status = await action()
        await asyncio.sleep(settle)  # what the input set off in the background (a webhook delivery)
        end = time.monotonic()
        await asyncio.sleep(0.05)  # the probe's report of the window's last wake-up
        row = Row(name, str(status), self.server.worst_lag(start, end), self.health.worst(start, end), end - start - settle,
                  self.server.worst_collection(start, end))
        self.rows.append(row)
        flag = "!!" if max(row.lag_ms, row.health_ms) > BUDGET_MS else "  "
        print(f"{flag} {row.name:<66} {row.status:>7} {row.lag_ms:9.1f} {row.health_ms:9.1f} {row.gc_ms:7.1f}", file=sys.stderr, flush=True)

    def send(self, data: bytes) -> Callable[[], Awaitable[int]]:
        async def go() -> int:
            return (await raw(self.port, data))[0]

        return go

    async def many(self, session: Any, method: str, path: str, headers: dict[str, str], body: Any, count: int) -> None:
        """`count` requests, 32 at a time (setup, outside any window)."""
        url = f"http://127.0.0.1:{self.port}{path}"
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                async with session.request(method, url, json=body, headers=headers) as resp:
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(32)))

    async def run(self, only: list[str]) -> None:
        import aiohttp

        wanted = (lambda name: any(word in name for word in only)) if only else (lambda name: True)
        keys, long_path = one_mb_of_keys(), "/v1/purchase-intents/" + "a" * 5000
        bt_ai = {"Authorization": f"Bearer {self.jwt}"}
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = []

        # what aiohttp's parser refuses
        secret = b"Authorization: Bearer din_test_SECRET" + b"A" * 9000 + b"\r\n"
        cases += [
            ("parser: 9 KB Authorization header", self.send(request("GET", "/v1/purchase-intents", raw_headers=secret))),
            ("parser: 9 KB request line", self.send(request("GET", "/v1/" + "a" * 9000, DINO))),
            ("parser: 200 header fields", self.send(request("GET", "/v1/purchase-intents", DINO, raw_headers=b"".join(
                b"X-H%d: 1\r\n" % i for i in range(200))))),
            ("parser: control character in a header", self.send(request("GET", "/tokens", raw_headers=b"BT-API-KEY: a\x01b\r\n"))),
            ("parser: malformed chunked body", self.send(
                request("POST", "/v1/purchase-intents", {**DINO, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
                + b"zz\r\nabc\r\n0\r\n\r\n")),
        ]
        # bodies
        dino_json = {**DINO, "Content-Type": "application/json"}
        cases += [
            ("body: gzip-lied (Content-Encoding: gzip, plain JSON)", self.send(request(
                "POST", "/v1/purchase-intents", {**dino_json, "Content-Encoding": "gzip"}, json_body(INTENT)))),
            ("body: gzip bomb, 100 KB inflating to 100 MB", self.send(request(
                "POST", "/v1/purchase-intents", {**dino_json, "Content-Encoding": "gzip"}, gzip_bomb(100 << 20)))),
            ("body: 1 MB of '[' (deep JSON)", self.send(request("POST", "/v1/purchase-intents", dino_json, b"[" * 1_040_000))),
            ("body: JSON nested 1000 levels", self.send(request(
                "POST", "/v1/purchase-intents", dino_json, b'{"a":' * 1000 + b"1" + b"}" * 1000))),
            ("body: 1.1 MB (over the bound, 413)", self.send(request("POST", "/v1/purchase-intents", dino_json, b" " * 1_100_000))),
        ]
        creates = [
            ("Dino POST /v1/purchase-intents", "/v1/purchase-intents", DINO),
            ("Crossmint POST /api/unstable/agents", "/api/unstable/agents", CROSSMINT),
            ("Crossmint POST /api/unstable/payment-methods", "/api/unstable/payment-methods", CROSSMINT),
            ("Crossmint POST /api/unstable/order-intents", "/api/unstable/order-intents", CROSSMINT),
            ("BT AI POST /projects/{id}/payment-methods", f"/projects/{PROJECT}/payment-methods", bt_ai),
            ("BT AI POST /projects/{id}/purchase-intents", f"/projects/{PROJECT}/purchase-intents", bt_ai),
            ("BT platform POST /tokens", "/tokens", BT_PLATFORM),
            ("BT platform POST /3ds/sessions", "/3ds/sessions", BT_PLATFORM),
            ("BT platform POST /agentic/agents", "/agentic/agents", BT_PLATFORM),
            ("BT platform POST /agentic/enrollments", "/agentic/enrollments", BT_PLATFORM),
            ("BT platform POST /webhooks", "/webhooks", BT_PLATFORM),
            ("control POST /_sandbox/webhook-endpoints", "/_sandbox/webhook-endpoints", {}),
        ]
        for label, path, headers in creates:
            cases.append((f"1 MB of unknown keys: {label}", self.send(request(
                "POST", path, {**headers, "Content-Type": "application/json"}, keys))))
        lists = [
            ("Dino POST /v1/purchase-intents", "/v1/purchase-intents", DINO, "tags", 1, INTENT),
            ("Crossmint POST order-intents mandates", "/api/unstable/order-intents", CROSSMINT, "mandates", 1, {}),
            ("BT AI POST purchase-intents mandates", f"/projects/{PROJECT}/purchase-intents", bt_ai, "mandates", 1, {}),
            ("BT platform POST /agentic/agents", "/agentic/agents", BT_PLATFORM, "name", 1, {}),
        ]
        for label, path, headers, field, item, base in lists:
            cases.append((f"1 MB list of {item!r} in `{field}`: {label}", self.send(request(
                "POST", path, {**headers, "Content-Type": "application/json"}, one_mb_list(field, item, base)))))
        # paths
        segments = "/".join(["ab"] * 1700)
        cases += [
            ("path: 5 KB Dino path (404, nearest route)", self.send(request("GET", "/v1/" + segments, DINO))),
            ("path: 5 KB path nobody owns (404, nearest route)", self.send(request("GET", "/x/" + segments))),
            ("path: 5 KB control path (404, nearest route)", self.send(request("GET", "/_sandbox/" + segments))),
            ("path: 5 KB Crossmint path (404, nearest route)", self.send(request("GET", "/api/unstable/" + segments, CROSSMINT))),
        ]
        # scenarios: a 512 KiB file of regex rules, then requests evaluated against all of them
        scenario, rule_count = scenario_of_regex_rules()
        loaded: dict[str, str] = {}

        async def load_scenario() -> int:
            status, body = await raw(self.port, request("POST", "/_sandbox/scenarios", {"Content-Type": "application/yaml"}, scenario))
            if status == 201:
                loaded["id"] = json.loads(body)["id"]
            return status

        async def unload_scenario() -> int:
            return (await raw(self.port, request("DELETE", f"/_sandbox/scenarios/{loaded.pop('id', 'none')}")))[0]

        one_rule = b'name: one-regex\nrules:\n  - on: request\n    when: {path: {regex: "^/v1/purchase-intents/(a|aa)*(a+)+b$"}}\n' \
                   b"    then: {fault: {status: 503}}\n"
        cases += [
            (f"scenario: load 512 KiB ({rule_count} regex rules)", load_scenario),
            (f"scenario: 5 KB path against {rule_count} regex rules", self.send(request("GET", long_path, DINO))),
            (f"scenario: Dino create against {rule_count} regex rules", self.send(request(
                "POST", "/v1/purchase-intents", dino_json, json_body(INTENT)))),
            ("scenario: unload it", unload_scenario),
            ("scenario: load one regex rule ((a|aa)*(a+)+b$)", self.send(request(
                "POST", "/_sandbox/scenarios", {"Content-Type": "application/yaml"}, one_rule))),
            ("scenario: 5 KB path of 'a' against that rule", self.send(request("GET", long_path, DINO))),
            ("scenario: load 512 KiB of YAML anchors (billion laughs)", self.send(request(
                "POST", "/_sandbox/scenarios", {"Content-Type": "application/yaml"}, billion_laughs()))),
        ]
        # the first BT-SIGNATURE: the RSA key is made on first use
        async def threeds() -> str:
            hook = {"provider": "btplatform", "tenant": BT_PLATFORM["BT-API-KEY"], "url": f"http://127.0.0.1:{closed_port()}/hooks"}
            await raw(self.port, request("POST", "/_sandbox/webhook-endpoints", {"Content-Type": "application/json"}, json_body(hook)))
            status, body = await raw(self.port, request("POST", "/tokens", {**BT_PLATFORM, "Content-Type": "application/json"},
                                                        json_body(BT_CARD)))
            token = json.loads(body).get("id") if status == 201 else None
            session, _ = await raw(self.port, request("POST", "/3ds/sessions", {**BT_PLATFORM, "Content-Type": "application/json"},
                                                      json_body({"token_id": token, "device": "browser"})))
            return f"{status}/{session}"

        cases.append(("3DS: token + 3DS session, first BT-SIGNATURE (fresh RSA key)", threeds))

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            for name, action in cases:
                if wanted(name):
                    await self.measure(name, action, settle=1.0 if name.startswith("3DS") else 0.05)

            # a large recording, read while recording is on
            name = "recording: GET /_sandbox/recording after 5000 recorded creates"
            if wanted(name):
                await raw(self.port, request("POST", "/_sandbox/recording", {"Content-Type": "application/json"},
                                             json_body({"enabled": True})))
                await self.many(session, "POST", "/v1/purchase-intents", DINO, INTENT, 5000)
                await self.measure(name, self.send(request("GET", "/_sandbox/recording")))
                await raw(self.port, request("POST", "/_sandbox/recording", {"Content-Type": "application/json"},
                                             json_body({"enabled": False})))
            # logs the sandbox keeps, read whole
            for name, path in [
                ("logs: GET /_sandbox/requests (the request log, full)", "/_sandbox/requests?limit=1000"),
                ("logs: GET /_sandbox/events?limit=1000", "/_sandbox/events?limit=1000"),
                ("logs: GET /_sandbox/openapi/crossmint.json (first)", "/_sandbox/openapi/crossmint.json"),
            ]:
                if wanted(name):
                    await self.measure(name, self.send(request("GET", path)))
            # the request log again, once full of bodies made of many small fields (each one redacted)
            name = "logs: GET /_sandbox/requests, 1000 bodies of 1400 fields each"
            if wanted(name):
                fields = {f"f{i}": "v" for i in range(1400)}  # under the log's 16 KiB per body, so kept whole
                await self.many(session, "POST", "/v1/purchase-intents", DINO, fields, 1000)
                await self.measure(name, self.send(request("GET", "/_sandbox/requests?limit=1000")))
            # a list of N Crossmint objects (Crossmint's lists are complete: no pages)
            name = f"list: GET /api/unstable/agents with {self.list_objects} agents"
            if wanted(name):
                started = time.monotonic()
                print(f"   (creating {self.list_objects} Crossmint agents…)", file=sys.stderr, flush=True)
                await self.many(session, "POST", "/api/unstable/agents", CROSSMINT, {"metadata": {"name": "bench"}}, self.list_objects)
                ended = time.monotonic()
                await asyncio.sleep(0.05)
                row = Row(f"setup: {self.list_objects} agent creates, 32 at a time", "201", self.server.worst_lag(started, ended),
                          self.health.worst(started, ended), ended - started, self.server.worst_collection(started, ended))
                self.rows.append(row)
                print(f"   {row.name:<66} {'201':>7} {row.lag_ms:9.1f} {row.health_ms:9.1f} {row.gc_ms:7.1f}", file=sys.stderr)
                await self.measure(name, self.send(request("GET", "/api/unstable/agents", CROSSMINT)))
            # token searches over N Basis Theory platform tokens (a tenant of its own: no webhook endpoint)
            searches = token_searches(self.list_objects)
            if any(wanted(name) for name, _, _ in searches):
                print(f"   (creating {self.list_objects} BT platform tokens…)", file=sys.stderr, flush=True)
                await self.many(session, "POST", "/tokens", BT_SEARCH, {**BT_CARD, "metadata": {"k": "v"}}, self.list_objects)
                for name, path, query in searches:
                    if wanted(name):
                        await self.measure(name, self.send(request(
                            "POST", path, {**BT_SEARCH, "Content-Type": "application/json"}, json_body(query))))


def token_searches(tokens: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, body) of searches over `tokens` tokens that no index narrows: each looks at every
    token. The first is the audit's (issue 13): one term repeated 98 times, matching nothing."""
    repeated = "type:card AND (" + " OR ".join(["container:/nope/"] * 98) + ")"
    distinct = "type:card AND (" + " OR ".join(f"container:/n{i}/" for i in range(98)) + ")"
    grouped = " OR ".join(f"(container:/{i}/ AND container:/p/)" for i in range(50))  # 50 tests per token
    return [
        (f"search: POST /v2/tokens/search, 99 terms (98 alike), {tokens} tokens", "/v2/tokens/search", {"query": repeated}),
        (f"search: POST /tokens/search, 99 terms (98 alike), {tokens} tokens", "/tokens/search", {"query": repeated}),
        (f"search: POST /tokens/search, 98 distinct containers, {tokens} tokens", "/tokens/search", {"query": distinct}),
        (f"search: POST /tokens/search, 50 ORed pairs of terms, {tokens} tokens", "/tokens/search", {"query": grouped}),
        (f"search: POST /tokens/search, type:card, last page of {tokens} tokens", "/tokens/search",
         {"query": "type:card", "page": max(1, tokens // 20), "size": 20}),
    ]


def billion_laughs() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    return ("name: laughs\n" + "\n".join(lines) + "\nrules: []\n").encode()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve_with_probe(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated words: run the inputs whose name contains one")
    parser.add_argument("--list-objects", type=int, default=20_000, help="Crossmint agents listed, and BT platform tokens searched (20000)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    args = parser.parse_args()
    server = Server(["--port", "0", "--seed", "1", "--request-log-size", "1000"])
    health = HealthProbe(server.port)
    bench = Bench(server.port, server, health, args.list_objects)
    print(f"{'':2} {'input':<66} {'status':>7} {'lag ms':>9} {'health ms':>9} {'gc ms':>7}", file=sys.stderr)
    try:
        asyncio.run(bench.run([w for w in args.only.split(",") if w]))
    except KeyboardInterrupt:
        return 130
    finally:
        health.stop()
        server.stop()
    table(bench.rows, server.stderr_path)
    if args.json:
        print(json.dumps([row.__dict__ for row in bench.rows], indent=2))
    return 1 if any(max(r.lag_ms, r.health_ms) > BUDGET_MS for r in bench.rows) else 0


def table(rows: list[Row], stderr_path: Path) -> None:
    out = sys.stderr
    print(f"\nworst event-loop lag (in-process probe, {PROBE_PERIOD * 1000:.0f} ms sleeps) and worst concurrent "
          f"GET /_sandbox/health latency per input; budget {BUDGET_MS:.0f} ms\n", file=out)
    print("| input | status | loop lag ms | health ms | longest GC ms |\n|---|---|---:|---:|---:|", file=out)
    for row in rows:
        flag = " **over**" if max(row.lag_ms, row.health_ms) > BUDGET_MS else ""
        print(f"| {row.name} | {row.status} | {row.lag_ms:.1f} | {row.health_ms:.1f}{flag} | {row.gc_ms:.1f} |", file=out)
    errors = [line for line in stderr_path.read_text().splitlines() if "Traceback" in line or " ERROR " in line]
    print(f"\nserver stderr: {len(errors)} error/traceback line(s) ({stderr_path})", file=out)
    with contextlib.suppress(OSError):
        if not errors:
            stderr_path.unlink()


if __name__ == "__main__":
    sys.exit(main())
