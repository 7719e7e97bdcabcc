"""Record the requests a sandbox serves as a replayable scenario (`--record`).

Ids that answers hand out become `${step.path}` references in later requests, so the
recording replays on a fresh sandbox whatever ids it produces. Each step expects the status
it got, and the object's `status` / `phase` when the answer has one.

Rules loaded while it records are part of what it recorded: those loaded before its first
step (before it started, too) become the scenario's `rules` (with `tenant` when they were
loaded for one); a set loaded later, or for another tenant, becomes a step that loads it where
it was loaded, so that earlier steps replay without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

ID_KEY = re.compile(r"(^id$|Id$|_id$)")
STATE_KEYS = ("status", "phase")
# A recording left on under load must not grow without bound, nor take long to write out.
MAX_STEPS = 5_000
MAX_BYTES = 4 * 1024 * 1024  # request and answer bodies, as received
MAX_DEPTH = 64  # deeper bodies were refused anyway and YAML would not write them


@dataclass(slots=True)
class Recorder:
    name: str
    seed: int
    clock: str | None
    kept_headers: frozenset[str] = frozenset({"idempotency-key"})  # lower case; each provider adds its credentials
    steps: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)  # the scenario's `rules`
    tenant: str | None = None  # the tenant `rules` were loaded for
    _refs: dict[str, str] = field(default_factory=dict)  # id value -> ${step.path}
    _rule_sets: set[str] = field(default_factory=set)  # ids of the loaded rule sets already taken in
    _scoped: bool = False  # `rules` and `tenant` are settled
    size: int = 0  # bytes of the bodies recorded so far
    stopped: str | None = None  # why later requests are no longer recorded

    def knows_rules(self, set_id: str) -> bool:
        return set_id in self._rule_sets

    def loads_in_a_step(self, set_id: str) -> bool:
        """Whether a step of the recording loads this rule set (so that unloading it is a step too)."""
        return set_id in self._rule_sets and set_id in self._refs

    def rules_loaded(self, set_id: str, name: str, tenant: str | None, rules: list[dict[str, Any]], fired: list[int]) -> None:
        """A set of rules loaded into the sandbox (`fired`: how often each rule fired so far)."""
        if set_id in self._rule_sets:
            return
        self._rule_sets.add(set_id)
        left = []
        for rule, count in zip(rules, fired, strict=True):
            rule = {k: v for k, v in rule.items() if v != {}}  # an empty `when` says nothing
            if rule.get("times") is not None:
                if count >= rule["times"]:
                    continue  # used up before the recording: it changes nothing that follows
                rule["times"] -= count
            left.append(rule)
        if not left:
            return
        if not self.steps and (not self._scoped or tenant == self.tenant):
            self.rules += left
            self.tenant, self._scoped = tenant, True
            return
        path = "/_sandbox/scenarios" + (f"?tenant={quote(tenant, safe='')}" if tenant else "")
        self.request("POST", path, {}, {"name": name, "rules": left}, 201, {"id": set_id})

    def request(
        self, method: str, path: str, headers: dict[str, str], body: Any, status: int, answer: Any, size: int = 0,
    ) -> None:
        if self._full(size) or _depth(body) > MAX_DEPTH or _depth(answer) > MAX_DEPTH:
            return
        name = f"s{len(self.steps) + 1}"
        request: dict[str, Any] = {"method": method, "path": self._refer(path)}
        kept = {k: v for k, v in headers.items() if k.lower() in self.kept_headers}
        if kept:
            request["headers"] = self._refer(kept)
        if body is not None:
            request["body"] = self._refer(body)
        expect: dict[str, Any] = {"status": status}
        if isinstance(answer, dict):
            state = {k: answer[k] for k in STATE_KEYS if isinstance(answer.get(k), str)}
            if state:
                expect["body"] = state
        self.steps.append({"name": name, "request": request, "expect": expect})
        self._learn(name, answer, [])

    def forget_ids(self) -> None:
        self._refs.clear()

    def advance_clock(self, seconds: float) -> None:
        if len(self.steps) < MAX_STEPS:
            self.steps.append({"advance_clock": {"seconds": seconds}})

    def _full(self, size: int) -> bool:
        if self.stopped is None and len(self.steps) >= MAX_STEPS:
            self.stopped = f"stopped at {MAX_STEPS} steps"
        if self.stopped is None and self.size + size > MAX_BYTES:
            self.stopped = f"stopped at {MAX_BYTES // (1024 * 1024)} MiB of bodies"
        if self.stopped is None:
            self.size += size
        return self.stopped is not None

    def to_yaml(self) -> str:
        return dump(self.document())

    def document(self) -> dict[str, Any]:
        """The recording as it stands, copied so that it can be written out while recording goes on."""
        description = "Recorded by sandbox serve --record" + (f" ({self.stopped})" if self.stopped else "")
        document: dict[str, Any] = {"name": self.name, "description": description, "seed": self.seed}
        if self.clock:
            document["clock"] = self.clock
        if self.tenant:
            document["tenant"] = self.tenant
        if self.rules:
            document["rules"] = self.rules
        document["steps"] = list(self.steps)
        return document

    def _learn(self, name: str, value: Any, path: list[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and ID_KEY.search(key) and len(item) >= 8 and item not in self._refs:
                    self._refs[item] = "${" + ".".join([name, *path, key]) + "}"
                else:
                    self._learn(name, item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value[:50]):
                self._learn(name, item, [*path, str(index)])

    def _refer(self, value: Any) -> Any:
        if isinstance(value, str):
            for known, ref in self._refs.items():
                if known in value:
                    value = ref if value == known else value.replace(known, ref)
            return value
        if isinstance(value, dict):
            return {k: self._refer(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._refer(v) for v in value]
        return value


def dump(document: dict[str, Any]) -> str:
    import yaml  # ~10 ms to import: paid by the first scenario written, not by every start

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deeply `value` nests, counted up to `limit` (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
