"""The middleware that feeds the scenario recorder, when one is on."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from sandbox.core.runtime import RUNTIME

ADVANCE = "/_sandbox/clock/advance"  # recorded as an advance_clock step
RESET = "/_sandbox/reset"
# Control calls that are not part of a flow (reading, waiting, configuring the recorder itself).
NOT_RECORDED = ("/_sandbox/webhooks/flush", "/_sandbox/scenarios", "/_sandbox/recording", "/_sandbox/reset")


@web.middleware
async def record(request: web.Request, handler: Any) -> web.StreamResponse:
    recorder = request.app[RUNTIME].recorder
    if recorder is None:
        return await handler(request)
    raw = await request.read() if request.body_exists else b""  # aiohttp keeps it for the handler
    response = await handler(request)
    body = _json(raw)
    if request.path == ADVANCE and isinstance(body, dict) and "seconds" in body:
        recorder.advance_clock(body["seconds"])
    elif request.path == RESET and response.status == 200:
        recorder.forget_ids()  # ids repeat after a reset: later steps must not refer to older answers
    elif _recorded(request) and isinstance(response, web.Response):
        recorder.request(
            request.method, request.path_qs, {str(k): v for k, v in request.headers.items()}, body, response.status,
            _json(response.body) if response.content_type == "application/json" else None,
        )
    return response


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
