"""Per-request cost of the sandbox, compared with a bare aiohttp handler, for each state backend.

Starts servers as subprocesses on 127.0.0.1 (free ports): the sandbox
(`python -m sandbox serve --seed 1`) and `benchmarks/bare_server.py` (a bare aiohttp app
returning a fixed ~0.9 KB JSON body). Drives each over keep-alive connections with one
aiohttp ClientSession at a fixed concurrency, after a warm-up, and reports for every case
requests/second, p50/p99 latency, the server process's CPU time per request, and each
sandbox case's ratio to the bare handler with the same method. Also reports the sandbox's
resident memory (VmRSS) before and after the run.

With `--stores`, the sandbox cases run once per state backend, side by side: `memory` (the
default, alone unless asked), `sqlite` (`--data-dir` on a fresh temporary directory) and
`redis` (`--store redis://…` on a redis-server this script starts on a free port, with
nothing saved). `--replicas 2` runs the redis backend as two sandbox processes on one Redis,
with half the client's connections to each, and reports the aggregate and per-replica rates.

    python benchmarks/http_overhead.py                      # 5000 requests per case, concurrency 16
    python benchmarks/http_overhead.py --requests 20000 --concurrency 32
    python benchmarks/http_overhead.py --stores memory,sqlite,redis --only retrieve,create
    python benchmarks/http_overhead.py --stores memory,redis --replicas 1,2
    python benchmarks/http_overhead.py --json               # machine-readable, on stdout
    python benchmarks/http_overhead.py --profile-sandbox /tmp/sandbox.prof   # cProfile the sandbox

Standard library and aiohttp only (with yarl, which aiohttp itself depends on; uvloop is used
when importable, as the sandbox does); the redis backend needs `redis-server` on PATH (it is
skipped, with a note, otherwise). The client is always aiohttp, in this one Python process.
Bounded: N requests per case after a warm-up, and at most --max-seconds per phase of a case.
Every server (sandboxes, bare server, redis-server) is stopped and every temporary directory
removed at the end, also on error, Ctrl-C or SIGTERM. Linux only (reads /proc). See
benchmarks/README.md for how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    CREATE_BODY,
    GET_HEADERS,
    HERE,
    POST_HEADERS,
    Server,
    cpu_seconds,
    event_runner,
    free_port,
    loadavg,
    percentile,
    progress,
    rss_kb,
    sandbox_revision,
)
from yarl import URL

REDIS_READY = re.compile(r"Ready to accept connections")
STORES = ("memory", "sqlite", "redis")
CLIENT = "aiohttp (one ClientSession in this Python process)"


# -- the servers --------------------------------------------------------------------------

@dataclass
class Deployment:
    """One state backend under test: its sandbox process(es), and its redis-server if any."""

    label: str  # "memory", "sqlite", "redis", "redis x2"
    store: str  # "memory", "sqlite" or "redis"
    replicas: list[Server] = field(default_factory=list)
    redis: Server | None = None
    intent: str = ""  # the intent the GET cases read, created through the first replica
    created: int = 0  # intents created in it so far (warm-ups included), for the RSS figures
    rss_before_kb: list[int | None] = field(default_factory=list)
    rss_last_kb: list[int | None] = field(default_factory=list)  # before it was stopped, if it was
    failed: str | None = None  # why it stopped answering; its servers are then stopped and its cases skipped

    def servers(self) -> list[Server]:
        return [*([self.redis] if self.redis else []), *self.replicas]  # in start order

    def stop(self) -> None:
        for server in self.servers()[::-1]:
            server.stop()


class Wedged(Exception):
    """A deployment stopped answering during a case (its health check timed out after errors)."""

    def __init__(self, result: Result, why: str) -> None:
        super().__init__(why)
        self.result, self.why = result, why


def plan(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(label, store, replicas) for every backend asked for, in the order given."""
    out = []
    for store in args.stores:
        if store == "redis":
            for n in args.replicas:
                out.append(("redis" if n == 1 else f"redis x{n}", "redis", n))
        else:
            out.append((store, store, 1))
    return out


def build(args: argparse.Namespace, label: str, store: str, replicas: int, scratch: Path) -> Deployment:
    """The deployment's servers (not started yet); its temporary files go under `scratch`."""
    deployment = Deployment(label, store)
    extra: list[str] = []
    slug = label.replace(" ", "")
    if store == "sqlite":
        data_dir = scratch / f"sqlite-{slug}"
        data_dir.mkdir()
        extra = ["--data-dir", str(data_dir)]
    elif store == "redis":
        port = free_port()
        redis_dir = scratch / f"redis-{slug}"
        redis_dir.mkdir()
        deployment.redis = Server(
            f"redis-server ({label})",
            [args.redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(redis_dir)],
            ready=REDIS_READY, url=f"redis://127.0.0.1:{port}/0",
        )
        extra = ["--store", deployment.redis.url]
    several = len(plan(args)) > 1 or replicas > 1
    for i in range(1, replicas + 1):
        argv = [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--seed", "1", *extra]
        if args.profile_sandbox:
            out = Path(args.profile_sandbox).resolve()
            if several:
                out = out.with_name(f"{out.name}.{slug}" + (f"-{i}" if replicas > 1 else ""))
            argv[1:3] = ["-m", "cProfile", "-o", str(out), "-m", "sandbox"]
        name = "sandbox" if label == "memory" and not several else f"sandbox {label}" + (f" #{i}" if replicas > 1 else "")
        deployment.replicas.append(Server(name, argv))
    return deployment


# -- the cases ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    key: str  # short name for --only
    name: str
    target: str  # "sandbox" or "bare"
    method: str
    path: str  # "{intent}" is replaced by the id of an intent created beforehand
    expect: int
    baseline: str | None = None  # the bare case a sandbox case is compared with
    idempotency_key: bool = False


CASES = [
    Case("bare-get", "bare GET", "bare", "GET", "/v1/purchase-intents/{intent}", 200),
    Case("health", "GET /_sandbox/health", "sandbox", "GET", "/_sandbox/health", 200, baseline="bare GET"),
    Case("retrieve", "GET /v1/purchase-intents/{id}", "sandbox", "GET", "/v1/purchase-intents/{intent}", 200, baseline="bare GET"),
    Case("bare-post", "bare POST", "bare", "POST", "/v1/purchase-intents", 201),
    Case("create", "POST /v1/purchase-intents", "sandbox", "POST", "/v1/purchase-intents", 201, baseline="bare POST"),
    Case("create-idem", "POST /v1/purchase-intents + Idempotency-Key", "sandbox", "POST", "/v1/purchase-intents", 201,
         baseline="bare POST", idempotency_key=True),
]


@dataclass
class Result:
    key: str
    name: str
    target: str
    method: str
    path: str
    store: str | None = None  # the deployment's label ("memory", "sqlite", "redis", "redis x2"); None for bare
    replicas: int = 1
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    server_cpu_us_per_request: float = 0.0  # all of the deployment's sandbox processes together
    server_cpu_utilization: float = 0.0  # server CPU seconds / wall seconds (1.0 = one core saturated)
    redis_cpu_us_per_request: float | None = None  # the redis-server's CPU, for the redis backend
    client_cpu_us_per_request: float = 0.0
    server_rss_kb_after: int | None = None  # the first (or only) sandbox process
    per_replica: list[dict[str, Any]] | None = None  # with several replicas: each one's share
    error_sample: str | None = None
    stopped_by_time_limit: bool = False
    failed: bool = False  # the deployment stopped answering during this case (its figures mean nothing)
    vs_bare: dict[str, Any] | None = field(default=None)
    vs_memory: dict[str, Any] | None = field(default=None)


_keys = itertools.count()


async def drive(
    session: aiohttp.ClientSession, case: Case, urls: list[URL], count: int, concurrency: int, deadline: float,
) -> tuple[list[list[float]], int, str | None]:
    """`count` requests from `concurrency` workers, worker i sending to urls[i % len(urls)] (so the
    connections are split evenly across replicas); returns the latencies per URL, errors and an
    error sample."""
    latencies: list[list[float]] = [[] for _ in urls]
    errors = 0
    sample: str | None = None
    issued = 0
    method = case.method
    body = CREATE_BODY if method == "POST" else None
    base_headers = POST_HEADERS if method == "POST" else GET_HEADERS
    perf = time.perf_counter

    async def worker(url: URL, done: list[float]) -> None:
        nonlocal issued, errors, sample
        while issued < count and perf() < deadline:
            issued += 1
            headers = base_headers
            if case.idempotency_key:
                headers = {**base_headers, "Idempotency-Key": f"bench-{os.getpid()}-{next(_keys)}"}
            start = perf()
            try:
                async with session.request(method, url, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors += 1
                what = str(exc) or ("no answer within the request timeout" if isinstance(exc, TimeoutError) else "")
                sample = sample or f"{type(exc).__name__}: {what} (port {url.port})"
                continue
            if status != case.expect:
                errors += 1
                sample = sample or f"HTTP {status} (port {url.port}): {payload[:300].decode(errors='replace')}"
                continue
            done.append(perf() - start)

    workers = max(1, min(concurrency, count))
    await asyncio.gather(*(worker(urls[i % len(urls)], latencies[i % len(urls)]) for i in range(workers)))
    return latencies, errors, sample


async def run_case(
    session: aiohttp.ClientSession, case: Case, servers: list[Server], path: str, args: argparse.Namespace,
    deployment: Deployment | None = None,
) -> Result:
    urls = [URL(server.url + path) for server in servers]
    result = Result(case.key, case.name, case.target, case.method, path)
    counts_intents = deployment is not None and case.method == "POST"
    redis = deployment.redis if deployment else None
    if deployment:
        result.store, result.replicas = deployment.label, len(servers)
    if args.warmup:
        warm, warm_errors, warm_sample = await drive(
            session, case, urls, args.warmup, args.concurrency, time.perf_counter() + args.max_seconds,
        )
        if counts_intents:
            deployment.created += sum(map(len, warm))  # type: ignore[union-attr]
        if warm_errors and deployment and not await answering(servers):
            result.errors, result.error_sample = warm_errors, warm_sample
            result.requests, result.stopped_by_time_limit = 0, True
            raise Wedged(result, f"stopped answering during the warm-up of {case.name} ({sum(map(len, warm))} answered,"
                         f" {warm_errors} errors: {warm_sample}), and GET /_sandbox/health then timed out")
    cpu0 = [cpu_seconds(server.pid) for server in servers]
    redis0 = cpu_seconds(redis.pid) if redis else 0.0
    client0, wall0 = time.process_time(), time.perf_counter()
    per_url, errors, sample = await drive(
        session, case, urls, args.requests, args.concurrency, time.perf_counter() + args.max_seconds,
    )
    wall = time.perf_counter() - wall0
    cpus = [cpu_seconds(server.pid) - c0 for server, c0 in zip(servers, cpu0, strict=True)]
    redis_cpu = cpu_seconds(redis.pid) - redis0 if redis else 0.0
    client_cpu = time.process_time() - client0
    latencies = sorted(itertools.chain.from_iterable(per_url))
    if counts_intents:
        deployment.created += len(latencies)  # type: ignore[union-attr]
    done = len(latencies) + errors
    server_cpu = sum(cpus)
    result.requests, result.errors, result.error_sample = len(latencies), errors, sample
    result.stopped_by_time_limit = done < args.requests
    result.seconds = wall
    result.rps = len(latencies) / wall if wall else 0.0
    if latencies:
        result.p50_ms = percentile(latencies, 0.50) * 1e3
        result.p99_ms = percentile(latencies, 0.99) * 1e3
        result.mean_ms = sum(latencies) / len(latencies) * 1e3
        result.max_ms = latencies[-1] * 1e3
    if done:
        result.server_cpu_us_per_request = server_cpu / done * 1e6
        result.client_cpu_us_per_request = client_cpu / done * 1e6
        if redis:
            result.redis_cpu_us_per_request = redis_cpu / done * 1e6
    result.server_cpu_utilization = server_cpu / wall / len(servers) if wall else 0.0  # per process
    result.server_rss_kb_after = rss_kb(servers[0].pid)
    if errors and deployment and not await answering(servers):
        raise Wedged(result, f"stopped answering during {case.name} ({len(latencies)} answered, {errors} errors: {sample}),"
                     f" and GET /_sandbox/health then timed out")
    if len(servers) > 1:
        result.per_replica = []
        for server, lat, cpu in zip(servers, per_url, cpus, strict=True):
            lat.sort()
            result.per_replica.append({
                "server": server.name, "pid": server.pid, "url": server.url, "requests": len(lat),
                "rps": len(lat) / wall if wall else 0.0,
                "p50_ms": percentile(lat, 0.50) * 1e3 if lat else None,
                "p99_ms": percentile(lat, 0.99) * 1e3 if lat else None,
                "server_cpu_us_per_request": cpu / len(lat) * 1e6 if lat else None,
                "server_cpu_utilization": cpu / wall if wall else 0.0,
                "rss_kb_after": rss_kb(server.pid),
            })
    return result


async def answering(servers: list[Server], timeout: float = 5.0) -> bool:
    """Whether every one of these sandboxes answers GET /_sandbox/health within `timeout` seconds."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as probe:
        for server in servers:
            try:
                async with probe.get(server.url + "/_sandbox/health") as resp:
                    await resp.read()
            except (TimeoutError, aiohttp.ClientError):
                return False
    return True


async def busy_share(servers: list[Server], seconds: float = 1.0) -> list[tuple[Server, float]]:
    """Each server's CPU use over the next `seconds`, as a share of one core."""
    before = [cpu_seconds(s.pid) for s in servers]
    await asyncio.sleep(seconds)
    return [(s, (cpu_seconds(s.pid) - b) / seconds) for s, b in zip(servers, before, strict=True)]


async def create_intent(session: aiohttp.ClientSession, deployment: Deployment) -> str:
    url = deployment.replicas[0].url + "/v1/purchase-intents"
    async with session.post(url, data=CREATE_BODY, headers=POST_HEADERS) as resp:
        payload = await resp.json(content_type=None)
        if resp.status != 201:
            raise RuntimeError(f"creating the intent to read in {deployment.label} failed: HTTP {resp.status} {payload}")
    deployment.created += 1
    return payload["id"]


def selected(args: argparse.Namespace) -> list[Case]:
    """The cases to run: all, or those named by --only, plus the bare baselines they need."""
    if not args.only:
        return list(CASES)
    wanted = {key.strip() for value in args.only for key in value.split(",") if key.strip()}
    unknown = wanted - {c.key for c in CASES}
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(c.key for c in CASES)}")
    needed = {c.baseline for c in CASES if c.key in wanted} | {c.name for c in CASES if c.key in wanted}
    return [c for c in CASES if c.name in needed]


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


async def bench(args: argparse.Namespace, deployments: list[Deployment], bare: Server) -> list[Result]:
    # While the loop runs, SIGTERM cancels the run (an exception raised from a signal handler
    # could land inside a transport callback); main() then stops the servers.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    try:
        return await _bench(args, deployments, bare)
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _terminate)


async def _bench(args: argparse.Namespace, deployments: list[Deployment], bare: Server) -> list[Result]:
    cases = args.cases
    best: dict[tuple[str | None, str], Result] = {}
    order: list[tuple[str | None, str]] = []  # the report's rows: each case, then each backend
    for case in cases:
        order += [(None, case.name)] if case.target == "bare" else [(d.label, case.name) for d in deployments]
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for deployment in deployments:
            deployment.intent = await create_intent(session, deployment)
        for round_no in range(1, args.rounds + 1):
            for case in cases:
                runs: list[tuple[Deployment | None, list[Server]]] = (
                    [(None, [bare])] if case.target == "bare" else [(d, d.replicas) for d in deployments]
                )
                for deployment, servers in runs:
                    if deployment and deployment.failed:
                        continue
                    intent = deployment.intent if deployment else deployments[0].intent
                    path = case.path.replace("{intent}", intent)
                    where = deployment.label if deployment else "bare"
                    progress(f"[round {round_no}/{args.rounds}] {where:9} {case.name} ...")
                    try:
                        result = await run_case(session, case, servers, path, args, deployment)
                    except Wedged as wedged:
                        assert deployment is not None
                        result, deployment.failed = wedged.result, wedged.why
                        result.failed = True
                        cpu = ", ".join(f"{s.name} at {busy:.0%} of a core" for s, busy in await busy_share(servers))
                        progress(f"    {deployment.label}: {wedged.why}; {cpu} while not answering; stopping it"
                                 " (its remaining cases are skipped)")
                        deployment.failed += f"; {cpu} while not answering"
                        deployment.rss_last_kb = [rss_kb(s.pid) for s in deployment.replicas]
                        for server in deployment.servers():
                            if server.output:
                                progress(f"--- last output of {server.name} (pid {server.pid}) ---\n" + "".join(server.output).rstrip())
                        await asyncio.to_thread(deployment.stop)
                    progress(f"    {result.rps:9.0f} req/s  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
                             f"  server CPU {result.server_cpu_us_per_request:.0f} us/req"
                             + (f"  redis CPU {result.redis_cpu_us_per_request:.0f} us/req"
                                if result.redis_cpu_us_per_request is not None else "")
                             + "".join(f"  [{r['server']}: {r['rps']:.0f} req/s]" for r in result.per_replica or ())
                             + (f"  ERRORS {result.errors}: {result.error_sample}" if result.errors else ""))
                    key = (result.store, case.name)
                    if key not in best or result.rps > best[key].rps:
                        best[key] = result
    results = [best[key] for key in order if key in best]
    by_key = {(r.store, r.name): r for r in results}
    case_by_name = {c.name: c for c in cases}
    for result in results:
        case = case_by_name[result.name]
        base = by_key.get((None, case.baseline)) if case.baseline else None
        if result.failed:
            continue
        if base and result.rps and base.p50_ms and base.server_cpu_us_per_request:
            result.vs_bare = {
                "baseline": case.baseline,  # type: ignore[dict-item]
                "throughput_slowdown": round(base.rps / result.rps, 2),
                "p50_ratio": round(result.p50_ms / base.p50_ms, 2),
                "p99_ratio": round(result.p99_ms / base.p99_ms, 2),
                "server_cpu_ratio": round(result.server_cpu_us_per_request / base.server_cpu_us_per_request, 2),
            }
        memory = by_key.get(("memory", result.name))
        if result.store not in (None, "memory") and memory and memory.rps and memory.p99_ms and memory.server_cpu_us_per_request:
            result.vs_memory = {
                "throughput_ratio": round(result.rps / memory.rps, 2),  # above 1.00 means faster than memory
                "p99_ratio": round(result.p99_ms / memory.p99_ms, 2),
                "server_cpu_ratio": round(result.server_cpu_us_per_request / memory.server_cpu_us_per_request, 2),
            }
    return results


# -- reporting ----------------------------------------------------------------------------

def environment(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "client": CLIENT,
        "client_loop": loop,
        "platform": platform.platform(),
        "sandbox_revision": sandbox_revision(),
        "loadavg_at_start": loadavg(),
        "requests_per_case": args.requests,
        "warmup_per_case": args.warmup,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "stores": [label for label, _, _ in plan(args)],
        "skipped": args.skipped,
        "redis_server": args.redis_version,
        "sandbox_profiled": bool(args.profile_sandbox),
    }


TARGETS = "targets of issue 14 (reported, not asserted): SQLite create >= 0.50x memory's; Redis >= 5000 GET/s per replica"


def table(results: list[Result], env: dict[str, Any], rss: dict[str, Any]) -> str:
    stores = env["stores"]
    only_memory = stores == ["memory"]
    width = 62 if not only_memory else 50
    head = (f"{'case':<{width}} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'srv CPU':>8}"
            f"  {'vs bare:':<8} {'req/s':>6} {'p50':>6} {'CPU':>6}")
    units = f"{'':<{width}} {'':>8} {'':>7} {'':>7} {'us/req':>8}  {'':<8} {'(x slower)':>20}"
    lines = [
        f"{env['cpus']} CPUs, Python {env['python']}, aiohttp {env['aiohttp']}, client loop {env['client_loop']}; "
        f"{env['requests_per_case']} requests per case after {env['warmup_per_case']} warm-up, "
        f"concurrency {env['concurrency']}, best of {env['rounds']} round(s)"
        + (f"; sandbox {env['sandbox_revision']}" if env["sandbox_revision"] else ""),
        f"client: {env['client']}, on the same machine as the servers"
        + ("" if only_memory else f"; backends: {', '.join(stores)}"
           + (f" (redis-server {env['redis_server']})" if env["redis_server"] else "")),
    ]
    lines += [f"skipped: {note}" for note in env["skipped"]]
    lines += ["", head, units, "-" * len(head)]
    for r in results:
        if r.target == "bare":
            label = r.name
        else:
            label = f"{'sandbox' if only_memory else r.store}: {r.name}"
        row = f"{label:<{width}} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.server_cpu_us_per_request:>8.0f}"
        if r.failed:
            row = f"{label:<{width}} {'FAILED: stopped answering, see below':>33}"
        if r.vs_bare:
            v = r.vs_bare
            row += (f"  {'':<8} {v['throughput_slowdown']:>5.2f}x {v['p50_ratio']:>5.2f}x"
                    f" {v['server_cpu_ratio']:>5.2f}x")
        if r.redis_cpu_us_per_request is not None:
            row += f"  + redis-server {r.redis_cpu_us_per_request:.0f} us/req"
        if r.stopped_by_time_limit:
            row += f"  (time limit: {r.requests + r.errors} requests)"
        if r.errors:
            row += f"  ({r.errors} errors: {r.error_sample})"
        lines.append(row)
        for rep in r.per_replica or ():
            sub = f"    {rep['server']} ({rep['requests']} requests)"
            p50 = f"{rep['p50_ms']:>7.2f}" if rep["p50_ms"] is not None else f"{'-':>7}"
            p99 = f"{rep['p99_ms']:>7.2f}" if rep["p99_ms"] is not None else f"{'-':>7}"
            cpu = f"{rep['server_cpu_us_per_request']:>8.0f}" if rep["server_cpu_us_per_request"] is not None else f"{'-':>8}"
            lines.append(f"{sub:<{width}} {rep['rps']:>8.0f} {p50} {p99} {cpu}"
                         f"  (CPU {rep['server_cpu_utilization']:.0%} of a core)")

    def mib(kb: int | None) -> str:
        return f"{kb / 1024:.1f} MiB" if kb is not None else "?"

    lines.append("")
    for label, info in rss["deployments"].items():
        name = "sandbox" if only_memory else label
        for i, (before, after) in enumerate(zip(info["before_kb"], info["after_kb"], strict=True), 1):
            who = f"{name} #{i}" if len(info["before_kb"]) > 1 else name
            tail = f" ({info['intents_created']} intents created during the run)" if i == 1 else ""
            when = "when stopped" if info.get("failed") else "after"
            lines.append(f"{who + ' RSS:':<16} {mib(before)} before, {mib(after)} {when}{tail}")
    lines += [
        f"{'bare RSS:':<16} {mib(rss['bare_before_kb'])} before, {mib(rss['bare_after_kb'])} after",
        "",
        "srv CPU = server process CPU time / requests: what one request costs the server, even when",
        "the client (one Python process, competing for the same cores) limits req/s.",
    ]
    if any(r.redis_cpu_us_per_request is not None for r in results):
        lines.append("For the redis backend, srv CPU counts the sandbox process(es) only; redis-server's own CPU is shown apart.")
    single = [r for r in results if r.replicas == 1 and r.server_cpu_utilization < 0.85]
    if single:
        lines.append("server CPU use below 85% of a core in: " + ", ".join(
            f"{r.store + ': ' if r.store and not only_memory else ''}{r.name} ({r.server_cpu_utilization:.0%})" for r in single)
            + " -> client-bound (or waiting on its store) there; trust srv CPU more than req/s.")
    failed = {label: info["failed"] for label, info in rss["deployments"].items() if info.get("failed")}
    for label, why in failed.items():
        lines += ["", f"FAILED: {label}: {why}.", "  Its processes were stopped and its remaining cases skipped."]
    if not only_memory or any(r.per_replica for r in results):
        lines += ["", *summary(results, env, failed)]
    return "\n".join(lines)


def summary(results: list[Result], env: dict[str, Any], failed: dict[str, str]) -> list[str]:
    """Backends side by side: GET by id and create, with the rates the issue sets targets on."""
    by_key = {(r.store, r.key): r for r in results}

    def rate(r: Result | None) -> str:
        if r and r.failed:
            return f"{'FAILED':>8}"
        return f"{r.rps:>8.0f}" if r else f"{'-':>8}"

    def p99(r: Result | None) -> str:
        return f"{r.p99_ms:>7.2f}" if r and not r.failed else f"{'-':>7}"

    def ratio(r: Result | None) -> str:
        if r and r.vs_memory:
            return f"{r.vs_memory['throughput_ratio']:>6.2f}x"
        return f"{'1.00x':>7}" if r and r.store == "memory" else f"{'-':>7}"

    head = (f"{'backend':<10} {'repl':>4} {'GET/s':>8} {'p99 ms':>7} {'vs mem':>7}"
            f"  {'create/s':>8} {'p99 ms':>7} {'vs mem':>7}  GET/s per replica")
    lines = ["Backends side by side (GET = GET /v1/purchase-intents/{id}, create = POST /v1/purchase-intents;",
             "vs mem = req/s as a multiple of the memory backend's, above 1.00x is faster):", "", head, "-" * len(head)]
    notes = []
    for label in env["stores"]:
        get, create = by_key.get((label, "retrieve")), by_key.get((label, "create"))
        if label in failed:
            notes.append(f"{label}: FAILED (see above); figures after the failure are missing")
        any_result = get or create
        replicas = any_result.replicas if any_result else 1
        per = " / ".join(f"{rep['rps']:.0f}" for rep in get.per_replica) if get and get.per_replica else (
            f"{get.rps:.0f}" if get else "-")
        lines.append(f"{label:<10} {replicas:>4} {rate(get)} {p99(get)} {ratio(get)}  {rate(create)} {p99(create)} {ratio(create)}  {per}")
        if label == "sqlite" and create and create.vs_memory:
            met = "met" if create.vs_memory["throughput_ratio"] >= 0.5 else "NOT met"
            notes.append(f"SQLite create: {create.rps:.0f}/s = {create.vs_memory['throughput_ratio']:.2f}x memory's"
                         f" (target >= 0.50x): {met}")
        if label.startswith("redis") and get:
            rates = [rep["rps"] for rep in get.per_replica] if get.per_replica else [get.rps]
            met = "met" if min(rates) >= 5000 else "NOT met"
            notes.append(f"{label}: GET/s per replica {' / '.join(f'{x:.0f}' for x in rates)}"
                         + (f" (aggregate {get.rps:.0f})" if len(rates) > 1 else "") + f" (target >= 5000): {met}")
    lines += ["", TARGETS + ":"] + [f"  {n}" for n in notes or ["(nothing to compare: run retrieve and create with memory, sqlite, redis)"]]
    return lines


# -- main ---------------------------------------------------------------------------------

def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Per-request cost of the sandbox vs a bare aiohttp handler, per state backend.")
    parser.add_argument("--requests", type=int, default=5000, help="measured requests per case (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per case (default: requests/10, at least 100)")
    parser.add_argument("--rounds", type=int, default=1, help="run every case this many times and keep the best (default 1)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit per phase of a case (default 60)")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)")
    parser.add_argument("--only", action="append", metavar="CASES",
                        help="comma-separated cases to run, from: " + ", ".join(c.key for c in CASES)
                        + " (the bare baselines they are compared with always run)")
    parser.add_argument("--stores", default="memory", metavar="STORES",
                        help="comma-separated state backends to run the sandbox cases on, side by side, from: "
                        + ", ".join(STORES) + " (default memory). sqlite: --data-dir on a fresh temporary directory;"
                        " redis: --store on a fresh redis-server started on a free port (skipped if there is none)")
    parser.add_argument("--replicas", default="1", metavar="N[,N…]",
                        help="sandbox processes sharing the one Redis, for the redis backend; the client's connections"
                        " are split evenly across them. Several values run one redis backend each (e.g. 1,2). Default 1")
    parser.add_argument("--redis-server", default="redis-server", metavar="PATH", help="the redis-server program (default: from PATH)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results on stdout")
    parser.add_argument("--profile-sandbox", metavar="FILE", help="run the sandbox under cProfile, writing stats to FILE"
                        " (FILE.<backend>[-<replica>] with several sandbox processes; figures are then not representative)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1 or args.max_seconds <= 0:
        parser.error("--requests, --concurrency, --rounds and --max-seconds must be positive")
    if args.warmup is None:
        args.warmup = min(args.requests, max(100, args.requests // 10))
    try:
        args.cases = selected(args)
    except ValueError as exc:
        parser.error(str(exc))
    args.stores = list(dict.fromkeys(_csv(args.stores)))
    unknown = [s for s in args.stores if s not in STORES]
    if unknown or not args.stores:
        parser.error(f"--stores: unknown backend(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(STORES)}")
    try:
        args.replicas = list(dict.fromkeys(int(n) for n in _csv(args.replicas)))
    except ValueError:
        parser.error("--replicas takes whole numbers, e.g. 2 or 1,2")
    if not args.replicas or min(args.replicas) < 1:
        parser.error("--replicas must be at least 1")
    if args.replicas != [1] and "redis" not in args.stores:
        parser.error("--replicas applies to the redis backend: add redis to --stores")
    if max(args.replicas) > args.concurrency:
        parser.error("--concurrency must be at least the number of replicas (each replica gets its share of the connections)")
    args.skipped, args.redis_version = [], None
    if "redis" in args.stores:
        found = shutil.which(args.redis_server)
        if not found:
            args.skipped.append(f"redis ({args.redis_server} not found on PATH)")
            args.stores.remove("redis")
        else:
            args.redis_server = found
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10).stdout
                args.redis_version = (re.search(r"v=(\S+)", out) or re.search(r"(\d+\.\d+\.\d+)", out) or [None, None])[1]
        if not args.stores:
            parser.error("nothing to run: " + "; ".join(args.skipped))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for note in args.skipped:
        progress(f"http_overhead: skipped {note}")
    env = environment(args)
    bare = Server("bare", [sys.executable, str(HERE / "bare_server.py"), "--host", "127.0.0.1", "--port", str(free_port())])
    deployments: list[Deployment] = []
    scratch: Path | None = None

    # SIGTERM to the benchmark still runs the `finally` below, so no server is left behind.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        scratch = Path(tempfile.mkdtemp(prefix="http_overhead-"))
        for label, store, replicas in plan(args):
            deployment = build(args, label, store, replicas, scratch)
            deployments.append(deployment)  # before starting, so that `finally` stops what did start
            for server in deployment.servers():
                server.start()
                progress(f"{server.name}: pid {server.pid}, {server.url}")
            deployment.rss_before_kb = [rss_kb(server.pid) for server in deployment.replicas]
        bare.start()
        progress(f"{bare.name}: pid {bare.pid}, {bare.url}")
        rss: dict[str, Any] = {"bare_before_kb": rss_kb(bare.pid)}
        runner = event_runner()
        with runner:
            results = runner.run(bench(args, deployments, bare))
        rss["bare_after_kb"] = rss_kb(bare.pid)
        rss["deployments"] = {
            d.label: {"before_kb": d.rss_before_kb, "after_kb": d.rss_last_kb if d.failed else [rss_kb(s.pid) for s in d.replicas],
                      "intents_created": d.created, "failed": d.failed}
            for d in deployments
        }
        first = deployments[0]  # the keys of a memory-only run, as before
        rss.update(sandbox_before_kb=first.rss_before_kb[0], sandbox_after_kb=rss["deployments"][first.label]["after_kb"][0],
                   intents_created=first.created)
        if any(r.errors for r in results):  # the servers' last lines, while they still run
            for server in [s for d in deployments if not d.failed for s in d.servers()] + [bare]:
                if server.output:
                    progress(f"--- last output of {server.name} (pid {server.pid}) ---\n" + "".join(server.output).rstrip())
    except RuntimeError as exc:  # a server did not start, or the intent to read could not be created
        progress(f"http_overhead: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError, SystemExit):
        progress("interrupted; stopping the servers")
        return 130
    finally:
        for deployment in deployments:
            deployment.stop()  # sandboxes first, then their redis-server
        bare.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    if args.json:
        print(json.dumps({"environment": env, "rss": rss, "cases": [asdict(r) for r in results]}, indent=2))
    else:
        print(table(results, env, rss))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
