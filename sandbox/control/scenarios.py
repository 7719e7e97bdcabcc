"""Scenarios loaded into a running sandbox: `POST /_sandbox/scenarios` (YAML or JSON), list, unload."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, FieldError, SandboxError, invalid_field
from sandbox.core.http import json_response
from sandbox.core.limits import collector_paused
from sandbox.core.openapi import ResponseDoc
from sandbox.core.runtime import SYSTEM
from sandbox.core.scenarios.loader import Loaded, ScenarioError, parse
from sandbox.core.scenarios.model import Scenario
from sandbox.core.scenarios.recorder import dump
from sandbox.core.scenarios.rules import OutcomeCatalog, TooManyRules


class Recording(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class ScenarioTenant(BaseModel):
    """`POST /_sandbox/scenarios?tenant=…`: the only tenant the rules apply to (documentation; the handler reads it)."""

    tenant: str | None = None


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
        try:
            # Parsed in a thread: a large scenario must not stall every other request.
            loaded = await asyncio.to_thread(_parse, text, request.content_type == "application/json", rt.catalog())
        except ScenarioError as exc:
            fields = [FieldError(p.field, f"{p.message} (line {p.line})" if p.line else p.message) for p in exc.problems]
            raise SandboxError(ErrorKind.VALIDATION, "Invalid scenario: " + "; ".join(map(str, exc.problems)), fields=fields) from None
        tenant = request.query.get("tenant") or None
        try:
            rt.rules.check_room(len(loaded.scenario.rules))  # before an id is drawn: a refusal spends none
        except TooManyRules as exc:
            raise invalid_field("rules", str(exc)) from None
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
        # Written out in a thread: a large recording must not stall the event loop.
        text = await asyncio.to_thread(_dump, rt.recorder.document())
        return web.Response(text=text, content_type="application/yaml")

    def toggle(call: Call) -> Reply:
        enabled = call.parse(Recording).enabled
        if enabled:
            rt.start_recording()
        else:
            rt.recorder = None
        return Reply({"recording": enabled})

    return [
        api.document("GET", "/_sandbox/recording", recording, checked_query=True,
                     summary="The requests recorded so far, as a replayable scenario",
                     responses={200: ResponseDoc("The scenario (YAML)", media_type="application/yaml"), 404: "Not recording"}),
        api.route("POST", "/_sandbox/recording", toggle, body=Recording, summary="Start or stop recording",
                  responses={200: "{recording}"}),
        api.document("POST", "/_sandbox/scenarios", load, body=Scenario, body_media=("application/json", "application/yaml"),
                     query=ScenarioTenant, checked_query=True,
                     summary="Load a scenario's rules (YAML or JSON), for every tenant or one", responses={
            201: "The loaded scenario (its id unloads it)", 400: "The scenario is not valid (each problem names its field and line)",
            415: "Neither JSON nor YAML",
        }),
        api.route("GET", "/_sandbox/scenarios", list_loaded, summary="The scenarios loaded", responses={200: "{object: list, data}"}),
        api.route("DELETE", "/_sandbox/scenarios/{id}", unload, summary="Unload a scenario", responses={204: "Unloaded"}),
    ]


def _dump(document: dict) -> str:
    with collector_paused():  # in a worker thread: no collection of the whole heap under the GIL
        return dump(document)


def _parse(text: str, is_json: bool, catalog: OutcomeCatalog) -> Loaded:
    with collector_paused():  # in a worker thread: no collection of the whole heap under the GIL
        return _parse_text(text, is_json, catalog)


def _parse_text(text: str, is_json: bool, catalog: OutcomeCatalog) -> Loaded:
    import yaml  # ~10 ms to import: paid by the first scenario loaded, not by every start

    if is_json:
        try:
            text = yaml.safe_dump(orjson.loads(text), sort_keys=False)  # one loader, one set of error messages
        except orjson.JSONDecodeError as exc:
            raise SandboxError(ErrorKind.MALFORMED, f"Request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise SandboxError(ErrorKind.MALFORMED, "The scenario nests too deeply") from None
    return parse(text, catalog, "scenario")
