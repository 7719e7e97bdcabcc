"""Replay a scenario's steps against a sandbox and check every expectation.

Steps run in order. A request step may refer to earlier answers with `${step.field.sub}`
(`${create.id}`), to `${vars.name}`, `${run.id}`, `${tokens.name}`, `${webhooks.0.id}` and to
realistic fake data (`${fake.email}`); a string that is only a reference keeps the value's
type. Expectations compare the status, headers and a subset of the JSON body, and each
failure reads `body.status: expected 'needs_approval', got 'approved'`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from sandbox.core.scenarios.model import FAKE_KINDS, REFERENCE, ClockStep, RequestStep, Step, WebhookStep

MISSING = object()
# Objects a step may create on a shared sandbox that the run removes when it ends (path -> DELETE path/{id}).
CREATED = ("/_sandbox/webhook-endpoints", "/_sandbox/scenarios")
# `${tokens.name}`: signed with this key; a sandbox that checks signatures needs a real token in `vars` instead.
TOKEN_KEY = "sandbox-does-not-check-this-signature"


def mint(claims: dict[str, Any]) -> str:
    """A JWT (HS256) carrying `claims`, for providers whose credentials are tokens."""
    return jwt.encode(claims, TOKEN_KEY, algorithm="HS256")


GENERATORS: dict[str, Callable[[Any], str]] = {
    "name": lambda f: f.name(),
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "email": lambda f: f.safe_email(),  # example.com / .org / .net: never a real mailbox
    "phone": lambda f: "+1" + f.numerify("%##%######"),  # E.164, as most APIs want it
    "company": lambda f: f.company(),
    "address": lambda f: f.street_address(),  # one line: "1620 Jimmy Fork Suite 287"
    "city": lambda f: f.city(),
    "state": lambda f: f.state_abbr(),
    "postal_code": lambda f: f.postcode(),
    "country_code": lambda f: f.country_code(),
    "uuid": lambda f: f.uuid4(),
}
assert set(GENERATORS) == set(FAKE_KINDS), "every fake kind the format declares has a generator"


class Fakes:
    """`${fake.kind}` and `${fake.kind.label}`: Faker values (en_US) seeded from the scenario's seed.

    Each value is drawn from its own stream, `seed:kind:label`, so the same reference gives the
    same value wherever it appears in a run, and in every run; another label gives another value.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._faker: Any = None
        self._values: dict[tuple[str, str], str] = {}

    def value(self, kind: str, label: str = "") -> str:
        if kind not in GENERATORS:
            raise LookupError(f"unknown fake value {kind!r}; one of: {', '.join(GENERATORS)}")
        key = (kind, label)
        if key not in self._values:
            if self._faker is None:
                from faker import Faker  # imported on first use: most scenarios need none

                self._faker = Faker("en_US")
            self._faker.seed_instance(f"{self.seed}:{kind}:{label}")
            self._values[key] = str(GENERATORS[kind](self._faker))
        return self._values[key]


@dataclass(slots=True)
class StepResult:
    name: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""


class Replayer:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, known: dict[str, Any] | None = None, fakes: Fakes | None = None,
    ) -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.answers: dict[str, Any] = dict(known or {})  # named answers, and `vars`, `run`, `tokens`, `webhooks`
        self.fakes = fakes or Fakes(0)
        self.created: list[str] = []  # what the run made on the sandbox, to DELETE when it ends (newest last)

    async def run(self, steps: list[Step]) -> list[StepResult]:
        results = []
        for index, step in enumerate(steps):
            started = time.perf_counter()
            name = step.name or f"step {index + 1}"
            try:
                result = await self._run(name, step)
            except (aiohttp.ClientError, TimeoutError, LookupError, ValueError) as exc:
                result = StepResult(name, False, [f"{type(exc).__name__}: {exc}"])
            result.seconds = time.perf_counter() - started
            results.append(result)
        return results

    async def _run(self, name: str, step: Step) -> StepResult:
        if isinstance(step, RequestStep):
            return await self._request(name, step)
        if isinstance(step, ClockStep):
            await self._call("POST", "/_sandbox/clock/advance", {"seconds": step.advance_clock.seconds})
            return StepResult(name, True, detail=f"clock advanced {step.advance_clock.seconds:g} s")
        assert isinstance(step, WebhookStep)
        return await self._webhook(name, step)

    async def _request(self, name: str, step: RequestStep) -> StepResult:
        req = step.request
        path, headers, body = self._resolve(req.path), self._resolve(req.headers), self._resolve(req.body)
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        async with self.session.request(req.method, self.base + path, **kwargs) as resp:
            text = await resp.text()
            payload = _json(text, resp.content_type)
            self.answers[name] = payload
            self._note_created(req.method, path, resp.status, payload)
            problems = _check(step.expect, self._resolve, resp.status, resp.headers, payload)
        return StepResult(name, not problems, problems, detail=f"{req.method} {path} -> {resp.status}")

    def _note_created(self, method: str, path: str, status: int, payload: Any) -> None:
        """A step that registered a webhook endpoint or loaded rules: the run removes it at the end."""
        route = path.partition("?")[0].rstrip("/")
        if method == "POST" and status == 201 and route in CREATED and isinstance(payload, dict) and isinstance(payload.get("id"), str):
            self.created.append(f"{route}/{payload['id']}")

    async def _webhook(self, name: str, step: WebhookStep) -> StepResult:
        wanted = step.expect_webhook
        await self._call("POST", "/_sandbox/webhooks/flush?timeout=10")
        query = {"provider": wanted.provider, "type": wanted.type}
        if wanted.object_id:
            query["object_id"] = self._resolve(wanted.object_id)
        events = (await self._call("GET", "/_sandbox/events", params=query))["data"]
        if not events:
            where = f" for {query['object_id']}" if wanted.object_id else ""
            return StepResult(name, False, [f"no {wanted.provider} event {wanted.type!r} was recorded{where}"])
        return StepResult(name, True, detail=f"{len(events)} {wanted.type} event(s)")

    async def _call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        async with self.session.request(method, self.base + path, json=json, params=params) as resp:
            if resp.status >= 400 and resp.status != 504:
                raise ValueError(f"{method} {path} answered {resp.status}: {await resp.text()}")
            return await resp.json()

    def resolve(self, value: Any) -> Any:
        """`value` with every reference filled in (LookupError when one cannot be)."""
        return self._resolve(value)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = REFERENCE.fullmatch(value)
            if whole:
                return self._lookup(whole)
            return REFERENCE.sub(lambda m: str(self._lookup(m)), value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        return value

    def _lookup(self, match: re.Match) -> Any:
        step, path = match.group(1), [p for p in match.group(2).split(".") if p]
        if step == "fake":
            if not 1 <= len(path) <= 2:
                raise LookupError(f"{match.group(0)}: write ${{fake.kind}} or ${{fake.kind.label}}")
            return self.fakes.value(path[0], path[1] if len(path) == 2 else "")
        if step not in self.answers:
            raise LookupError(f"{match.group(0)} refers to no earlier named request step {step!r}")
        value = self.answers[step]
        for part in path:
            value = _child(value, part)
            if value is MISSING:
                owner = "vars" if step == "vars" else f"the answer of {step!r}"
                raise LookupError(f"{match.group(0)}: {owner} has no {'.'.join(path)!r}")
        return value


def _child(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, MISSING)
    if isinstance(value, list) and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    return MISSING


def _json(text: str, content_type: str) -> Any:
    if "json" not in content_type:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _check(expect, resolve, status: int, headers, payload: Any) -> list[str]:
    """Differences from the expectation; references in it are filled in first."""
    if expect is None:
        return []
    problems = []
    if expect.status is not None and expect.status != status:
        answer = json.dumps(payload)[:300] if not isinstance(payload, str) else payload[:300]
        problems.append(f"status: expected {expect.status}, got {status} (answer: {answer})")
    for header, wanted in resolve(expect.headers).items():
        if headers.get(header) != wanted:
            problems.append(f"header {header}: expected {wanted!r}, got {headers.get(header)!r}")
    if expect.body is not None:
        problems += subset_diff(resolve(expect.body), payload, "body")
    return problems


def subset_diff(expected: Any, actual: Any, where: str) -> list[str]:
    """What in `actual` differs from `expected`, where `expected` may leave keys out."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: expected {value!r}, but it is missing")
            else:
                problems += subset_diff(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {actual!r}"]
        return [p for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for p in subset_diff(e, a, f"{where}.{i}")]
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]
