"""One test's view of the session's sandbox: its own tenants, and everything it changed undone afterwards.

Before the test: a reset (of the whole server, or only of the test's tenants with `--sandbox-reset
tenant`). After it: the webhook endpoints and scenarios it added are removed and the clock is put
back as it was. The server is never restarted.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sandbox.testing.client import SandboxClient, SandboxError
from sandbox.testing.server import SandboxServer

ResetScope = Literal["all", "tenant"]
BT_ENTITY = "user-12345"
# Basis Theory AI tokens are not checked unless the server is started with a JWKS or a public key.
_BT_SECRET = "sandbox-pytest-plugin-does-not-check-this-signature-0123456789"


def tenant_name(nodeid: str, name: str) -> str:
    """Readable and stable across runs (so ids repeat with the seed), unique per test: `test_checkout_1f2e3d4c`."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40].strip("_") or "test"
    return f"{slug}_{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}"


class Sandbox(SandboxClient):
    """The `sandbox` fixture: the session's server, seen from one test.

    The helpers are `SandboxClient`'s. Keys and ids that belong to this test alone: `dino_key`,
    `crossmint_key` (and `crossmint_client_key`), `bt_project` (with `bt_token()`), `bt_api_key`.
    """

    def __init__(self, server: SandboxServer, tenant: str, scope: ResetScope, search: Sequence[Path] = ()) -> None:
        super().__init__(server.url, timeout=server.timeout)
        self.server = server
        self.scope: ResetScope = scope
        self.tenant = tenant
        self.dino_key = f"din_test_{tenant}"
        self.crossmint_project = tenant
        self.crossmint_key = f"sk_staging_{tenant}"
        self.crossmint_client_key = f"ck_staging_{tenant}"
        self.bt_project = tenant
        self.bt_api_key = f"key_test_{tenant}"
        self._search = list(search)

    @property
    def seed(self) -> int:
        return self.server.seed

    @property
    def tenants(self) -> dict[str, str]:
        """The tenant of this test for each provider, as the control plane names them (`tenant=` filters)."""
        return {"dino": self.dino_key, "crossmint": self.crossmint_project, "basistheory": self.bt_project, "btplatform": self.bt_api_key}

    def bt_token(self, entity: str = BT_ENTITY, *, roles: Sequence[str] = ("private",), expires_in: int = 3600, **claims: Any) -> str:
        """A Basis Theory AI JWT for this test's project (`iss`) and `entity` (`sub`)."""
        import jwt

        now = int(time.time())
        payload = {"iss": self.bt_project, "sub": entity, "roles": list(roles), "iat": now, "exp": now + expires_in, **claims}
        return jwt.encode(payload, _BT_SECRET, algorithm="HS256")

    def reset(self, provider: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        """Without `tenant`: what the plugin does before each test, i.e. the whole server (one provider's
        part with `provider`), or only this test's tenants under `--sandbox-reset tenant`."""
        if tenant is not None or self.scope == "all":
            return super().reset(provider, tenant)
        for scoped in sorted({t for p, t in self.tenants.items() if provider in (None, p)}):
            super().reset(provider, scoped)
        return {"reset": True, "provider": provider, "tenant": None}

    def resolve(self, source: str | os.PathLike[str]) -> Path:
        """A relative scenario path is looked for next to the test file, then in the rootdir, then the working directory."""
        path = Path(source)
        if path.is_absolute():
            return path
        tried = [base / path for base in self._search]
        for candidate in tried:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"scenario {str(source)!r} not found; looked at {', '.join(str(c) for c in tried)}")


@dataclass(frozen=True, slots=True)
class Snapshot:
    endpoints: frozenset[str]
    scenarios: frozenset[str]
    clock: dict[str, Any]


def begin(box: Sandbox) -> Snapshot:
    """Note what the test will find, then reset."""
    snapshot = Snapshot(
        frozenset(e["id"] for e in box.endpoints()), frozenset(s["id"] for s in box.scenarios()), box.clock(),
    )
    box.reset()
    return snapshot


def end(box: Sandbox, before: Snapshot) -> list[str]:
    """Undo what the test added; returns what could not be undone (the test then errors)."""
    problems: list[str] = []
    mine = set(box.tenants.values())
    everything = box.scope == "all"  # the server is this session's alone: anything new is the test's
    try:
        doomed = [
            e["id"] for e in box.endpoints()
            if e["id"] not in before.endpoints and (everything or e["id"] in box.changes.endpoints or e.get("tenant") in mine)
        ]
        for endpoint_id in doomed:
            _ignore_gone(box.remove_endpoint, endpoint_id)
        loaded = [
            s["id"] for s in box.scenarios()
            if s["id"] not in before.scenarios and (everything or s["id"] in box.changes.scenarios or s.get("tenant") in mine)
        ]
        for scenario_id in loaded:
            _ignore_gone(box.unload_scenario, scenario_id)
        if everything or box.changes.clock:
            restore_clock(box, before.clock)
    except SandboxError as exc:
        problems.append(f"could not restore the sandbox after the test: {exc}")
    return problems


def restore_clock(client: SandboxClient, before: dict[str, Any]) -> None:
    """Put the clock back: frozen at the same instant, or running with the same offset from real time (to a millisecond)."""
    now = client.clock()
    if before["frozen"]:
        if not (now["frozen"] and now["now"] == before["now"]):
            client.control("POST", "/_sandbox/clock", {"now": before["now"]})
        return
    offset = before["offset_seconds"] or 0.0
    if now["frozen"] or (now["offset_seconds"] or 0.0) != offset:
        client.control("POST", "/_sandbox/clock", {"offset_seconds": offset})


def _ignore_gone(call: Any, ident: str) -> None:
    try:
        call(ident)
    except SandboxError as exc:
        if exc.status != 404:
            raise
