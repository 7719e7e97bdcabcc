"""Load generators for benchmarks/run.py: wrk (with benchmarks/wrk/flow.lua) or the aiohttp client.

Both run a `Flow` (one or more requests per iteration, the later ones may use the first answer's
"id") against a base URL at a number of connections for a number of seconds, and return a `Run`:
requests and iterations per second, latency percentiles per request, errors, and the server
process's CPU time per request (from /proc).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from common import HERE, cpu_seconds, percentile

FLOW_LUA = HERE / "wrk" / "flow.lua"
WRK_LINE = re.compile(r"^WRK_RESULT (\{.*\})\s*$", re.M)


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # {id}: the "id" of the iteration's first answer; {pick}: one of the flow's picks, at random
    expect: int
    body: bytes | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request (Content-Type is added to those with a body)
    picks: tuple[str, ...] = ()

    @property
    def chained(self) -> bool:
        return any("{id}" in step.path for step in self.steps)


@dataclass
class Run:
    target: str  # "sandbox", "bare", "wiremock"
    flow: str
    connections: int
    client: str
    seconds: float = 0.0
    requests: int = 0
    iterations: int = 0  # complete flows (for a flow of one step: answered requests)
    errors: int = 0  # transport errors, timeouts and answers with another status than expected
    error_sample: str | None = None
    rps: float = 0.0  # requests answered per second
    ips: float = 0.0  # iterations per second
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    server_cpu_us_per_request: float | None = None
    server_cpu_utilization: float | None = None  # server CPU seconds / wall seconds (1.0 = one core)
    warmup_errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Driver:
    name = ""
    description = ""

    async def run(self, target: str, base: str, flow: Flow, connections: int, seconds: float, pid: int | None) -> Run:
        cpu0 = cpu_seconds(pid) if pid else 0.0
        run = await self._run(target, base, flow, connections, seconds)
        if pid and run.seconds:
            cpu = cpu_seconds(pid) - cpu0
            run.server_cpu_utilization = cpu / run.seconds
            run.server_cpu_us_per_request = cpu / run.requests * 1e6 if run.requests else None
        run.rps = run.requests / run.seconds if run.seconds else 0.0
        run.ips = run.iterations / run.seconds if run.seconds else 0.0
        return run

    async def _run(self, target: str, base: str, flow: Flow, connections: int, seconds: float) -> Run:
        raise NotImplementedError

    def close(self) -> None:
        pass


class WrkDriver(Driver):
    """wrk, one process per run: one thread for a flow of one step (all connections on it), one
    thread per connection for a chained flow (its state lives in the thread)."""

    name = "wrk"

    def __init__(self, wrk: str) -> None:
        self.wrk = wrk
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
        self.version = (version.stdout + version.stderr).splitlines()[0].strip() if (version.stdout + version.stderr) else "wrk"
        self.description = f"{self.version} ({wrk}; Lua script {FLOW_LUA.relative_to(HERE.parent)})"
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
        self.procs: set[asyncio.subprocess.Process] = set()
        self._files: dict[Flow, list[str]] = {}

    def files(self, flow: Flow) -> list[str]:
        if flow not in self._files:
            n = len(self._files)
            spec = self.scratch / f"flow-{n}.tsv"
            lines = [f"# {flow.name}"]
            for step in flow.steps:
                body = step.body.decode() if step.body else ""
                if "\t" in body or "\n" in body:
                    raise ValueError("a wrk flow's body must be compact JSON (no tab, no newline)")
                lines.append("\t".join([step.method, step.path, str(step.expect), body]).rstrip("\t"))
            spec.write_text("\n".join(lines) + "\n")
            files = [str(spec)]
            if flow.picks:
                picks = self.scratch / f"picks-{n}.txt"
                picks.write_text("\n".join(flow.picks) + "\n")
                files.append(str(picks))
            self._files[flow] = files
        return self._files[flow]

    async def _run(self, target: str, base: str, flow: Flow, connections: int, seconds: float) -> Run:
        threads = connections if flow.chained else 1
        # wrk's -d takes whole seconds; SIGINT ends a run early (wrk then reports as usual), so the
        # run is given a second or two more and stopped by SIGINT after `seconds`.
        argv = [self.wrk, "-t", str(threads), "-c", str(connections), "-d", f"{math.ceil(seconds) + 2}s",
                "--timeout", "10s", "-s", str(FLOW_LUA)]
        for name, value in flow.headers:
            argv += ["-H", f"{name}: {value}"]
        argv += [base, "--", *self.files(flow)]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self.procs.add(proc)
        try:
            talk = asyncio.ensure_future(proc.communicate())
            finished, _ = await asyncio.wait({talk}, timeout=seconds)
            if not finished:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
            out, err = await talk
        finally:
            self.procs.discard(proc)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        text = out.decode(errors="replace")
        match = WRK_LINE.search(text)
        if proc.returncode != 0 or not match:
            raise RuntimeError(f"wrk failed (exit {proc.returncode}): {' '.join(argv)}\n{text}{err.decode(errors='replace')}")
        data = json.loads(match.group(1))
        errors = data["errors"]
        transport = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
        run = Run(target, flow.name, connections, self.name)
        run.seconds = data["duration_us"] / 1e6
        run.requests = data["requests"]
        if len(flow.steps) == 1:  # responses not parsed: wrk counts answers of 400 and above
            run.errors = transport + errors["status"]
            run.iterations = run.requests - errors["status"]
            run.error_sample = f"{errors['status']} answers of status 400 or above" if errors["status"] else None
        else:
            run.errors = transport + data["wrong"]
            run.iterations = data["flows"]
            run.error_sample = data["sample"] or None
        if transport and not run.error_sample:
            run.error_sample = f"transport errors: {errors}"
        lat = data["latency_us"]
        run.p50_ms, run.p90_ms, run.p99_ms = lat["p50"] / 1e3, lat["p90"] / 1e3, lat["p99"] / 1e3
        run.max_ms, run.mean_ms = lat["max"] / 1e3, lat["mean"] / 1e3
        run.extra = {"wrk_threads": threads, "wrk_errors": errors, "p999_ms": lat["p999"] / 1e3}
        return run

    def close(self) -> None:
        for proc in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)


class AiohttpDriver(Driver):
    """The aiohttp client in this Python process: one ClientSession per run, one task per
    connection, each running the flow's iterations back to back."""

    name = "aiohttp"

    def __init__(self, why: str) -> None:
        self.description = f"aiohttp {aiohttp.__version__} client in the benchmark's own process ({why})"

    async def _run(self, target: str, base: str, flow: Flow, connections: int, seconds: float) -> Run:
        latencies: list[float] = []
        run = Run(target, flow.name, connections, self.name)
        headers = dict(flow.headers)
        with_body = {**headers, "Content-Type": "application/json"}
        perf = time.perf_counter
        connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
            start = perf()
            deadline = start + seconds

            async def worker() -> None:
                while perf() < deadline:
                    ident: str | None = None
                    for index, step in enumerate(flow.steps):
                        path = step.path
                        if ident is not None:
                            path = path.replace("{id}", ident)
                        if flow.picks:
                            path = path.replace("{pick}", random.choice(flow.picks))
                        sent = perf()
                        try:
                            async with session.request(step.method, base + path, data=step.body,
                                                       headers=with_body if step.body else headers) as resp:
                                payload = await resp.read()
                                status = resp.status
                        except (TimeoutError, aiohttp.ClientError) as exc:
                            run.errors += 1
                            run.error_sample = run.error_sample or f"{type(exc).__name__}: {exc} ({step.method} {step.path})"
                            break
                        latencies.append(perf() - sent)
                        if status != step.expect:
                            run.errors += 1
                            run.error_sample = run.error_sample or (
                                f"HTTP {status} to {step.method} {step.path}: {payload[:200].decode(errors='replace')}")
                            break
                        if index == 0 and flow.chained:
                            ident = json.loads(payload)["id"]
                        if index == len(flow.steps) - 1:
                            run.iterations += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
            run.seconds = perf() - start
        latencies.sort()
        run.requests = len(latencies)
        if latencies:
            run.p50_ms, run.p90_ms = percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.9) * 1e3
            run.p99_ms, run.max_ms = percentile(latencies, 0.99) * 1e3, latencies[-1] * 1e3
            run.mean_ms = sum(latencies) / len(latencies) * 1e3
        return run


def driver(choice: str) -> Driver:
    """`auto`: wrk when it is on PATH, the aiohttp client otherwise."""
    wrk = shutil.which("wrk")
    if choice == "wrk" and not wrk:
        raise RuntimeError("--client wrk: wrk is not on PATH")
    if choice in ("auto", "wrk") and wrk:
        return WrkDriver(wrk)
    return AiohttpDriver("--client aiohttp" if choice == "aiohttp" else "wrk is not on PATH")
