"""`GET /_sandbox/requests`: the last requests served, newest first, secrets redacted.

Reading the log is not logged itself. `DELETE /_sandbox/requests` empties it; a reset empties
the part it is scoped to.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from sandbox.control.errors import known_provider
from sandbox.core.api import Call, InThread, ProviderApi, Reply
from sandbox.core.requests import STATUS_PATTERN, UNLOGGED, render


class RequestQuery(BaseModel):
    provider: str | None = None  # "_sandbox": the control plane's own requests
    tenant: str | None = None
    path: Annotated[str, Field(min_length=1, max_length=2000)] | None = None  # a prefix if it starts with /, else a substring
    status: Annotated[str, Field(pattern=STATUS_PATTERN)] | None = None  # 404, or 4xx
    method: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    since: Annotated[int, Field(ge=0)] | None = None  # only requests after this `seq`
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    def requests(call: Call) -> Reply:
        call.request[UNLOGGED] = True
        query = call.query(RequestQuery)
        known_provider(rt, query.provider, also=(api.provider,))  # the control plane's own requests too
        found = rt.requests.query(
            provider=query.provider, tenant=query.tenant, path=query.path, status=query.status, method=query.method,
            since=query.since, limit=query.limit,
        )
        secret = rt.providers.secret_headers()
        capacity, held = rt.requests.size, len(rt.requests)
        # Redacting every body takes long for a log full of large ones (650 ms for 1000 bodies of
        # 1400 fields): done in a worker thread, from entries that never change once logged.
        return Reply(InThread(lambda: {
            "object": "list", "capacity": capacity, "held": held, "data": [render(entry, secret) for entry in found],
        }))

    def clear(call: Call) -> Reply:
        rt.requests.clear()
        return Reply(None, 204)

    return [
        api.route("GET", "/_sandbox/requests", requests, query=RequestQuery,
                  summary="The last requests served, newest first, credentials redacted",
                  responses={200: "{object: list, capacity, held, data}"}),
        api.route("DELETE", "/_sandbox/requests", clear, summary="Empty the request log", responses={204: "Emptied"}),
    ]
