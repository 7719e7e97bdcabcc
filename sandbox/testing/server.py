"""The sandbox a test session talks to: one the plugin starts as a subprocess, or one already running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import sandbox
from sandbox.testing.client import SandboxClient

_LISTENING = re.compile(r"listening on (\S+)")
START_TIMEOUT = 30.0


class SandboxServer(SandboxClient):
    """A sandbox for the whole session: `owned` when the plugin started it (and will stop it)."""

    def __init__(self, url: str, *, owned: bool, seed: int, process: subprocess.Popen[str] | None = None, log: Path | None = None):
        super().__init__(url)
        self.owned = owned
        self._seed = seed
        self.process = process
        self.log = log  # the server's stderr, when the plugin started it

    @property
    def seed(self) -> int:
        return self._seed

    def postmortem(self) -> str:
        """Why calls fail, when the plugin's server has died: its exit code and the end of its log."""
        if self.process is None or self.process.poll() is None:
            return ""
        tail = self.log.read_text(errors="replace").strip()[-2000:] if self.log and self.log.exists() else ""
        return f"\nthe sandbox server exited with code {self.process.returncode}; the end of its log ({self.log}):\n{tail or '(empty)'}"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def command(seed: int, args: Sequence[str] = ()) -> list[str]:
    """`python -P -m sandbox serve` on a free port; `-P` keeps a `sandbox/` folder in the working directory from shadowing us."""
    return [sys.executable, "-P", "-m", "sandbox", "serve", "--host", "127.0.0.1", "--port", "0", "--seed", str(seed), *args]


def start(seed: int, log: Path, args: Sequence[str] = (), timeout: float = START_TIMEOUT) -> SandboxServer:
    """Start `sandbox serve --port 0` and wait for the line it prints once its socket listens."""
    env = dict(os.environ)
    # The server runs the very package this plugin was loaded from, installed or not.
    root = str(Path(sandbox.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command(seed, args), stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=env, text=True,
        )
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        """Waits for the `listening on` line, then keeps draining stdout so that the server never blocks on it."""
        assert process.stdout is not None
        for line in process.stdout:
            match = _LISTENING.search(line)
            if match and not ready.is_set():
                found["url"] = match.group(1)
                ready.set()
        ready.set()  # end of output: the process is gone

    threading.Thread(target=read, name="sandbox-stdout", daemon=True).start()
    if not ready.wait(timeout) or "url" not in found:
        code = process.poll()
        if code is None:
            process.kill()
            process.wait()
        error = log.read_text(errors="replace").strip()[-2000:]
        state = f"exited with code {code}" if code is not None else f"did not listen within {timeout:.0f} s"
        raise RuntimeError(f"the sandbox server ({' '.join(command(seed, args))}) {state}:\n{error or '(no output)'}")
    return SandboxServer(found["url"], owned=True, seed=seed, process=process, log=log)


def attach(url: str) -> SandboxServer:
    """A server someone else runs (`--sandbox-url`); raises `SandboxError` when it does not answer."""
    client = SandboxClient(url)
    return SandboxServer(client.url, owned=False, seed=client.health()["seed"])
