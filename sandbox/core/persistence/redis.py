"""`--store redis://host:port/db`: processes (replicas) sharing one Redis.

Each process keeps the whole state in memory and Redis holds the truth:

- `<prefix>:state` (hash): every key's latest value, `<prefix>:ord` (hash): the order keys first
  appeared in, `<prefix>:version`: how many commits were made;
- `<prefix>:log` (stream): each commit's changes, with the id `<version>-0`, trimmed to about
  `LOG_LENGTH` commits; a process further behind than that reloads the whole state;
- `<prefix>:lock`: the one lock (a token with an expiry). A turn (`gate.py`) takes it and gets,
  in the same script, the commits it has not seen; its commit writes and checks the token in one
  script too. So every change any process makes is applied everywhere in one order.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import socket
from typing import Any

from sandbox.core.persistence.gate import BackendUnavailable
from sandbox.core.persistence.journal import Change

LOG_LENGTH = 10_000
LOCK_MS = 30_000  # a process that dies holding the lock holds up the others this long at most

# Waiters queue (first come, first served), so that a process that releases the lock cannot take
# it straight back while another waits. A waiter asks again every few ms; one that stopped asking
# for STALE_MS (it died) leaves the queue. Times are the Redis server's, the same for every process.
STALE_MS = 250

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[5], ARGV[1], now)
redis.call('ZADD', KEYS[4], 'NX', now, ARGV[1])
local head = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
while head and head ~= ARGV[1] and tonumber(redis.call('HGET', KEYS[5], head) or '0') < now - tonumber(ARGV[4]) do
  redis.call('ZREM', KEYS[4], head)
  redis.call('HDEL', KEYS[5], head)
  head = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
end
if head ~= ARGV[1] then return false end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
local last = tonumber(ARGV[3])
if version == last then return {version} end
local entries = redis.call('XRANGE', KEYS[3], '(' .. last .. '-0', '+')
if #entries == 0 or entries[1][1] ~= (last + 1) .. '-0' then return {version, 'reload'} end
local found = {version}
for _, entry in ipairs(entries) do found[#found + 1] = entry[2][2] end
return found
"""

_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('SANDBOX the store lock was lost') end
local version = redis.call('INCR', KEYS[2])
for i = 5, #ARGV, 2 do
  local key, value = ARGV[i], ARGV[i + 1]
  if value == '' then
    redis.call('HDEL', KEYS[4], key)
    redis.call('HDEL', KEYS[5], key)
  else
    redis.call('HSET', KEYS[4], key, value)
    if redis.call('HEXISTS', KEYS[5], key) == 0 then redis.call('HSET', KEYS[5], key, redis.call('INCR', KEYS[6])) end
  end
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], version .. '-0', 'c', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return version
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


class RedisBackend:
    shared = True

    def __init__(self, url: str, prefix: str = "sandbox", process: str | None = None) -> None:
        import redis.asyncio  # only a server that uses Redis pays for importing it

        self.url = url
        self.process = process or process_name()
        self._redis: Any = redis.asyncio.from_url(url)
        names = ("lock", "version", "log", "state", "ord", "next", "waiters", "asked")
        self._keys = {name: f"{prefix}:{name}" for name in names}
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._commit = self._redis.register_script(_COMMIT)
        self._release = self._redis.register_script(_RELEASE)
        self._seen = 0  # the last version applied here

    def describe(self) -> str:
        return f"redis ({self.url}), as {self.process}"

    async def open(self) -> list[Change]:
        """Nothing yet: the first turn catches up from version 0 (or reloads), under the lock, so
        that replicas starting together agree on who found the state empty."""
        try:
            await self._redis.ping()
        except Exception as exc:  # redis-py's errors are not OSErrors
            raise BackendUnavailable(f"cannot reach Redis at {self.url}: {exc}") from None
        return []

    async def snapshot(self) -> list[Change]:
        """The whole state, in the order keys first appeared, and the version it is at."""
        k = self._keys
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(k["version"]).hgetall(k["state"]).hgetall(k["ord"])
            version, state, order = await pipe.execute()
        self._seen = int(version or 0)
        keys = sorted(state, key=lambda key: int(order.get(key, 0)))
        return [(key.decode(), state[key]) for key in keys]

    async def acquire(self) -> list[Change] | None:
        k = self._keys
        keys = [k["lock"], k["version"], k["log"], k["waiters"], k["asked"]]
        delay = 0.0002
        while True:
            found = await self._acquire(keys=keys, args=[self.process, LOCK_MS, self._seen, STALE_MS])
            if found:
                break
            await asyncio.sleep(delay * (1 + random.random()))  # another process's turn, or one queued first
            delay = min(delay * 2, 0.002)
        version = int(found[0])
        if len(found) == 2 and found[1] == b"reload":
            return None
        self._seen = version
        changes: list[Change] = []
        for blob in found[1:]:
            changes += pickle.loads(blob)  # noqa: S301 - written by sandbox processes only
        return changes

    async def commit(self, changes: list[Change]) -> None:
        k = self._keys
        args: list[Any] = [self.process, pickle.dumps(changes, protocol=5), LOG_LENGTH, LOCK_MS]
        for key, value in changes:
            args += [key, value if value is not None else b""]
        keys = [k["lock"], k["version"], k["log"], k["state"], k["ord"], k["next"]]
        self._seen = int(await self._commit(keys=keys, args=args))

    async def release(self) -> None:
        await self._release(keys=[self._keys["lock"]], args=[self.process])

    async def close(self) -> None:
        await self._redis.aclose()
