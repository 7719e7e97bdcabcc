"""The objects the sandbox holds, per provider and tenant, and each one's history.

- `GET /_sandbox/objects` lists them (each collection newest first), searchable by id. An object
  is shown as its provider's API shows it (`to_wire()`); a provider's own records (an index, a
  setting, a flag: values without `to_wire`) only with `internal=true`, as their `repr`.
- `GET /_sandbox/objects/{id}` is one object with its history: every event about it, newest first,
  each with its cause as far as the request log tells it.

Events do not carry their cause. It is read off the request log, whose entries carry the sandbox
clock's time when each answer was ready and how long it took: an event was caused by a request
being answered at that moment and naming the object (in its path, query or either body), or by a
clock advance spanning that moment. With a frozen clock several requests share one moment: then
the one whose answer the event carries as it is (the object as that request left it) is named,
when only one does, and otherwise every candidate is listed. No candidate while the log reaches
back that far: nothing was being answered, so a timer fell due on the sandbox clock (or, with a
shared store, another replica answered). Listing reads the store without marking anything for a
durable backend to write back.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from sandbox.control.errors import known_provider
from sandbox.control.models import ObjectQuery
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.clock import parse_instant
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.events import Event
from sandbox.core.openapi import OBJECT, ResponseDoc
from sandbox.core.requests import LoggedRequest, redact_text
from sandbox.core.runtime import Runtime
from sandbox.core.store import MemoryStore, Space, Store, TrackedStore

PATH = "/_sandbox/objects"
ADVANCE = "/_sandbox/clock/advance"
STATE_FIELDS = ("status", "phase", "state")  # what objects call their state on the wire
REPR_CHARS = 2000


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    def list_objects(call: Call) -> Reply:
        query = call.query(ObjectQuery)
        known_provider(rt, query.provider)
        store = listing(rt.store)
        wanted = query.q.lower() if query.q is not None else None
        data: list[dict[str, Any]] = []
        collections: list[dict[str, Any]] = []
        has_more = False
        for space, kind, held in store.collections():
            if query.provider not in (None, space.provider) or query.tenant not in (None, space.tenant):
                continue
            newest = next(store.browse(space, kind), None)
            internal = newest is not None and not _has_wire(newest[1])
            if not held or (internal and not query.internal):
                continue
            collections.append({"provider": space.provider, "tenant": space.tenant, "kind": kind, "count": held, "internal": internal})
            if query.kind not in (None, kind) or has_more:
                continue
            for obj_id, obj in store.browse(space, kind):
                if wanted is not None and wanted not in obj_id.lower():
                    continue
                if len(data) == query.limit:
                    has_more = True
                    break
                data.append(shown(space, kind, obj_id, obj))
        return Reply({"object": "list", "data": data, "has_more": has_more, "collections": collections})

    def one(call: Call) -> Reply:
        obj_id = call.param("id")
        store = listing(rt.store)
        found = [
            shown(space, kind, obj_id, obj)
            for space, kind, _ in store.collections()
            if (obj := _peek(store, space, kind, obj_id)) is not None
        ]
        events = rt.events.query(object_id=obj_id)
        if not found and not events:
            raise SandboxError(ErrorKind.NOT_FOUND, f"no object and no event with id {obj_id}", details={"id": obj_id})
        found.sort(key=lambda entry: entry["internal"])  # the API objects first
        history = [{**event.summary(), "cause": cause} for event, cause in zip(events, causes(rt, obj_id, events), strict=True)]
        return Reply({"object": "stored_object", "id": obj_id, "data": found, "events": history[::-1]})

    listed = (
        "{object: list, data: [{provider, tenant, kind, id, state, internal, object, repr}], has_more, "
        "collections: [{provider, tenant, kind, count, internal}]}"
    )
    return [
        api.route("GET", PATH, list_objects, query=ObjectQuery,
                  summary="The objects held, per provider, tenant and kind (each kind newest first), searchable by id",
                  responses={200: ResponseDoc(listed, schema=OBJECT), 400: "An unknown provider, or a bad query parameter"}),
        api.route("GET", PATH + "/{id}", one, summary="One object (every kind holding this id) and its history, newest first, with causes",
                  responses={200: ResponseDoc(
                      "{object: stored_object, id, data: [objects as listed], events: [event summary + cause: {kind, text, note, "
                      "request, candidates}]}", schema=OBJECT,
                  ), 404: "No object and no event has this id"}),
    ]


def listing(store: Store) -> MemoryStore:
    """The store as the listings read it (every backend keeps its objects in a `MemoryStore`)."""
    if not isinstance(store, MemoryStore):
        raise SandboxError(ErrorKind.INTERNAL, f"the control plane cannot list the objects of a {type(store).__name__}")
    return store


def shown(space: Space, kind: str, obj_id: str, obj: Any) -> dict[str, Any]:
    wire = _wire(obj)
    state = next((wire[name] for name in STATE_FIELDS if isinstance(wire, dict) and isinstance(wire.get(name), str)), None)
    return {
        "provider": space.provider, "tenant": space.tenant, "kind": kind, "id": obj_id, "state": state,
        "internal": wire is None, "object": wire, "repr": redact_text(repr(obj)[:REPR_CHARS]) if wire is None else None,
    }


def _has_wire(obj: Any) -> bool:
    return callable(getattr(obj, "to_wire", None))


def _wire(obj: Any) -> Any:
    """The object as its API shows it; None when it has no such form (or it cannot be made alone)."""
    if not _has_wire(obj):
        return None
    try:
        wire = obj.to_wire()
        orjson.dumps(wire)
    except Exception:  # noqa: BLE001 - a form that needs arguments, or cannot be written: shown as its repr
        return None
    return wire


def _peek(store: MemoryStore, space: Space, kind: str, obj_id: str) -> Any:
    """The object, not marked as handed out to a handler (which a durable backend would write back)."""
    return store.peek(space, kind, obj_id) if isinstance(store, TrackedStore) else store.get(space, kind, obj_id)


# -- causes ---------------------------------------------------------------------------------------


def causes(rt: Runtime, obj_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """The cause of each event (in the order of `events`), read off the request log."""
    log = rt.requests
    entries = log.query(limit=log.size) if log else []  # newest first
    if not entries:
        reason = "the request log is off (--request-log-size 0)" if not log else "the request log holds no request"
        return [_unknown(reason) for _ in events]
    earliest = entries[-1].at - entries[-1].duration
    needle = obj_id.encode()
    results: list[dict[str, Any]] = []
    for event in events:
        span = _span(event.occurred_at)
        if span is None:
            results.append(_unknown(f"its time {event.occurred_at!r} cannot be read"))
            continue
        found = [entry for entry in reversed(entries) if _during(entry, span) and (_advance(entry) is not None or _names(entry, needle))]
        found = [entry for entry in found if entry.method not in ("GET", "HEAD")] or found  # reads rarely change anything
        if not found:
            if span[1] < earliest:
                results.append(_unknown("the request log does not reach back to then"))
            else:
                elsewhere = " (or another replica answered a request)" if rt.settings.store else ""
                results.append({"kind": "clock", "text": f"no request was being answered: a timer fell due on the sandbox clock{elsewhere}",
                                "note": None, "request": None, "candidates": []})
            continue
        if len(found) == 1:
            results.append(_from_request(found[0], found))
            continue
        # Several at once (a frozen clock): the one whose answer the event carries, when only one does.
        carried = [entry for entry in found if _carries(event.payload, _answer(entry))]
        results.append(_from_request(carried[0] if len(carried) == 1 else None, found))
    return results


def _answer(entry: LoggedRequest) -> Any:
    """The answer's JSON object, when it was logged whole and is one (of a few fields at least)."""
    if not entry.response_body or len(entry.response_body) < entry.response_size:
        return None
    try:
        answer = orjson.loads(entry.response_body)
    except orjson.JSONDecodeError:
        return None
    return answer if isinstance(answer, dict) and len(answer) >= 3 else None


def _carries(payload: Any, answer: Any, depth: int = 0) -> bool:
    """Whether the event's payload holds the answer as it is (the object as the request left it)."""
    if answer is None or depth > 6:
        return False
    if payload == answer:
        return True
    if isinstance(payload, dict):
        return any(_carries(value, answer, depth + 1) for value in payload.values())
    if isinstance(payload, list):
        return any(_carries(value, answer, depth + 1) for value in payload)
    return False


def _unknown(reason: str) -> dict[str, Any]:
    return {"kind": "unknown", "text": f"not known: {reason}", "note": None, "request": None, "candidates": []}


def _from_request(chosen: LoggedRequest | None, found: list[LoggedRequest]) -> dict[str, Any]:
    listed = [_brief(entry) for entry in found]
    if chosen is None:
        kinds = {_kind(entry) for entry in found}
        return {"kind": kinds.pop() if len(kinds) == 1 else "request", "text": f"one of {len(found)} requests answered at that moment",
                "note": "the clock stood still across them, and the event does not carry the answer of only one", "request": None,
                "candidates": listed}
    brief = _brief(chosen)
    text = f"{brief['method']} {brief['path']} → {brief['status']} (request #{brief['seq']})"
    note = f"of the {len(found)} requests answered at that moment, the one whose answer the event carries" if len(found) > 1 else None
    return {"kind": _kind(chosen), "text": text, "note": note, "request": brief, "candidates": listed if len(found) > 1 else []}


def _brief(entry: LoggedRequest) -> dict[str, Any]:
    return {"seq": entry.seq, "method": entry.method, "path": entry.path, "status": entry.status, "provider": entry.provider,
            "tenant": entry.tenant}


def _kind(entry: LoggedRequest) -> str:
    if entry.provider is not None:
        return "request"
    return "clock" if entry.path.startswith("/_sandbox/clock") else "operator"


def _span(occurred_at: str) -> tuple[float, float] | None:
    """The moments an event's time stands for: its text keeps milliseconds, or whole seconds."""
    try:
        moment = parse_instant(occurred_at).timestamp()
    except (ValueError, TypeError, OverflowError):
        return None
    return moment, moment + (0.001 if "." in occurred_at else 1.0)


SLACK = 0.0002  # seconds: the clock's reading and the answer's timing are taken apart


def _during(entry: LoggedRequest, span: tuple[float, float]) -> bool:
    advanced = _advance(entry)
    start = entry.at - (advanced if advanced is not None else entry.duration) - SLACK
    return span[0] <= entry.at + SLACK and span[1] >= start


def _advance(entry: LoggedRequest) -> float | None:
    """The seconds a successful clock advance moved the clock (what fell due in them fired then)."""
    if entry.path != ADVANCE or entry.status != 200 or not entry.request_body:
        return None
    try:
        seconds = orjson.loads(entry.request_body).get("seconds")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None


def _names(entry: LoggedRequest, needle: bytes) -> bool:
    return (
        needle in entry.path.encode() or needle in entry.query.encode()
        or (entry.request_body is not None and needle in entry.request_body)
        or (entry.response_body is not None and needle in entry.response_body)
    )
