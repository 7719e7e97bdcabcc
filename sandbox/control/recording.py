"""The middleware that feeds the scenario recorder, when one is on."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.core.http import ErrorRouter
from sandbox.core.runtime import RUNTIME, Runtime
from sandbox.core.scenarios.recorder import Recorder

ADVANCE = "/_sandbox/clock/advance"  # recorded as an advance_clock step
RESET = "/_sandbox/reset"
SCENARIOS = "/_sandbox/scenarios/"  # a DELETE of a rule set the recording loaded as a step is recorded
# Control calls that are not part of a flow (reading, waiting, configuring the recorder itself).
NOT_RECORDED = ("/_sandbox/webhooks/flush", "/_sandbox/scenarios", "/_sandbox/recording", "/_sandbox/reset")


def record_middleware(errors: ErrorRouter) -> Middleware:
    """Feeds the recorder when one is on. It sits outside the error router, so its own reading
    of the body answers through it (`errors.guard`): a body too large is the provider's 413."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        recorder = request.app[RUNTIME].recorder
        if recorder is None:
            return await handler(request)
        return await errors.guard(request, lambda r: _recorded_call(r, handler, recorder))

    return record


async def _recorded_call(request: web.Request, handler: Any, recorder: Recorder) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    raw = await request.read() if request.body_exists else b""  # kept by aiohttp for the handler
    _take_rules(runtime, recorder)  # loaded before this request (or before the recording): as they stand now
    response = await handler(request)
    _take_rules(runtime, recorder)  # loaded by this request
    body = _json(raw)
    set_id = request.path.removeprefix(SCENARIOS) if request.path.startswith(SCENARIOS) else None
    if request.method == "DELETE" and set_id and response.status == 204 and recorder.loads_in_a_step(set_id):
        recorder.request("DELETE", request.path, {}, None, 204, None)  # unloads a set the recording loads in a step
    elif request.path == ADVANCE and isinstance(body, dict) and "seconds" in body:
        recorder.advance_clock(body["seconds"])
    elif request.path == RESET and response.status == 200:
        recorder.forget_ids()  # ids repeat after a reset: later steps must not refer to older answers
    elif _recorded(request) and isinstance(response, web.Response):
        recorder.request(
            request.method, request.path_qs, {str(k): v for k, v in request.headers.items()}, body, response.status,
            _json(response.body) if response.content_type == "application/json" else None,
            len(raw) + (len(response.body) if isinstance(response.body, bytes) else 0),
        )
    return response


def _take_rules(runtime: Runtime, recorder: Recorder) -> None:
    for loaded in runtime.rules.all():
        if not recorder.knows_rules(loaded.id):
            rules = [rule.model_dump(exclude_none=True) for rule in loaded.rules]
            recorder.rules_loaded(loaded.id, loaded.name, loaded.tenant, rules, list(loaded.fired))


def _recorded(request: web.Request) -> bool:
    if not request.path.startswith("/_sandbox"):
        return True
    return request.method != "GET" and not request.path.startswith(NOT_RECORDED)


def _json(raw: Any) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None
