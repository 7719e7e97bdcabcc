"""`--data-dir DIR`: the state in one SQLite database (`DIR/sandbox.db`, WAL), one server per directory.

Every commit is one transaction, written before the requests it covers are answered, so a kill -9
loses nothing acknowledged (WAL with `synchronous=NORMAL` survives a process crash; only a
power cut may lose the last commits). SQLite runs on a thread of its own, so the event loop never
waits on the disk. A lock file keeps a second server off the directory.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

from sandbox.core.persistence.gate import BackendUnavailable
from sandbox.core.persistence.journal import Change

T = TypeVar("T")
DATABASE = "sandbox.db"
LOCK = "sandbox.lock"
SCHEMA = "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, ord INTEGER NOT NULL, value BLOB NOT NULL)"


class DataDirInUse(BackendUnavailable):
    pass


class SqliteBackend:
    shared = False  # one process: no lock to take, nothing to catch up with

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-sqlite")
        self._db: sqlite3.Connection | None = None
        self._lock: IO[str] | None = None
        self._ord = 0

    def describe(self) -> str:
        return f"sqlite ({self.directory / DATABASE})"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> list[Change]:
        """Take the directory and read what it holds, in the order keys were first written."""
        return await self._run(self._open)

    def _open(self) -> list[Change]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = open(self.directory / LOCK, "a+")  # noqa: SIM115 - held for the server's lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise DataDirInUse(
                f"--data-dir {self.directory} is in use by {holder}: one sandbox per data directory "
                "(stop it, or give this one another directory)"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()}\n")
        lock.flush()
        self._lock = lock
        db = sqlite3.connect(self.directory / DATABASE, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA)
        self._db = db
        rows = db.execute("SELECT key, value, ord FROM state ORDER BY ord").fetchall()
        self._ord = rows[-1][2] if rows else 0
        return [(key, value) for key, value, _ in rows]

    async def acquire(self) -> list[Change]:
        return []

    async def snapshot(self) -> list[Change]:
        return await self._run(self._rows)

    def _rows(self) -> list[Change]:
        if self._db is None:
            raise RuntimeError("the data directory is not open")
        return [(key, value) for key, value in self._db.execute("SELECT key, value FROM state ORDER BY ord")]

    async def release(self) -> None:
        return None

    async def commit(self, changes: list[Change]) -> None:
        if changes:
            await self._run(self._commit, changes)

    def _commit(self, changes: list[Change]) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("the data directory is not open")
        puts = []
        for key, value in changes:
            if value is not None:
                self._ord += 1
                puts.append((key, self._ord, value))
        deletes = [(key,) for key, value in changes if value is None]
        with db:  # one transaction
            db.execute("BEGIN")
            if puts:
                db.executemany(
                    "INSERT INTO state (key, ord, value) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", puts,
                )
            if deletes:
                db.executemany("DELETE FROM state WHERE key = ?", deletes)

    async def close(self) -> None:
        await self._run(self._close)
        self._thread.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None
