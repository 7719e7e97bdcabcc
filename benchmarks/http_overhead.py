"""Per-request cost of the sandbox, compared with a bare aiohttp handler.

Starts two servers as subprocesses on 127.0.0.1 (free ports): the sandbox
(`python -m sandbox serve --seed 1`) and `benchmarks/bare_server.py` (a bare aiohttp app
returning a fixed ~0.9 KB JSON body). Drives each over keep-alive connections with one
aiohttp ClientSession at a fixed concurrency, after a warm-up, and reports for every case
requests/second, p50/p99 latency, the server process's CPU time per request, and each
sandbox case's ratio to the bare handler with the same method. Also reports the sandbox's
resident memory (VmRSS) before and after the run.

    python benchmarks/http_overhead.py                      # 5000 requests per case, concurrency 16
    python benchmarks/http_overhead.py --requests 20000 --concurrency 32
    python benchmarks/http_overhead.py --json               # machine-readable, on stdout
    python benchmarks/http_overhead.py --profile-sandbox /tmp/sandbox.prof   # cProfile the sandbox

Standard library and aiohttp only (with yarl, which aiohttp itself depends on; uvloop is used
when importable, as the sandbox does). Bounded: N requests per case after a warm-up, and at
most --max-seconds per phase of a case. Both servers are stopped at the end, also on error,
Ctrl-C or SIGTERM. Linux only (reads /proc). See benchmarks/README.md for how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READY = re.compile(r"listening on (http://\S+)")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

KEY = "din_test_bench"
CREATE_BODY = json.dumps({
    "product_url": "https://example.com/products/demo-item",
    "quantity": 1,
    "currency": "usd",
    "max_total_cents": 5000,
    "buyer": {
        "first_name": "John", "last_name": "Doe", "email": "john@example.com", "phone": "+15551234567",
        "address1": "123 Main St", "city": "New York", "province": "NY", "postal_code": "10001", "country": "US",
    },
}).encode()
GET_HEADERS = {"Authorization": f"Bearer {KEY}"}
POST_HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


# -- the servers --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess: started, awaited until it prints "listening on", then stopped."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: collections.deque[str] = collections.deque(maxlen=40)  # stdout + stderr tail
        self._ready = threading.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        threading.Thread(target=self._drain, name=f"{self.name}-output", daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                why = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "did not start in time"
                raise RuntimeError(f"{self.name} {why}: {' '.join(self.argv)}\n" + "".join(self.output))

    def _drain(self) -> None:
        # Keeps reading so the pipe never fills; remembers the tail for error messages.
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if not self._ready.is_set() and (match := READY.search(line)):
                self.url = match.group(1).rstrip("/")
                self._ready.set()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)  # both servers shut down cleanly on SIGTERM
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process, in KiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (clock-tick resolution, 10 ms on Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


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
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    server_cpu_us_per_request: float = 0.0
    server_cpu_utilization: float = 0.0  # server CPU seconds / wall seconds (1.0 = one core saturated)
    client_cpu_us_per_request: float = 0.0
    server_rss_kb_after: int | None = None
    error_sample: str | None = None
    stopped_by_time_limit: bool = False
    vs_bare: dict[str, Any] | None = field(default=None)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


_keys = itertools.count()
created = 0  # sandbox intents created so far (warm-ups included), for the RSS figures


async def drive(
    session: aiohttp.ClientSession, case: Case, url: URL, count: int, concurrency: int, deadline: float,
) -> tuple[list[float], int, str | None]:
    """`count` requests from `concurrency` workers; returns latencies, errors and an error sample."""
    latencies: list[float] = []
    errors = 0
    sample: str | None = None
    issued = 0
    method = case.method
    body = CREATE_BODY if method == "POST" else None
    base_headers = POST_HEADERS if method == "POST" else GET_HEADERS
    perf = time.perf_counter

    counts_intents = case.target == "sandbox" and method == "POST"

    async def worker() -> None:
        global created
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
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors += 1
                sample = sample or f"{type(exc).__name__}: {exc}"
                continue
            if status != case.expect:
                errors += 1
                sample = sample or f"HTTP {status}: {payload[:300].decode(errors='replace')}"
                continue
            latencies.append(perf() - start)
            if counts_intents:
                created += 1

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    return latencies, errors, sample


async def run_case(
    session: aiohttp.ClientSession, case: Case, server: Server, path: str, args: argparse.Namespace,
) -> Result:
    url = URL(server.url + path)
    result = Result(case.key, case.name, case.target, case.method, path)
    if args.warmup:
        await drive(session, case, url, args.warmup, args.concurrency, time.perf_counter() + args.max_seconds)
    cpu0, client0, wall0 = cpu_seconds(server.pid), time.process_time(), time.perf_counter()
    latencies, errors, sample = await drive(
        session, case, url, args.requests, args.concurrency, time.perf_counter() + args.max_seconds,
    )
    wall = time.perf_counter() - wall0
    server_cpu, client_cpu = cpu_seconds(server.pid) - cpu0, time.process_time() - client0
    done = len(latencies) + errors
    latencies.sort()
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
    result.server_cpu_utilization = server_cpu / wall if wall else 0.0
    result.server_rss_kb_after = rss_kb(server.pid)
    return result


async def create_intent(session: aiohttp.ClientSession, sandbox: Server) -> str:
    global created
    async with session.post(sandbox.url + "/v1/purchase-intents", data=CREATE_BODY, headers=POST_HEADERS) as resp:
        payload = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"creating the intent to read failed: HTTP {resp.status} {payload}")
    created += 1
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


async def bench(args: argparse.Namespace, sandbox: Server, bare: Server) -> list[Result]:
    # While the loop runs, SIGTERM cancels the run (an exception raised from a signal handler
    # could land inside a transport callback); main() then stops the servers.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    try:
        return await _bench(args, sandbox, bare)
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _terminate)


async def _bench(args: argparse.Namespace, sandbox: Server, bare: Server) -> list[Result]:
    cases = args.cases
    best: dict[str, Result] = {}
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        intent = await create_intent(session, sandbox)
        for round_no in range(1, args.rounds + 1):
            for case in cases:
                server = sandbox if case.target == "sandbox" else bare
                path = case.path.replace("{intent}", intent)
                progress(f"[round {round_no}/{args.rounds}] {case.target:7} {case.name} ...")
                result = await run_case(session, case, server, path, args)
                progress(f"    {result.rps:9.0f} req/s  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
                         f"  server CPU {result.server_cpu_us_per_request:.0f} us/req"
                         + (f"  ERRORS {result.errors}: {result.error_sample}" if result.errors else ""))
                if case.name not in best or result.rps > best[case.name].rps:
                    best[case.name] = result
    results = [best[case.name] for case in cases]
    by_name = {r.name: r for r in results}
    for case, result in zip(cases, results):
        base = by_name.get(case.baseline) if case.baseline else None
        if base and result.rps and base.p50_ms and base.server_cpu_us_per_request:
            result.vs_bare = {
                "baseline": case.baseline,  # type: ignore[dict-item]
                "throughput_slowdown": round(base.rps / result.rps, 2),
                "p50_ratio": round(result.p50_ms / base.p50_ms, 2),
                "p99_ratio": round(result.p99_ms / base.p99_ms, 2),
                "server_cpu_ratio": round(result.server_cpu_us_per_request / base.server_cpu_us_per_request, 2),
            }
    return results


# -- reporting ----------------------------------------------------------------------------

def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def environment(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    load = None
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "client_loop": loop,
        "platform": platform.platform(),
        "loadavg_at_start": load,
        "requests_per_case": args.requests,
        "warmup_per_case": args.warmup,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "sandbox_profiled": bool(args.profile_sandbox),
    }


def table(results: list[Result], env: dict[str, Any], rss: dict[str, Any]) -> str:
    head = (f"{'case':<50} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'srv CPU':>8}"
            f"  {'vs bare:':<8} {'req/s':>6} {'p50':>6} {'CPU':>6}")
    units = f"{'':<50} {'':>8} {'':>7} {'':>7} {'us/req':>8}  {'':<8} {'(x slower)':>20}"
    lines = [
        f"{env['cpus']} CPUs, Python {env['python']}, aiohttp {env['aiohttp']}, client loop {env['client_loop']}; "
        f"{env['requests_per_case']} requests per case after {env['warmup_per_case']} warm-up, "
        f"concurrency {env['concurrency']}, best of {env['rounds']} round(s)",
        "",
        head,
        units,
        "-" * len(head),
    ]
    for r in results:
        label = f"{r.target}: {r.name}" if r.target == "sandbox" else r.name
        row = f"{label:<50} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.server_cpu_us_per_request:>8.0f}"
        if r.vs_bare:
            v = r.vs_bare
            row += (f"  {'':<8} {v['throughput_slowdown']:>5.2f}x {v['p50_ratio']:>5.2f}x"
                    f" {v['server_cpu_ratio']:>5.2f}x")
        if r.stopped_by_time_limit:
            row += f"  (time limit: {r.requests + r.errors} requests)"
        if r.errors:
            row += f"  ({r.errors} errors: {r.error_sample})"
        lines.append(row)

    def mib(kb: int | None) -> str:
        return f"{kb / 1024:.1f} MiB" if kb is not None else "?"

    lines += [
        "",
        f"sandbox RSS: {mib(rss['sandbox_before_kb'])} before, {mib(rss['sandbox_after_kb'])} after"
        f" ({rss['intents_created']} intents created during the run)",
        f"bare RSS:    {mib(rss['bare_before_kb'])} before, {mib(rss['bare_after_kb'])} after",
        "",
        "srv CPU = server process CPU time / requests: what one request costs the server, even when",
        "the client (one Python process, competing for the same cores) limits req/s.",
    ]
    saturated = [r for r in results if r.server_cpu_utilization < 0.85]
    if saturated:
        lines.append("server CPU use below 85% of a core in: " + ", ".join(
            f"{r.name} ({r.server_cpu_utilization:.0%})" for r in saturated) + " -> client-bound there; trust srv CPU more than req/s.")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Per-request cost of the sandbox vs a bare aiohttp handler.")
    parser.add_argument("--requests", type=int, default=5000, help="measured requests per case (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per case (default: requests/10, at least 100)")
    parser.add_argument("--rounds", type=int, default=1, help="run every case this many times and keep the best (default 1)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit per phase of a case (default 60)")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)")
    parser.add_argument("--only", action="append", metavar="CASES",
                        help="comma-separated cases to run, from: " + ", ".join(c.key for c in CASES)
                        + " (the bare baselines they are compared with always run)"),
    parser.add_argument("--json", action="store_true", help="print machine-readable results on stdout")
    parser.add_argument("--profile-sandbox", metavar="FILE", help="run the sandbox under cProfile, writing stats to FILE"
                        " (figures are then not representative)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1 or args.max_seconds <= 0:
        parser.error("--requests, --concurrency, --rounds and --max-seconds must be positive")
    if args.warmup is None:
        args.warmup = min(args.requests, max(100, args.requests // 10))
    try:
        args.cases = selected(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment(args)
    sandbox_argv = [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--seed", "1"]
    if args.profile_sandbox:
        sandbox_argv[1:3] = ["-m", "cProfile", "-o", str(Path(args.profile_sandbox).resolve()), "-m", "sandbox"]
    sandbox = Server("sandbox", sandbox_argv)
    bare = Server("bare", [sys.executable, str(HERE / "bare_server.py"), "--host", "127.0.0.1", "--port", str(free_port())])

    # SIGTERM to the benchmark still runs the `finally` below, so no server is left behind.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        for server in (sandbox, bare):
            server.start()
            progress(f"{server.name}: pid {server.pid}, {server.url}")
        rss = {"sandbox_before_kb": rss_kb(sandbox.pid), "bare_before_kb": rss_kb(bare.pid)}
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            results = runner.run(bench(args, sandbox, bare))
        rss.update(sandbox_after_kb=rss_kb(sandbox.pid), bare_after_kb=rss_kb(bare.pid))
        rss["intents_created"] = created
    except RuntimeError as exc:  # a server did not start, or the intent to read could not be created
        progress(f"http_overhead: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError, SystemExit):
        progress("interrupted; stopping the servers")
        return 130
    finally:
        for server in (sandbox, bare):
            server.stop()

    if args.json:
        print(json.dumps({"environment": env, "rss": rss, "cases": [asdict(r) for r in results]}, indent=2))
    else:
        print(table(results, env, rss))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
