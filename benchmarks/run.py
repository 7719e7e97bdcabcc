"""The figures of issue 17, each next to a bare aiohttp server measured in the same run.

    python benchmarks/run.py               # every figure, about 4 minutes on 2 cores
    python benchmarks/run.py --quick       # the smoke version (CI): a few seconds, tiny counts, no thresholds
    python benchmarks/run.py --json        # machine-readable on stdout (progress goes to stderr)
    python benchmarks/run.py --client aiohttp          # the Python client even when wrk is installed
    python benchmarks/run.py --wiremock    # install WireMock (npm ci --prefix benchmarks/wiremock), add its line
    python benchmarks/run.py --only get,startup        # some figures
    python benchmarks/run.py --show results.json       # the table of a report saved with --json

Measures, on 127.0.0.1, with wrk when it is on PATH and the aiohttp client otherwise (it says which):
GET of a Dino purchase intent by id, create, the Dino lifecycle (create -> authorize ->
issue-payment-credential -> get) and a Basis Theory AI create + verify, at 1 and 64 connections;
the p99 of that GET at 64 connections; start-up to the first 200 of /_sandbox/health; resident
memory per stored intent; GET latency at 1k, 10k and 100k stored intents; webhook fan-out to a
local receiver while creating. Each against the sandbox and, back to back, against
benchmarks/bare_server.py answering the same paths with fixed bodies. With Java and the npm package
`wiremock` installed in benchmarks/wiremock, the GET is also measured against WireMock 3's
standalone jar. Targets are reported (and not asserted). See benchmarks/README.md.

Every process it starts is stopped at the end, also on error, Ctrl-C or SIGTERM. Linux only
(reads /proc). Needs aiohttp (the project's venv) and, for the wrk client, wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from bare_server import BODY as BARE_BODY
from common import (
    CREATE_BODY,
    HERE,
    KEY,
    PROJECT,
    ROOT,
    Server,
    bt_ai_jwt,
    cpu_seconds,
    event_runner,
    free_port,
    json_body,
    loadavg,
    progress,
    rss_kb,
    sandbox_revision,
    start_all,
)
from load import Driver, Flow, Run, Step, driver

WIREMOCK_DIR = HERE / "wiremock"
GROUPS = ("startup", "get", "create", "lifecycle", "bt", "webhooks", "scale")
WALLET_CENTS = 10**15  # the lifecycle issues a credential per iteration: each new tenant's wallet holds this much
BT_ENTITY = "bench-entity"
BT_CARD = {"number": "4000056655665556", "expirationMonth": "12", "expirationYear": "2030", "cvc": "123"}  # frictionless: START verifies
AUTHORIZE_BODY = json_body({"expected_total_cents": 4599, "merchant_name": "example.com", "reason": "Authorize online purchase"})
ISSUE_BODY = json_body({"provider": "stripe_proxy_card", "credential_mode": "one_time_exact_amount", "ttl_seconds": 900,
                        "merchant_lock": "example.com"})
DINO = (("Authorization", f"Bearer {KEY}"),)
CREATE_STEP = Step("POST", "/v1/purchase-intents", 201, json.dumps(json.loads(CREATE_BODY), separators=(",", ":")).encode())
LIFECYCLE = (
    CREATE_STEP,
    Step("POST", "/v1/purchase-intents/{id}/authorize", 200, AUTHORIZE_BODY),
    Step("POST", "/v1/purchase-intents/{id}/issue-payment-credential", 200, ISSUE_BODY),
    Step("GET", "/v1/purchase-intents/{id}", 200),
)
WEBHOOK_TENANTS = 16  # the burst's creates are spread over this many Dino keys: no pending-delivery bound drops any
MEMORY_ONLY = ("SANDBOX_DATA_DIR", "SANDBOX_STORE")  # the sandboxes measured keep their state in memory
FLAT = 1.5  # "flat": the top level's p50 and p99 within this factor of the first level's


@dataclass
class Figure:
    key: str
    figure: str
    unit: str
    sandbox: float | None
    bare: float | None = None
    wiremock: float | None = None
    ratio: float | None = None  # sandbox / bare
    vs_wiremock: float | None = None  # sandbox / WireMock
    target: str = ""
    met: bool | None = None
    shown: dict[str, str] = field(default_factory=dict)  # how a value is shown in the table, when not the number alone
    loadavg: list[str] | None = None  # when its measurement started
    details: dict[str, Any] = field(default_factory=dict)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


# -- WireMock -------------------------------------------------------------------------------------

def wiremock_jar() -> Path | None:
    jars = sorted((WIREMOCK_DIR / "node_modules" / "wiremock").glob("build/wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def wiremock_setup(args: argparse.Namespace, notes: list[str]) -> tuple[Path, str] | None:
    """The jar and `java` when WireMock is to run; installs the npm package only for --wiremock."""
    if args.wiremock == "no":
        notes.append("WireMock: left out (--no-wiremock)")
        return None
    if args.wiremock == "auto" and args.quick:
        notes.append("WireMock: left out by --quick (its JVM takes seconds to start); add --wiremock to include it")
        return None
    java = shutil.which("java")
    jar = wiremock_jar()
    if jar is None and args.wiremock == "yes":
        npm = shutil.which("npm")
        if npm is None:
            notes.append("WireMock: --wiremock given but npm is not on PATH")
            return None
        progress("wiremock: npm ci --prefix benchmarks/wiremock (the package `wiremock`, which ships the standalone jar)")
        done = subprocess.run([npm, "ci", "--prefix", str(WIREMOCK_DIR), "--no-audit", "--no-fund"], capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            notes.append(f"WireMock: npm ci failed: {(done.stdout + done.stderr).strip()[-500:]}")
            return None
        jar = wiremock_jar()
    if jar is None:
        notes.append("WireMock: not installed (python benchmarks/run.py --wiremock installs it with npm ci --prefix benchmarks/wiremock)")
        return None
    if java is None:
        notes.append("WireMock: installed, but java is not on PATH")
        return None
    return jar, java


def wiremock_server(jar: Path, java: str, root: Path, body: bytes) -> Server:
    """WireMock's standalone jar with one stub: any GET /v1/purchase-intents/{id} gets `body`."""
    (root / "mappings").mkdir(parents=True)
    (root / "__files").mkdir()
    stub = {"request": {"method": "GET", "urlPathPattern": "/v1/purchase-intents/[^/]+"},
            "response": {"status": 200, "body": body.decode(), "headers": {"Content-Type": "application/json"}}}
    (root / "mappings" / "purchase-intent.json").write_text(json.dumps(stub))
    port = free_port()
    argv = [java, "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
            "--no-request-journal", "--disable-request-logging", "--disable-banner", "--disable-gzip"]
    return Server("wiremock", argv, url=f"http://127.0.0.1:{port}", ready_path="/v1/purchase-intents/ready", startup_timeout=60)


def java_version(java: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        return (out.stderr or out.stdout).splitlines()[0].strip()
    return "?"


# -- start-up -------------------------------------------------------------------------------------

def first_200(port: int, deadline: float) -> bool:
    """Polls GET /_sandbox/health on 127.0.0.1:port (every ~2 ms) until it answers 200."""
    request = f"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request)
                head = sock.recv(64)
                if head.startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.002)
    return False


# Byte-compiled modules for the start-ups, as any second start of a developer's sandbox has them
# (an environment with PYTHONDONTWRITEBYTECODE set would otherwise compile every module each time).
PYCACHE = tempfile.mkdtemp(prefix="sandbox-bench-pycache-")
atexit.register(shutil.rmtree, PYCACHE, True)


def startup_ms(argv: list[str], port: int) -> float:
    """From spawning `argv` to the first 200 of GET /_sandbox/health, in ms; the process is then
    stopped. Bytecode is cached in `PYCACHE`: run one start-up first, untimed, to fill it."""
    env = {k: v for k, v in os.environ.items() if k not in MEMORY_ONLY and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    began = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ok = first_200(port, began + 30)
        took = (time.perf_counter() - began) * 1e3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not ok:
        raise RuntimeError(f"no 200 from /_sandbox/health within 30 s: {' '.join(argv)}")
    return took


def sandbox_argv(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1", "--port", str(port), "--seed", "1", *extra]


def bare_argv(port: int, *extra: str) -> list[str]:
    return [sys.executable, str(HERE / "bare_server.py"), "--host", "127.0.0.1", "--port", str(port), *extra]


# -- the benchmark --------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, load: Driver, scratch: Path) -> None:
        self.args = args
        self.load = load
        self.scratch = scratch
        self.quick: bool = args.quick
        self.figures: list[Figure] = []
        self.runs: list[Run] = []
        self.notes: list[str] = []
        self.problems: list[str] = []  # what went wrong besides request errors: the exit status is then 1
        self.servers: list[Server] = []
        self.wiremock: Server | None = None
        self.wiremock_info: dict[str, Any] | None = None
        self.cmax = max(args.connections)

    # servers

    def server(self, name: str, argv: list[str], **kw: Any) -> Server:
        server = Server(name, argv, **kw)
        self.servers.append(server)
        return server

    def start(self) -> None:
        groups = self.args.groups
        wallet = {"SANDBOX_DINO_WALLET_START_CENTS": str(WALLET_CENTS)}
        self.sandbox = self.server("sandbox", sandbox_argv(free_port()), env=wallet, unset=MEMORY_ONLY)
        self.bare = self.server("bare", bare_argv(free_port()))
        wanted = [self.sandbox, self.bare]
        if "scale" in groups:
            self.scale_sandbox = self.server("sandbox (scale)", sandbox_argv(free_port()), unset=MEMORY_ONLY)
            wanted.append(self.scale_sandbox)
        if "webhooks" in groups:
            receiver = free_port()
            self.receiver = self.server("receiver", [sys.executable, str(HERE / "receiver.py"), "--port", str(receiver)])
            hooks = f"http://127.0.0.1:{receiver}"
            self.hooks_sandbox = self.server("sandbox (webhooks)", sandbox_argv(free_port(), "--webhook", f"dino={hooks}/hooks/dino"),
                                             unset=MEMORY_ONLY)
            self.hooks_bare = self.server("bare (webhooks)", bare_argv(free_port(), "--webhook", f"{hooks}/hooks/bare"))
            wanted += [self.receiver, self.hooks_sandbox, self.hooks_bare]
        setup = wiremock_setup(self.args, self.notes) if "get" in groups else None
        if setup:
            jar, java = setup
            self.wiremock = wiremock_server(jar, java, self.scratch / "wiremock", BARE_BODY)
            self.servers.append(self.wiremock)
            wanted.append(self.wiremock)
            self.wiremock_info = {"jar": str(jar.relative_to(ROOT)), "java": java_version(java)}
        progress("starting " + ", ".join(s.name for s in wanted) + " ...")
        start_all(wanted)
        for server in wanted:
            progress(f"  {server.name}: pid {server.pid}, {server.url}")

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    # measuring

    async def measure(self, target: str, server: Server, flow: Flow, connections: int) -> Run:
        warm_errors, warm_sample = 0, None
        if self.args.warmup > 0:
            warm = await self.load.run(target, server.url, flow, connections, self.args.warmup, None)
            warm_errors, warm_sample = warm.errors, warm.error_sample
        run = await self.load.run(target, server.url, flow, connections, self.args.seconds, server.pid)
        run.warmup_errors = warm_errors
        if warm_errors and not run.error_sample:
            run.error_sample = f"warm-up: {warm_sample}"
        self.runs.append(run)
        cpu = f"  srv CPU {run.server_cpu_us_per_request:.0f} us/req" if run.server_cpu_us_per_request is not None else ""
        progress(f"  {target:9} {flow.name} @{connections}: {run.ips:8.0f}/s  {run.rps:8.0f} req/s  p50 {run.p50_ms:.2f} ms"
                 f"  p99 {run.p99_ms:.2f} ms{cpu}" + (f"  ERRORS {run.errors + warm_errors}: {run.error_sample}"
                                                      if run.errors + warm_errors else ""))
        return run

    async def compare(self, jobs: list[tuple[str, Server, Flow, int]]) -> dict[str, Run]:
        """Each job in turn (all at once with --quick), --rounds times, alternating the order;
        keeps each target's best round (most iterations per second)."""
        best: dict[str, Run] = {}
        for round_no in range(self.args.rounds):
            order = jobs if round_no % 2 == 0 else jobs[::-1]
            if self.quick:
                runs = await asyncio.gather(*(self.measure(*job) for job in order))
            else:
                runs = [await self.measure(*job) for job in order]
            for run in runs:
                if run.target not in best or run.ips > best[run.target].ips:
                    best[run.target] = run
        return best

    async def together(self, makers: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        """One after the other, or all at once with --quick."""
        if self.quick:
            return list(await asyncio.gather(*(make() for make in makers)))
        return [await make() for make in makers]

    # the figures

    def startup(self) -> list[Figure]:
        reps = self.args.startup_runs
        progress(f"start-up to the first 200 of /_sandbox/health, {reps} time(s) each, interleaved")
        load = loadavg()
        sandbox, bare = [], []
        for argv_of in (sandbox_argv, bare_argv):  # untimed: fills the bytecode cache
            port = free_port()
            startup_ms(argv_of(port), port)
        for _ in range(reps):
            port = free_port()
            sandbox.append(startup_ms(sandbox_argv(port), port))
            port = free_port()
            bare.append(startup_ms(bare_argv(port), port))
            progress(f"  sandbox {sandbox[-1]:.0f} ms, bare {bare[-1]:.0f} ms")
        s, b = sorted(sandbox)[len(sandbox) // 2], sorted(bare)[len(bare) // 2]
        return [Figure("startup_ms", "start-up: spawn -> first 200 of /_sandbox/health (median)", "ms", round(s, 1), round(b, 1),
                        ratio=ratio(s, b), target="< 250 ms", met=s < 250, loadavg=load,
                        details={"sandbox_ms": [round(x, 1) for x in sandbox], "bare_ms": [round(x, 1) for x in bare]})]

    async def setup_state(self) -> None:
        """One Dino intent to read, and a Basis Theory payment method for the create + verify flow."""
        self.jwt = bt_ai_jwt(PROJECT, BT_ENTITY, seconds=7 * 86400)
        async with aiohttp.ClientSession() as session:
            async with session.post(self.sandbox.url + "/v1/purchase-intents", data=CREATE_BODY,
                                    headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 201:
                    raise RuntimeError(f"creating the intent to read failed: HTTP {resp.status} {body}")
                self.intent = body["id"]
            async with session.post(f"{self.sandbox.url}/projects/{PROJECT}/payment-methods",
                                    json={"entityId": BT_ENTITY, "card": BT_CARD}, headers={"Authorization": f"Bearer {self.jwt}"}) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 201:
                    raise RuntimeError(f"creating the Basis Theory payment method failed: HTTP {resp.status} {body}")
                self.payment_method = body["id"]

    async def warm_wiremock(self) -> None:
        if not self.wiremock:
            return
        progress(f"warming WireMock's JIT: {self.args.wiremock_warmup:g} s of GET at {self.cmax} connections")
        flow = Flow("GET /v1/purchase-intents/{id}", (Step("GET", "/v1/purchase-intents/warm", 200),), DINO)
        run = await self.load.run("wiremock", self.wiremock.url, flow, self.cmax, self.args.wiremock_warmup, None)
        assert self.wiremock_info is not None
        self.wiremock_info["warmup"] = {"seconds": round(run.seconds, 2), "requests": run.requests, "errors": run.errors}

    async def get(self) -> list[Figure]:
        flow = Flow("GET /v1/purchase-intents/{id}", (Step("GET", f"/v1/purchase-intents/{self.intent}", 200),), DINO)

        async def one(connections: int) -> list[Figure]:
            load = loadavg()
            jobs = [("sandbox", self.sandbox, flow, connections), ("bare", self.bare, flow, connections)]
            if self.wiremock:
                jobs.append(("wiremock", self.wiremock, flow, connections))
            runs = await self.compare(jobs)
            s, b, w = runs["sandbox"], runs["bare"], runs.get("wiremock")
            target = ">= 0.9x bare" + (", >= 2x WireMock" if w else "")
            met = s.ips >= 0.9 * b.ips and (w is None or s.ips >= 2 * w.ips)
            out = [Figure(f"get_c{connections}", f"GET /v1/purchase-intents/{{id}}, {connections} conn", "req/s", round(s.ips),
                          round(b.ips), round(w.ips) if w else None, ratio(s.ips, b.ips), ratio(s.ips, w.ips) if w else None,
                          target, met, loadavg=load, details=runs_detail(runs))]
            if connections == self.cmax:
                out.append(Figure(f"get_p99_c{connections}", f"p99 of that GET at {connections} conn", "ms", s.p99_ms, b.p99_ms,
                                  w.p99_ms if w else None, ratio(s.p99_ms, b.p99_ms), ratio(s.p99_ms, w.p99_ms) if w else None,
                                  "< 3 ms", s.p99_ms < 3, loadavg=load, details={"p50_ms": {k: r.p50_ms for k, r in runs.items()}}))
            return out

        return flat(await self.together([functools.partial(one, c) for c in self.args.connections]))

    async def rate(self, key: str, label: str, unit: str, flow: Flow) -> list[Figure]:
        async def one(connections: int) -> Figure:
            load = loadavg()
            runs = await self.compare([("sandbox", self.sandbox, flow, connections), ("bare", self.bare, flow, connections)])
            s, b = runs["sandbox"], runs["bare"]
            return Figure(f"{key}_c{connections}", f"{label}, {connections} conn", unit, round(s.ips), round(b.ips),
                          ratio=ratio(s.ips, b.ips), target="(none)", loadavg=load, details=runs_detail(runs))

        return list(await self.together([functools.partial(one, c) for c in self.args.connections]))

    async def create(self) -> list[Figure]:
        return await self.rate("create", "POST /v1/purchase-intents (create)", "req/s", Flow("create", (CREATE_STEP,), DINO))

    async def lifecycle(self) -> list[Figure]:
        return await self.rate("lifecycle", "Dino lifecycle: create, authorize, issue credential, get", "flows/s",
                        Flow("Dino lifecycle", LIFECYCLE, DINO))

    async def bt(self) -> list[Figure]:
        create = json_body({"entityId": BT_ENTITY, "credentialType": "virtual-card", "paymentMethodId": self.payment_method,
                            "mandates": []})
        base = f"/projects/{PROJECT}/purchase-intents"
        verify = Step("POST", base + "/{id}/verify", 200, b'{"action":"START"}')
        flow = Flow("BT create + verify", (Step("POST", base, 201, create), verify), (("Authorization", f"Bearer {self.jwt}"),))
        return await self.rate("bt_create_verify", "Basis Theory AI: create purchase intent + verify", "flows/s", flow)

    async def webhooks(self) -> list[Figure]:
        """A burst of creates over several tenants, with one webhook endpoint on the local receiver:
        deliveries per second from the first create to the last delivery."""
        count, tenants = self.args.webhook_creates, WEBHOOK_TENANTS
        keys = tuple(f"{KEY}_hooks{n}" for n in range(tenants))
        progress(f"webhook fan-out: {count} creates at {self.cmax} connections over {tenants} tenants (aiohttp client),"
                 " one endpoint on the receiver")
        receiver = self.receiver.url
        load = loadavg()

        async def stats(session: aiohttp.ClientSession) -> dict[str, Any]:
            async with session.get(receiver + "/stats") as resp:
                return await resp.json()

        async def drain(session: aiohttp.ClientSession, expected: int) -> dict[str, Any]:
            """Waits until the receiver has `expected` POSTs, or has got none for a while (bounded)."""
            quiet = 3.0
            deadline = time.monotonic() + (10 if self.quick else 120)
            last, since = -1, time.monotonic()
            while True:
                now = await stats(session)
                if now["count"] >= expected or time.monotonic() > deadline:
                    return now
                if now["count"] != last:
                    last, since = now["count"], time.monotonic()
                elif time.monotonic() - since > quiet:
                    return now
                await asyncio.sleep(0.02)

        async def settle(session: aiohttp.ClientSession) -> None:
            """Waits until the receiver has had no POST for half a second (bounded): nothing of an
            earlier burst arrives during the next one."""
            deadline, last, since = time.monotonic() + 10, -1, time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - since < 0.5:
                now = (await stats(session))["count"]
                if now != last:
                    last, since = now, time.monotonic()
                await asyncio.sleep(0.05)

        async def one(session: aiohttp.ClientSession, target: str, server: Server) -> dict[str, Any]:
            if self.args.warmup > 0:  # a small burst, delivered, then forgotten
                warm = max(1, count // 20)
                await fill(session, server.url, warm, [], keys, self.cmax)
                await drain(session, warm)
            await settle(session)
            async with session.post(receiver + "/reset") as resp:
                await resp.read()
            cpu0, began = cpu_seconds(server.pid), time.monotonic()
            await fill(session, server.url, count, [], keys, self.cmax)
            created = time.monotonic()
            at_end = await stats(session)
            done = await drain(session, count)
            cpu = cpu_seconds(server.pid) - cpu0
            span = (done["last"] - began) if done["last"] else 0.0
            out = {
                "creates": count, "creates_per_s": round(count / (created - began)), "received": done["count"],
                "seconds": round(span, 3), "deliveries_per_s": round(done["count"] / span) if span > 0 else 0,
                "received_while_creating": at_end["count"],
                "server_cpu_us_per_create_and_delivery": round(cpu / count * 1e6) if count else None,
            }
            if target == "sandbox":
                async with session.get(server.url + "/_sandbox/activity") as resp:
                    out["outbox"] = (await resp.json())["deliveries"]
            progress(f"  {target:9} {count} creates ({out['creates_per_s']}/s), {done['count']} delivered"
                     f" ({at_end['count']} while creating) in {span:.2f} s: {out['deliveries_per_s']}/s"
                     + (f"  outbox {out['outbox']}" if "outbox" in out else ""))
            if done["count"] < count:
                self.problems.append(f"webhooks: {target} delivered {done['count']} of {count}")
            return out

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.cmax)) as session:
            results = []
            for round_no in range(self.args.rounds):
                pair = [("sandbox", self.hooks_sandbox), ("bare", self.hooks_bare)]
                for target, server in pair if round_no % 2 == 0 else pair[::-1]:
                    results.append((target, await one(session, target, server)))
        best = {t: max((r for tt, r in results if tt == t), key=lambda r: r["deliveries_per_s"]) for t in ("sandbox", "bare")}
        s, b = best["sandbox"]["deliveries_per_s"], best["bare"]["deliveries_per_s"]
        return [Figure("webhook_deliveries_per_s", f"webhook fan-out: {count:,} creates ({self.cmax} conn), 1 endpoint", "deliveries/s",
                       s, b, ratio=ratio(s, b), target=">= 8000/s", met=s >= 8000, loadavg=load, details=best)]

    async def scale(self) -> list[Figure]:
        """Fills a fresh sandbox to each level, then GET of random stored intents next to the bare GET."""
        levels = self.args.levels
        server = self.scale_sandbox
        ids: list[str] = []
        picker = random.Random(1)
        rss: dict[int, int | None] = {}
        rows: list[tuple[int, Run, Run, list[str] | None]] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            for level in levels:
                began, before = time.perf_counter(), len(ids)
                await fill(session, server.url, level - len(ids), ids)
                took = time.perf_counter() - began
                rss[level] = rss_kb(server.pid)
                progress(f"scale: {len(ids)} intents stored ({len(ids) - before} created in {took:.1f} s, aiohttp client),"
                         f" RSS {(rss[level] or 0) / 1024:.1f} MiB")
                picks = tuple(picker.sample(ids, min(len(ids), 10_000)))
                flow = Flow(f"GET by id, {level} stored", (Step("GET", "/v1/purchase-intents/{pick}", 200),), DINO, picks)
                load = loadavg()
                runs = await self.compare([("sandbox", server, flow, self.cmax), ("bare", self.bare, flow, self.cmax)])
                rows.append((level, runs["sandbox"], runs["bare"], load))
        first = rows[0][1]
        out = []
        for level, s, b, load in rows:
            top = level == levels[-1]
            flat = s.p50_ms <= FLAT * first.p50_ms and s.p99_ms <= FLAT * first.p99_ms
            out.append(Figure(f"get_at_{level}", f"GET by id with {level:,} intents stored ({self.cmax} conn)", "ms",
                            s.p99_ms, b.p99_ms, ratio=ratio(s.p99_ms, b.p99_ms),
                            target=f"flat to {levels[-1]:,}: p50, p99 <= {FLAT}x those at {levels[0]:,}" if top else "",
                            met=flat if top else None, loadavg=load,
                            shown={"sandbox": f"{s.p50_ms:.2f} / {s.p99_ms:.2f}", "bare": f"{b.p50_ms:.2f} / {b.p99_ms:.2f}"},
                            details={"p50_ms": {"sandbox": s.p50_ms, "bare": b.p50_ms}, **runs_detail({"sandbox": s, "bare": b})}))
        base = levels[1] if len(levels) > 2 else levels[0]
        top = levels[-1]
        per = None
        if rss.get(top) is not None and rss.get(base) is not None and top > base:
            per = round((rss[top] - rss[base]) * 1024 / (top - base))  # type: ignore[operator]
        out.append(Figure("rss_per_intent_bytes", f"RSS per stored Dino intent, {base:,} -> {top:,} stored", "bytes", per,
                        target="<= 2048 bytes", met=per is not None and per <= 2048,
                        details={"rss_kb": {str(k): v for k, v in rss.items()}, "from": base, "to": top}))
        return out

    async def run(self) -> None:
        """Start-up first (alone), then the rest: one after the other, or all at once with --quick."""
        groups = self.args.groups
        figures: dict[str, list[Figure]] = {}
        if "startup" in groups:
            figures["startup"] = await asyncio.to_thread(self.startup)
        await self.setup_state()
        await self.warm_wiremock()
        rest = [g for g in ("get", "create", "lifecycle", "bt", "webhooks", "scale") if g in groups]
        for group, out in zip(rest, await self.together([getattr(self, g) for g in rest]), strict=True):
            figures[group] = out
        self.figures = [f for g in ("get", "create", "lifecycle", "bt", "webhooks", "startup", "scale") for f in figures.get(g, [])]
        if self.quick:
            for figure in self.figures:
                figure.met = None  # the smoke version judges nothing


def flat(lists: list[list[Figure]]) -> list[Figure]:
    return [item for sub in lists for item in sub]


def runs_detail(runs: dict[str, Run]) -> dict[str, Any]:
    keep = ("connections", "seconds", "requests", "iterations", "errors", "warmup_errors", "error_sample", "rps", "ips", "p50_ms", "p90_ms",
            "p99_ms", "max_ms", "server_cpu_us_per_request", "server_cpu_utilization")
    return {"runs": {target: {k: v for k, v in asdict(run).items() if k in keep} for target, run in runs.items()}}


async def fill(session: aiohttp.ClientSession, base: str, count: int, ids: list[str], keys: tuple[str, ...] = (KEY,),
               connections: int = 64) -> None:
    """`count` creates, `connections` at a time (worker i as tenant keys[i % len(keys)]), their ids appended to `ids`."""
    remaining = count

    async def worker(key: str) -> None:
        nonlocal remaining
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while remaining > 0:
            remaining -= 1
            async with session.post(base + "/v1/purchase-intents", data=CREATE_BODY, headers=headers) as resp:
                body = await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"creating intents: HTTP {resp.status} {body[:200]!r}")
                ids.append(json.loads(body)["id"])

    await asyncio.gather(*(worker(keys[i % len(keys)]) for i in range(min(connections, max(count, 0)))))


# -- the report -----------------------------------------------------------------------------------

def number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def table(report: dict[str, Any]) -> str:
    env = report["environment"]
    figures = report["figures"]
    lines = [
        f"client: {env['client']}",
        f"{env['cpus']} CPUs, Python {env['python']}, aiohttp {env['aiohttp']}; sandbox {env['sandbox_revision'] or '?'};"
        f" load average {' '.join(env['loadavg_at_start'] or ['?'])} at the start, {' '.join(env['loadavg_at_end'] or ['?'])} at the end",
        f"{env['seconds']:g} s per run after {env['warmup']:g} s of warm-up, best of {env['rounds']} round(s); "
        + ("--quick: all runs at once, nothing judged" if env["quick"] else "sandbox and bare (and WireMock) measured back to back"),
        "WireMock: " + (f"{env['wiremock']['jar']} on {env['wiremock']['java']}, --no-request-journal, JIT warmed"
                        f" {env['wiremock']['warmup']['seconds']:g} s" if env.get("wiremock") and env["wiremock"].get("warmup")
                        else "not measured"),
    ]
    lines += [f"note: {note}" for note in report["notes"]]
    head = ["figure", "unit", "sandbox", "bare", "ratio", "WireMock", "target", "met?"]
    rows = []
    for f in figures:
        shown = f["shown"]
        wm = "-" if f["wiremock"] is None else f"{number(f['wiremock'], f['unit'])} ({f['vs_wiremock']:.2f}x)"
        met = "-" if f["met"] is None else ("yes" if f["met"] else "NO")
        unit = "p50 / p99 ms" if shown else f["unit"]
        rows.append([f["figure"], unit, shown.get("sandbox", number(f["sandbox"], f["unit"])),
                     shown.get("bare", number(f["bare"], f["unit"])), "-" if f["ratio"] is None else f"{f['ratio']:.2f}x",
                     wm, f["target"], met])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5}

    def fmt(row: list[str]) -> str:
        return "  ".join(str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i]) for i, c in enumerate(row)).rstrip()

    lines += ["", fmt(head), "-" * len(fmt(head)), *map(fmt, rows), "",
              "ratio = sandbox / bare (for req/s and flows/s, above 1 is faster than bare; for ms and bytes, above 1 is more;",
              "for p50 / p99 rows, of the p99). WireMock (x) = sandbox / WireMock. flows/s = complete iterations of the flow per second."]
    runs = report["runs"]
    if runs:
        lines += ["", "runs (srv CPU: the server process's CPU time per request, which does not depend on the client):"]
        rh = ["target", "flow", "conn", "flows/s", "req/s", "p50 ms", "p99 ms", "srv CPU us/req", "CPU use", "errors"]
        rr = []
        for r in runs:
            cpu = "-" if r["server_cpu_us_per_request"] is None else f"{r['server_cpu_us_per_request']:.0f}"
            use = "-" if r["server_cpu_utilization"] is None else f"{r['server_cpu_utilization']:.0%}"
            errors = r["errors"] + r["warmup_errors"]
            rr.append([r["target"], r["flow"], str(r["connections"]), f"{r['ips']:,.0f}", f"{r['rps']:,.0f}", f"{r['p50_ms']:.2f}",
                       f"{r['p99_ms']:.2f}", cpu, use, f"{errors}: {r['error_sample']}" if errors else "0"])
        rw = [max(len(x[i]) for x in [rh, *rr]) for i in range(len(rh))]
        lines += ["  ".join(c.rjust(rw[i]) if 2 <= i <= 8 else c.ljust(rw[i]) for i, c in enumerate(row)).rstrip() for row in [rh, *rr]]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------

def _ints(value: str) -> list[int]:
    try:
        out = [int(part.replace("_", "").replace("k", "000")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"whole numbers separated by commas, not {value!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("at least one number, each at least 1")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smoke version: a few seconds, tiny counts, runs at once, no thresholds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--show", metavar="FILE", help="print the table of a report saved with --json, and measure nothing")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto", help="load generator (auto: wrk when on PATH)")
    wm = parser.add_mutually_exclusive_group()
    wm.add_argument("--wiremock", dest="wiremock", action="store_const", const="yes", default="auto",
                    help="measure WireMock too, installing it first (npm ci --prefix benchmarks/wiremock) if needed")
    wm.add_argument("--no-wiremock", dest="wiremock", action="store_const", const="no", help="leave WireMock out even if installed")
    parser.add_argument("--only", metavar="GROUPS", help="comma-separated figures to run, from: " + ", ".join(GROUPS))
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 5; --quick 1)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each run (default 1; --quick 0)")
    parser.add_argument("--rounds", type=int, default=1, help="run each pair this many times, alternating, keep the best (default 1)")
    parser.add_argument("--connections", type=_ints, help="connection counts (default 1,64; --quick 1,8, as its runs share the servers)")
    parser.add_argument("--levels", type=_ints, help="stored intents for the scale figure (default 1k,10k,100k; --quick 100,300,1000)")
    parser.add_argument("--startup-runs", type=int, help="start-ups per server, interleaved; the median is reported (default 5; --quick 1)")
    parser.add_argument("--webhook-creates", type=int, help="creates in the webhook burst (default 10000, the outbox's bound on"
                        " pending deliveries; --quick 300)")
    parser.add_argument("--wiremock-warmup", type=float, help="seconds of GET load to warm WireMock's JIT (default 10; --quick 0.5)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds if args.seconds is not None else (1.0 if quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.0 if quick else 1.0)
    args.levels = sorted(set(args.levels or ([100, 300, 1000] if quick else [1000, 10_000, 100_000])))
    args.startup_runs = args.startup_runs or (1 if quick else 5)
    args.webhook_creates = args.webhook_creates or (300 if quick else 10_000)
    args.wiremock_warmup = args.wiremock_warmup if args.wiremock_warmup is not None else (0.5 if quick else 10.0)
    args.connections = sorted(set(args.connections or ([1, 8] if quick else [1, 64])))
    args.groups = list(GROUPS)
    if args.only:
        args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = set(args.groups) - set(GROUPS)
        if unknown:
            parser.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1 or args.startup_runs < 1:
        parser.error("--seconds must be positive, --warmup not negative, --rounds and --startup-runs at least 1")
    return args


def environment(args: argparse.Namespace, load: Driver) -> dict[str, Any]:
    return {
        "client": load.description, "client_name": load.name, "cpus": os.cpu_count(), "python": platform.python_version(),
        "aiohttp": aiohttp.__version__, "platform": platform.platform(), "sandbox_revision": sandbox_revision(),
        "loadavg_at_start": loadavg(), "quick": args.quick, "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
        "connections": args.connections, "levels": args.levels, "startup_runs": args.startup_runs, "groups": args.groups,
    }


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


async def _main(bench: Bench) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    try:
        await bench.run()
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        print(table(json.loads(Path(args.show).read_text())))
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    scratch = Path(tempfile.mkdtemp(prefix="bench-run-"))
    load: Driver | None = None
    bench: Bench | None = None
    began = time.monotonic()
    try:
        load = driver(args.client)
        progress(f"client: {load.description}")
        env = environment(args, load)
        bench = Bench(args, load, scratch)
        bench.start()
        runner = event_runner()
        with runner:
            runner.run(_main(bench))
    except RuntimeError as exc:
        progress(f"benchmarks/run.py: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError, SystemExit):
        progress("interrupted; stopping every process it started")
        return 130
    finally:
        if load is not None:
            load.close()
        if bench is not None:
            bench.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    env["loadavg_at_end"] = loadavg()
    env["wall_seconds"] = round(time.monotonic() - began, 1)
    env["wiremock"] = bench.wiremock_info
    report = {"environment": env, "notes": bench.notes, "problems": bench.problems, "figures": [asdict(f) for f in bench.figures],
              "runs": [asdict(r) for r in bench.runs]}
    print(json.dumps(report, indent=2) if args.json else table(report))
    errors = sum(r.errors + r.warmup_errors for r in bench.runs)
    if errors:
        progress(f"benchmarks/run.py: {errors} errors (see the runs); exit status 1")
    for problem in bench.problems:
        progress(f"benchmarks/run.py: {problem}; exit status 1")
    return 1 if errors or bench.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
