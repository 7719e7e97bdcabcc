"""Scenarios loaded into a running sandbox: `POST /_sandbox/scenarios` (YAML or JSON), list, unload."""

from __future__ import annotations

import orjson
import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, FieldError, SandboxError
from sandbox.core.http import json_response
from sandbox.core.runtime import SYSTEM
from sandbox.core.scenarios.loader import ScenarioError, parse


class Recording(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    async def load(request: web.Request) -> web.Response:
        if request.content_type not in (*YAML_TYPES, "application/json"):
            raise SandboxError(ErrorKind.UNSUPPORTED_MEDIA_TYPE, "send the scenario as application/json or application/yaml")
        try:
            text = (await request.read()).decode(request.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise SandboxError(ErrorKind.MALFORMED, "the scenario is not text in its declared charset (UTF-8 by default)") from None
        if request.content_type == "application/json":
            try:
                text = yaml.safe_dump(orjson.loads(text), sort_keys=False)  # one loader, one set of error messages
            except orjson.JSONDecodeError as exc:
                raise SandboxError(ErrorKind.MALFORMED, f"Request body is not valid JSON: {exc}") from None
        try:
            loaded = parse(text, rt.catalog(), "scenario")
        except ScenarioError as exc:
            fields = [FieldError(p.field, f"{p.message} (line {p.line})" if p.line else p.message) for p in exc.problems]
            raise SandboxError(ErrorKind.VALIDATION, "Invalid scenario: " + "; ".join(map(str, exc.problems)), fields=fields) from None
        tenant = request.query.get("tenant") or None
        scenario = rt.rules.load(rt.ids.ulid("scn", SYSTEM), loaded.scenario.name, loaded.scenario.rules, tenant)
        return json_response(scenario.to_wire(), 201)

    def list_loaded(call: Call) -> Reply:
        return Reply({"object": "list", "data": [s.to_wire() for s in rt.rules.all()]})

    def unload(call: Call) -> Reply:
        if not rt.rules.unload(call.param("id")):
            raise SandboxError(ErrorKind.NOT_FOUND, f"scenario {call.param('id')} is not loaded")
        return Reply(None, 204)

    async def recording(request: web.Request) -> web.Response:
        if rt.recorder is None:
            raise SandboxError(ErrorKind.NOT_FOUND, "not recording: start with POST /_sandbox/recording or sandbox serve --record")
        return web.Response(text=rt.recorder.to_yaml(), content_type="application/yaml")

    def toggle(call: Call) -> Reply:
        enabled = call.parse(Recording).enabled
        if enabled:
            rt.start_recording()
        else:
            rt.recorder = None
        return Reply({"recording": enabled})

    return [
        web.get("/_sandbox/recording", recording),
        api.route("POST", "/_sandbox/recording", toggle),
        web.post("/_sandbox/scenarios", load),
        api.route("GET", "/_sandbox/scenarios", list_loaded),
        api.route("DELETE", "/_sandbox/scenarios/{id}", unload),
    ]
