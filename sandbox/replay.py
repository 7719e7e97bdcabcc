"""`sandbox replay`: run scenarios against an in-process sandbox (or a running one) and report.

`sandbox scenarios validate` only loads them and lists the problems with file and line.
"""

from __future__ import annotations

import asyncio
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from sandbox.app import catalog, create_app
from sandbox.config import Settings
from sandbox.control.replayer import Replayer, StepResult
from sandbox.core.scenarios.loader import Loaded, ScenarioError, load


async def run(loaded: Loaded, against: str | None = None) -> list[StepResult]:
    scenario = loaded.scenario
    runner = None
    if against is None:
        given: dict[str, Any] = {"seed": scenario.seed, "clock": scenario.clock}  # unset ones come from SANDBOX_*
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        against = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            scenario_id = await _prepare(session, against, loaded)
            try:
                return await Replayer(session, against, {"vars": scenario.vars}).run(loaded.steps)
            finally:
                if scenario_id:  # leave a shared sandbox as it was found
                    await session.delete(f"{against.rstrip('/')}/_sandbox/scenarios/{scenario_id}")
    finally:
        if runner is not None:
            await runner.cleanup()


async def _prepare(session: aiohttp.ClientSession, base: str, loaded: Loaded) -> str | None:
    """The scenario's clock, webhook endpoints and rules; returns the id its rules were loaded as."""
    scenario = loaded.scenario
    calls = [("POST", "/_sandbox/webhook-endpoints", hook.model_dump(exclude_none=True)) for hook in scenario.webhooks]
    if scenario.rules:
        rules = [rule.model_dump(exclude_none=True) for rule in scenario.rules]
        calls.append(("POST", "/_sandbox/scenarios", {"name": scenario.name, "rules": rules}))
    if scenario.clock:
        calls.insert(0, ("POST", "/_sandbox/clock", {"now": scenario.clock}))
    scenario_id = None
    for method, path, body in calls:
        async with session.request(method, base.rstrip("/") + path, json=body) as resp:
            if resp.status >= 400:
                raise SetupError(f"{method} {path} answered {resp.status}: {await resp.text()}")
            if path == "/_sandbox/scenarios":
                scenario_id = (await resp.json())["id"]
    return scenario_id


class SetupError(Exception):
    """The sandbox refused a set-up call (the scenario's clock or webhook endpoints)."""


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


def replay_files(paths: list[str], against: str | None, junit_path: str | None, out: TextIO = sys.stdout) -> int:
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
        try:
            results = asyncio.run(run(loaded, against))
        except (SetupError, aiohttp.ClientError, OSError) as exc:
            results = [StepResult("set-up", False, [f"cannot prepare the sandbox: {exc}"])]
        ok = report(f"{loaded.scenario.name} ({path})", results, out) and ok
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
