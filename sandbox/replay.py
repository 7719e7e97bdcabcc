"""`sandbox replay`: run scenarios against an in-process sandbox (or a running one) and report.

`sandbox scenarios validate` only loads them and lists the problems with file and line.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import aiohttp
from aiohttp import web
from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType
from yarl import URL

from sandbox.app import catalog, create_app
from sandbox.config import Settings
from sandbox.control.replayer import Fakes, Replayer, StepResult, mint
from sandbox.core.scenarios.loader import Loaded, ScenarioError, load
from sandbox.core.scenarios.model import Scenario
from sandbox.core.security import TOKEN_HEADER


def new_run_id(scenario: Scenario, shared: bool) -> str:
    """`${run.id}`: 8 lower-case hex characters, new for every run against a shared sandbox.

    In-process (a fresh sandbox) with a `seed`, it is drawn from the seed, so the run repeats
    exactly: tenants named after it keep the same ids.
    """
    if not shared and scenario.seed is not None:
        return hashlib.sha256(f"run:{scenario.seed}:{scenario.name}".encode()).hexdigest()[:8]
    return secrets.token_hex(4)


async def run(
    loaded: Loaded, against: str | None = None, run_id: str | None = None, admin_token: str | None = None,
) -> list[StepResult]:
    """Replay one scenario. Against a shared sandbox (`against`), the run leaves it as it found it:
    its rules unloaded, the webhook endpoints it registered removed, the clock restored.

    `admin_token` (default SANDBOX_ADMIN_TOKEN) goes with every control-plane call to the sandbox."""
    scenario = loaded.scenario
    shared = against is not None
    run_id = run_id or new_run_id(scenario, shared)
    runner = None
    if against is None:
        given: dict[str, Any] = {"seed": scenario.seed, "clock": scenario.clock}  # unset ones come from SANDBOX_*
        settings = Settings(**{name: value for name, value in given.items() if value is not None}, record=None)
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        against = f"http://{host}:{port}"
    try:
        token = admin_token or os.environ.get("SANDBOX_ADMIN_TOKEN", "").strip() or None
        middlewares = (_with_admin_token(against, token),) if token else ()
        async with aiohttp.ClientSession(middlewares=middlewares) as session:
            replayer = Replayer(session, against, fakes=Fakes(scenario.seed or 0))
            clock = await _clock(session, replayer.base) if shared else None
            untidy: list[str] = []
            try:
                await _prepare(replayer, loaded, run_id)
                results = await replayer.run(loaded.steps)
            finally:
                if shared:
                    untidy = await _tidy(replayer, clock)
            if untidy:  # the steps passed or not, the sandbox was not left as it was found
                results.append(StepResult("tidy-up", False, untidy, detail="leave the sandbox as it was found"))
            return results
    finally:
        if runner is not None:
            await runner.cleanup()


def _with_admin_token(base: str, token: str) -> ClientMiddlewareType:
    """Adds the admin token to calls under /_sandbox/ of the sandbox at `base`, and to nothing else."""
    origin = URL(base).origin()

    async def add_token(request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        if request.url.origin() == origin and request.url.path.startswith("/_sandbox"):
            request.headers.setdefault(TOKEN_HEADER, token)
        return await handler(request)

    return add_token


async def _prepare(replayer: Replayer, loaded: Loaded, run_id: str) -> None:
    """Fills in `run`, `tokens` and `vars`, then sets the scenario's clock, registers its webhook
    endpoints and loads its rules (for its `tenant` only, when it names one)."""
    scenario = loaded.scenario
    known = replayer.answers
    try:
        known["run"] = {"id": run_id}
        known["tokens"] = {name: mint(replayer.resolve(claims)) for name, claims in scenario.tokens.items()}
        known["vars"] = {}
        for name, value in scenario.vars.items():  # in order: a var may use the ones above it
            known["vars"][name] = replayer.resolve(value)
        known["webhooks"] = []
        hooks = [replayer.resolve(hook.model_dump(exclude_none=True)) for hook in scenario.webhooks]
        tenant = replayer.resolve(scenario.tenant)
    except (LookupError, ValueError) as exc:
        raise SetupError(str(exc)) from None
    if scenario.clock:
        await _setup_call(replayer, "/_sandbox/clock", {"now": scenario.clock})
    for hook in hooks:
        endpoint = await _setup_call(replayer, "/_sandbox/webhook-endpoints", hook)
        known["webhooks"].append(endpoint)
        replayer.created.append(f"/_sandbox/webhook-endpoints/{endpoint['id']}")
    try:  # rules may name the endpoints just registered (`endpoint.id: "${webhooks.0.id}"`)
        rules = [replayer.resolve(rule.model_dump(exclude_none=True)) for rule in scenario.rules]
    except (LookupError, ValueError) as exc:
        raise SetupError(str(exc)) from None
    if rules:
        query = f"?tenant={quote(str(tenant), safe='')}" if tenant else ""
        loaded_rules = await _setup_call(replayer, "/_sandbox/scenarios" + query, {"name": scenario.name, "rules": rules})
        replayer.created.append(f"/_sandbox/scenarios/{loaded_rules['id']}")


async def _setup_call(replayer: Replayer, path: str, body: Any) -> Any:
    async with replayer.session.post(replayer.base + path, json=body) as resp:
        if resp.status >= 400:
            raise SetupError(f"POST {path} answered {resp.status}: {await resp.text()}")
        return await resp.json()


async def _clock(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """The shared sandbox's clock, when it was read (the middle of the call, on this machine's
    monotonic clock) and how long the call took."""
    sent = time.monotonic()
    async with session.get(base + "/_sandbox/clock") as resp:
        if resp.status != 200:
            raise SetupError(f"GET /_sandbox/clock answered {resp.status}: {await resp.text()}")
        answer = await resp.json()
    back = time.monotonic()
    return {**answer, "read_at": (sent + back) / 2, "round_trip": back - sent}


async def _tidy(replayer: Replayer, found: dict[str, Any] | None) -> list[str]:
    """Leave a shared sandbox as the run found it: unload the rules and remove the webhook
    endpoints the run made (newest first), then put the clock back. Returns what it could not do.

    A frozen clock goes back to its instant; a running one to where it would be had the run not
    moved it (its instant then, plus the time the run took), running again.
    """
    session, base = replayer.session, replayer.base
    problems = []
    try:
        for path in reversed(replayer.created):
            async with session.delete(base + path) as resp:
                if resp.status not in (204, 404):  # 404: a step removed it already
                    problems.append(f"DELETE {path} answered {resp.status}: {(await resp.text())[:300]}")
        if found is None:
            return problems
        now = await _clock(session, base)
        if found["frozen"]:
            if now["frozen"] and now["now"] == found["now"]:
                return problems
            restore: dict[str, Any] = {"now": found["now"]}
        else:
            if not now["frozen"] and now["offset_seconds"] == found["offset_seconds"]:
                return problems
            restore = {"offset_seconds": found["offset_seconds"] or 0.0}  # running again, exactly as it was
        async with session.post(base + "/_sandbox/clock", json=restore) as resp:
            if resp.status != 200:
                problems.append(f"POST /_sandbox/clock answered {resp.status}: {(await resp.text())[:300]}")
    except (SetupError, aiohttp.ClientError, OSError) as exc:
        problems.append(f"cannot reach the sandbox to tidy up: {exc}")
    return problems


class SetupError(Exception):
    """The sandbox refused a set-up call (the scenario's clock, webhook endpoints or rules), or a
    reference in `vars`, `tokens`, `webhooks`, `tenant` or `rules` could not be filled in."""


def report(name: str, results: list[StepResult], out: TextIO) -> bool:
    passed = all(r.passed for r in results)
    print(f"{'PASS' if passed else 'FAIL'} {name}", file=out)
    for result in results:
        print(f"  {'ok  ' if result.passed else 'FAIL'} {result.name}: {result.detail}".rstrip(": "), file=out)
        for problem in result.problems:
            print(f"         {problem}", file=out)
    failed = sum(not r.passed for r in results)
    print(f"  {len(results) - failed} passed, {failed} failed", file=out)
    return passed


def junit(runs: list[tuple[str, list[StepResult]]]) -> bytes:
    suites = ET.Element("testsuites")
    for name, results in runs:
        suite = ET.SubElement(
            suites, "testsuite", name=name, tests=str(len(results)), failures=str(sum(not r.passed for r in results)),
        )
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=name, name=result.name, time=f"{result.seconds:.3f}")
            if not result.passed:
                message = result.problems[0] if result.problems else "failed"
                ET.SubElement(case, "failure", message=message).text = "\n".join(result.problems)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def unwritable(path: str, make_parents: bool = False) -> str | None:
    """Why `path` cannot be written (None when it can), checked by opening it for appending.

    A file this check creates is removed again; `make_parents` first creates missing directories.
    """
    target = Path(path)
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        with target.open("ab"):
            pass
        if not existed:
            target.unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def replay_files(
    paths: list[str], against: str | None, junit_path: str | None, out: TextIO = sys.stdout, *, admin_token: str | None = None,
) -> int:
    """Exit status: 0 when every expectation held, 1 when one did not, 2 when the report cannot be
    written, 130 when interrupted (Ctrl-C)."""
    if junit_path:
        problem = unwritable(junit_path, make_parents=True)
        if problem:
            print(f"sandbox: --junit {junit_path}: cannot write: {problem}", file=sys.stderr)
            return 2
    runs: list[tuple[str, list[StepResult]]] = []
    ok = True
    for path in paths:
        try:
            loaded = load(path, catalog())
        except (ScenarioError, OSError) as exc:
            print(f"FAIL {path}: cannot load\n{exc}", file=out)
            runs.append((path, [StepResult("load", False, [str(exc)])]))
            ok = False
            continue
        run_id = new_run_id(loaded.scenario, against is not None)
        try:
            results = asyncio.run(run(loaded, against, run_id, admin_token))
        except (SetupError, aiohttp.ClientError, OSError) as exc:
            results = [StepResult("set-up", False, [f"cannot prepare the sandbox: {exc}"])]
        except KeyboardInterrupt:  # the run has tidied up on its way out
            print(f"INTERRUPTED {loaded.scenario.name} ({path})", file=out)
            return 130
        where = f"{path}, run {run_id}" if against is not None else path
        ok = report(f"{loaded.scenario.name} ({where})", results, out) and ok
        runs.append((loaded.scenario.name, results))
    if junit_path:
        Path(junit_path).write_bytes(junit(runs))
    return 0 if ok else 1


def validate_files(paths: list[str], out: TextIO = sys.stdout) -> int:
    ok = True
    for path in paths:
        try:
            loaded = load(path, catalog())
            print(f"ok   {path}: {loaded.scenario.name} ({len(loaded.steps)} steps)", file=out)
        except ScenarioError as exc:
            ok = False
            for problem in exc.problems:
                print(f"FAIL {problem}", file=out)
        except OSError as exc:
            ok = False
            print(f"FAIL {path}: {exc.strerror or exc}", file=out)
    return 0 if ok else 1
