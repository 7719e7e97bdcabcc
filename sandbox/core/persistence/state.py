"""The runtime's state as keys and values, both ways: what changed (into the journal) and what a
backend holds (back into the runtime).

| key | value |
|---|---|
| `o[provider, tenant, kind, id]` | a provider's object |
| `e[provider, tenant, type, id]` | an event |
| `i[scope...]` | a finished idempotency key: (fingerprint, expires at, response) |
| `d[id]` | a webhook delivery, its event and attempts |
| `w[id]` | a webhook endpoint and its secrets |
| `t[due, provider, tenant, kind, id]` | a scheduled transition |
| `c[]` | the clock: (frozen at, offset) |
| `s[owner, tenant, namespace]` | an id stream's state |
| `r[id]` | a loaded scenario: (name, tenant, rules, fired) |
| `p[scenario, provider, tenant]` | a scenario's probability stream |

Objects are changed in place by handlers, so the store notes what it handed out and the journal
writes back those whose bytes changed. The rest record their own changes as they happen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.core.events import Event
from sandbox.core.idempotency import Entry, Scope
from sandbox.core.persistence.journal import Change, Journal, from_bytes, key_parts, state_key, to_bytes
from sandbox.core.runtime import Runtime
from sandbox.core.scenarios.rules import LoadedRules, Rule
from sandbox.core.scheduler import Timer
from sandbox.core.store import Space, TrackedStore


class StateSync:
    """Wires a runtime's parts to a journal, and applies a backend's keys to the runtime."""

    def __init__(self, runtime: Runtime, journal: Journal) -> None:
        if not isinstance(runtime.store, TrackedStore):
            raise TypeError("a durable runtime is built with a TrackedStore (CoreSettings.store)")
        self.rt, self.journal, self.store = runtime, journal, runtime.store
        self._digests: dict[tuple[Space, str, str], int] = {}  # what each object's bytes were when last written
        rt = runtime
        rt.ids.touched = set()
        rt.endpoints.touched = set()
        rt.outbox.touched = set()
        rt.rules.touched, rt.rules.touched_streams = set(), set()
        rt.events.subscribe(self._event)
        rt.events.on_drop = lambda event: journal.delete(_event_key(event))
        rt.idempotency.watcher = self
        rt.scheduler.on_change = self._timer
        rt.clock.subscribe(lambda: journal.put("c", rt.clock.state()))
        journal.add_source(self._collect)

    # -- into the journal -------------------------------------------------------------------

    def _event(self, event: Event) -> None:
        self.journal.put(_event_key(event), event)

    def saved(self, scope: Scope, entry: Entry) -> None:
        self.journal.put(state_key("i", *scope), (entry.fingerprint, entry.expires_at, entry.response))

    def forgotten(self, scope: Scope) -> None:
        self.journal.delete(state_key("i", *scope))

    def _timer(self, timer: Timer, live: bool) -> None:
        key = state_key("t", *timer.key)
        if live:
            self.journal.put(key, True)
        else:
            self.journal.delete(key)

    def _collect(self, journal: Journal) -> None:
        rt = self.rt
        for ref in self.store.take_touched():
            self._object(journal, ref)
        for key in _drain(rt.ids.touched):
            journal.put(state_key("s", *key), rt.ids.state_of(key))
        for endpoint_id in _drain(rt.endpoints.touched):
            endpoint = rt.endpoints.peek(endpoint_id)
            journal.put(state_key("w", endpoint_id), endpoint) if endpoint else journal.delete(state_key("w", endpoint_id))
        for delivery_id in _drain(rt.outbox.touched):
            delivery = rt.outbox.get(delivery_id)
            journal.put(state_key("d", delivery_id), delivery) if delivery else journal.delete(state_key("d", delivery_id))
        for scenario_id in _drain(rt.rules.touched):
            loaded = rt.rules.get(scenario_id)
            journal.put(state_key("r", scenario_id), _rules_record(loaded)) if loaded else journal.delete(state_key("r", scenario_id))
        for key in _drain(rt.rules.touched_streams):
            journal.put(state_key("p", *key), rt.rules.stream_state(key))

    def _object(self, journal: Journal, ref: tuple[Space, str, str]) -> None:
        space, kind, obj_id = ref
        key = state_key("o", space.provider, space.tenant, kind, obj_id)
        obj = self.store.peek(space, kind, obj_id)
        if obj is None:
            if self._digests.pop(ref, None) is not None:
                journal.delete(key)
            return
        data = to_bytes(obj)
        digest = hash(data)
        if self._digests.get(ref) != digest:
            self._digests[ref] = digest
            journal.put_bytes(key, data)

    def everything(self) -> None:
        """Journal the whole state: the first commit of a new backend."""
        rt = self.rt
        self.store.touched.update(self.store.spaces())
        for event in rt.events.all():
            self._event(event)
        for scope, entry in rt.idempotency.items():
            self.saved(scope, entry)
        for timer in rt.scheduler.timers():
            self._timer(timer, True)
        self.journal.put("c", rt.clock.state())
        self._touch_all()

    def _touch_all(self) -> None:
        rt = self.rt
        _add(rt.ids.touched, rt.ids.keys())
        _add(rt.endpoints.touched, (e.id for e in rt.endpoints.all()))
        _add(rt.outbox.touched, (d.id for d in rt.outbox.all()))
        _add(rt.rules.touched, (s.id for s in rt.rules.all()))
        _add(rt.rules.touched_streams, rt.rules.stream_keys())

    def keys(self) -> set[str]:
        """Every key the state holds now (for the deletions a reset makes)."""
        rt = self.rt
        keys = {state_key("o", s.provider, s.tenant, kind, obj_id) for s, kind, obj_id in self.store.spaces()}
        keys.update(_event_key(event) for event in rt.events.all())
        keys.update(state_key("i", *scope) for scope, _ in rt.idempotency.items())
        keys.update(state_key("t", *timer.key) for timer in rt.scheduler.timers())
        keys.update(state_key("s", *key) for key in rt.ids.keys())
        keys.update(state_key("d", d.id) for d in rt.outbox.all())
        keys.update(state_key("p", *key) for key in rt.rules.stream_keys())
        return keys

    def forget_missing(self, before: set[str]) -> None:
        """After a reset: delete what is gone, and forget the digests of objects no longer held."""
        for key in before - self.keys():
            self.journal.delete(key)
        held = set(self.store.spaces())
        self._digests = {ref: digest for ref, digest in self._digests.items() if ref in held}

    # -- back into the runtime --------------------------------------------------------------

    def apply(self, changes: Iterable[Change]) -> None:
        """Put keys into the runtime, as a backend (or another process) holds them."""
        with self.journal.muted():
            for key, data in changes:
                kind, parts = key_parts(key)
                _APPLY[kind](self, parts, None if data is None else from_bytes(data))
        self.rt.scheduler.wake()

    def reload(self, changes: Iterable[Change]) -> None:
        """Replace the whole state with a backend's (a process that fell too far behind)."""
        rt = self.rt
        with self.journal.muted():
            rt.reset()
            for endpoint in rt.endpoints.all():
                rt.endpoints.restore(endpoint.id, None)
            for loaded in rt.rules.all():
                rt.rules.restore(loaded.id, None)
        self._digests.clear()
        self.apply(changes)
        for touched in (rt.ids.touched, rt.endpoints.touched, rt.outbox.touched, rt.rules.touched, rt.rules.touched_streams):
            if touched is not None:
                touched.clear()
        self.store.take_touched()

    def _apply_object(self, parts: list[Any], obj: Any) -> None:
        provider, tenant, kind, obj_id = parts
        space = Space(provider, tenant)
        ref = (space, kind, obj_id)
        if obj is None:
            super(TrackedStore, self.store).delete(space, kind, obj_id)
            self._digests.pop(ref, None)
        else:
            super(TrackedStore, self.store).put(space, kind, obj_id, obj)
            self._digests[ref] = hash(to_bytes(obj))

    def _apply_event(self, parts: list[Any], event: Event | None) -> None:
        if event is not None:
            self.rt.events.restore(event)
        else:
            provider, tenant, type_, event_id = parts
            self.rt.events.remove(Event(event_id, provider, tenant, type_, "", "", {}))

    def _apply_key(self, parts: list[Any], value: Any) -> None:
        fingerprint, expires_at, response = value if value is not None else ("", 0.0, None)
        self.rt.idempotency.restore(tuple(parts), fingerprint, expires_at, response)

    def _apply_delivery(self, parts: list[Any], delivery: Any) -> None:
        if delivery is None:
            self.rt.outbox.remove(parts[0])
        else:
            self.rt.outbox.restore(delivery)

    def _apply_endpoint(self, parts: list[Any], endpoint: Any) -> None:
        self.rt.endpoints.restore(parts[0], endpoint)

    def _apply_timer(self, parts: list[Any], value: Any) -> None:
        due, provider, tenant, kind, obj_id = parts
        if value is None:
            self.rt.scheduler.cancel((due, provider, tenant, kind, obj_id))
        else:
            self.rt.scheduler.restore(due, provider, tenant, kind, obj_id)

    def _apply_clock(self, parts: list[Any], state: Any) -> None:
        if state is not None:
            self.rt.clock.restore(state)

    def _apply_stream(self, parts: list[Any], state: Any) -> None:
        self.rt.ids.restore((parts[0], parts[1], parts[2]), state)

    def _apply_rules(self, parts: list[Any], record: Any) -> None:
        if record is None:
            self.rt.rules.restore(parts[0], None)
            return
        name, tenant, rules, fired = record
        context = {"catalog": self.rt.catalog()}
        parsed = [Rule.model_validate(rule, context=context) for rule in rules]
        self.rt.rules.restore(parts[0], LoadedRules(parts[0], name, tenant, parsed, list(fired)))

    def _apply_rule_stream(self, parts: list[Any], state: Any) -> None:
        self.rt.rules.restore_stream((parts[0], parts[1], parts[2]), state)


_APPLY = {
    "o": StateSync._apply_object, "e": StateSync._apply_event, "i": StateSync._apply_key, "d": StateSync._apply_delivery,
    "w": StateSync._apply_endpoint, "t": StateSync._apply_timer, "c": StateSync._apply_clock, "s": StateSync._apply_stream,
    "r": StateSync._apply_rules, "p": StateSync._apply_rule_stream,
}


def _event_key(event: Event) -> str:
    return state_key("e", event.provider, event.tenant, event.type, event.id)


def _rules_record(loaded: LoadedRules) -> tuple[str, str | None, list[dict[str, Any]], list[int]]:
    rules = [rule.model_dump(exclude_defaults=True) for rule in loaded.rules]
    return loaded.name, loaded.tenant, rules, list(loaded.fired)


def _drain(touched: set[Any] | None) -> list[Any]:
    if not touched:
        return []
    drained = list(touched)
    touched.clear()
    return drained


def _add(touched: set[Any] | None, keys: Iterable[Any]) -> None:
    if touched is not None:
        touched.update(keys)
