"""What the benchmark scripts share: server subprocesses, /proc readings, request bodies, a JWT.

Imported as `common` by the scripts in this folder (each runs as `python benchmarks/<script>.py`,
so this folder is on `sys.path`). Standard library only.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READY = re.compile(r"listening on (http://\S+)")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

# -- what the benchmarks send ---------------------------------------------------------------------

KEY = "din_test_bench"  # a Dino test key: the tenant of every Dino request
INTENT: dict[str, Any] = {  # the create body of Dino's seed example (tests/conftest.py SEED_INTENT)
    "product_url": "https://example.com/products/demo-item",
    "quantity": 1,
    "currency": "usd",
    "max_total_cents": 5000,
    "buyer": {
        "first_name": "John", "last_name": "Doe", "email": "john@example.com", "phone": "+15551234567",
        "address1": "123 Main St", "city": "New York", "province": "NY", "postal_code": "10001", "country": "US",
    },
}
CREATE_BODY = json.dumps(INTENT).encode()
GET_HEADERS = {"Authorization": f"Bearer {KEY}"}
POST_HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

PROJECT = "550e8400-e29b-41d4-a716-446655440000"  # a Basis Theory AI project (the tenant)


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def bt_ai_jwt(project: str = PROJECT, sub: str = "user-1", seconds: int = 3600) -> str:
    """An HS256 JWT for Basis Theory AI: `iss` the project, `sub` the entity (the sandbox does not
    check its signature unless it is given a JWKS or a public key)."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    head = b64(json_body({"alg": "HS256", "typ": "JWT"}))
    now = int(time.time())
    claims = b64(json_body({"iss": project, "sub": sub, "roles": ["private"], "iat": now, "exp": now + seconds}))
    signature = b64(hmac.new(b"benchmark", head + b"." + claims, hashlib.sha256).digest())
    return (head + b"." + claims + b"." + signature).decode()


# -- servers --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess: started, awaited until it is ready, then stopped.

    Ready is either a line of its output matching `ready` (whose first group, if any, is the URL;
    otherwise the URL is the `url` given), or, with `ready_path`, a 200 from `url + ready_path`.
    `start()` is `launch()` then `wait_ready()`; launching several before waiting starts them in
    parallel."""

    def __init__(self, name: str, argv: list[str], ready: re.Pattern[str] = READY, url: str = "",
                 env: dict[str, str] | None = None, ready_path: str | None = None, unset: tuple[str, ...] = (),
                 startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.name = name
        self.argv = argv
        self.ready = ready
        self.ready_path = ready_path
        self.extra_env = env or {}
        self.unset = unset  # variables of this environment the server does not get
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.url = url
        self.output: collections.deque[str] = collections.deque(maxlen=40)  # stdout + stderr tail
        self.lines: list[str] = []  # the first lines of output, for what a server prints once
        self._ready = threading.Event()
        self._deadline = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in self.unset}
        env.update(PYTHONUNBUFFERED="1", **self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self._deadline = time.monotonic() + self.startup_timeout
        threading.Thread(target=self._drain, name=f"{self.name}-output", daemon=True).start()

    def wait_ready(self) -> None:
        assert self.proc is not None
        while not self._ready.wait(0.05):
            if self.ready_path and _http_ok(self.url + self.ready_path):
                self._ready.set()
                break
            if self.proc.poll() is not None or time.monotonic() > self._deadline:
                why = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "did not start in time"
                raise RuntimeError(f"{self.name} {why}: {' '.join(self.argv)}\n" + "".join(self.output))

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def _drain(self) -> None:
        # Keeps reading so the pipe never fills; remembers the tail for error messages.
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if len(self.lines) < 100:
                self.lines.append(line)
            if not self.ready_path and not self._ready.is_set() and (match := self.ready.search(line)):
                if match.groups():
                    self.url = match.group(1).rstrip("/")
                self._ready.set()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)  # every server here shuts down cleanly on SIGTERM
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


def _http_ok(url: str) -> bool:
    with contextlib.suppress(OSError, urllib.error.URLError):
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - a loopback URL this script built
            return resp.status == 200
    return False


def start_all(servers: list[Server]) -> None:
    """Launches every server, then waits for each: they start in parallel."""
    for server in servers:
        server.launch()
    for server in servers:
        server.wait_ready()


# -- /proc ----------------------------------------------------------------------------------------

def rss_kb(pid: int) -> int | None:
    """VmRSS of a process, in KiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (clock-tick resolution, 10 ms on Linux), all its
    threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def loadavg() -> list[str] | None:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[:3]
    return None


def sandbox_revision() -> str | None:
    """The commit under test, and whether sandbox/ has uncommitted changes."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run([*git, "status", "--porcelain", "--", "sandbox"], capture_output=True, text=True, timeout=10).stdout
        if commit:
            return commit + (" + uncommitted changes in sandbox/" if changed.strip() else "")
    return None


# -- small things ---------------------------------------------------------------------------------

def event_runner() -> asyncio.Runner:
    """An asyncio runner on uvloop when it is importable (as `sandbox serve` runs), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
