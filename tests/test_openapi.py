"""The OpenAPI documents (issue 13): complete, served, rendered offline, and true to the server.

The last part is schemathesis: each document drives generated requests (valid and invalid) at a
live sandbox with valid credentials, and every answer must be no 5xx, a documented status, a
documented content type and headers, and a body that fits the documented schema. The run is
derandomized and bounded (the coverage phase's boundary cases, then `MAX_EXAMPLES` generated
requests per operation; no shrinking, no stateful phase) so that CI repeats it exactly and affords it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import strategies as st
from sandbox import __version__
from sandbox.app import create_app
from sandbox.app import runner as app_runner
from sandbox.config import Settings
from sandbox.control.openapi import document_name
from sandbox.core.api import apis_of
from sandbox.core.openapi import openapi_document
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.bt import ENTITY, PROJECT, token

SETTINGS = {"seed": 7, "clock": "2026-01-01T00:00:00.000Z"}
NAMES = ("dino", "crossmint", "basistheory", "btplatform", "sandbox")
MAX_EXAMPLES = 20  # generated requests per operation (~110 operations), beside the coverage phase's boundary cases
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def build_documents() -> dict[str, dict[str, Any]]:
    app = create_app(Settings(**SETTINGS))
    apis = sorted(apis_of(app), key=lambda api: api.provider.startswith("_"))  # the control plane's last, as served
    return {document_name(api): openapi_document(api.info, api.docs, api.style, __version__) for api in apis}


DOCUMENTS = build_documents()


# -- what the documents say -----------------------------------------------------------------


def test_one_document_per_provider_and_one_for_the_control_plane():
    assert tuple(DOCUMENTS) == NAMES
    for document in DOCUMENTS.values():
        assert document["openapi"] == "3.1.0"
        assert document["paths"]


def test_every_route_is_documented_once():
    app = create_app(Settings(**SETTINGS))
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method not in ("HEAD", "*") and r.resource is not None}
    documented: list[tuple[str, str]] = []
    for api in apis_of(app):
        documented += list(dict.fromkeys((doc.method, doc.path) for doc in api.docs))
    assert len(documented) == len(set(documented))
    assert {(method, re.sub(r"\{(\w+):[^/]*\}(?=/|$)", r"{\1}", path)) for method, path in documented} == served


def test_security_schemes_are_declared_as_each_provider_does():
    schemes = {name: document["components"].get("securitySchemes", {}) for name, document in DOCUMENTS.items()}
    assert schemes["dino"]["bearer"] | {"description": ""} == {"type": "http", "scheme": "bearer", "description": ""}
    assert schemes["basistheory"]["jwt"]["scheme"] == "bearer"
    assert (schemes["crossmint"]["apiKey"]["in"], schemes["crossmint"]["apiKey"]["name"]) == ("header", "X-API-KEY")
    assert (schemes["btplatform"]["apiKey"]["type"], schemes["btplatform"]["apiKey"]["name"]) == ("apiKey", "BT-API-KEY")
    assert schemes["sandbox"]["adminHeader"]["name"] == "X-Sandbox-Admin-Token"  # only a sandbox run with a token asks
    reset = DOCUMENTS["sandbox"]["paths"]["/_sandbox/reset"]["post"]
    assert reset["security"][0] == {} and "401" in reset["responses"]
    assert DOCUMENTS["sandbox"]["paths"]["/_sandbox/dino/approvals/{id}"]["get"]["security"] == []  # a human-step page
    create = DOCUMENTS["crossmint"]["paths"]["/api/{version}/agents"]["post"]
    assert create["security"] == [{"apiKey": []}, {"apiKey": [], "userJwt": []}]
    assert DOCUMENTS["dino"]["paths"]["/v1/balance"]["get"]["security"] == [{"bearer": []}]


def test_bodies_and_queries_come_from_the_models():
    dino = DOCUMENTS["dino"]
    create = dino["paths"]["/v1/purchase-intents"]["post"]
    schema = {"$ref": "#/components/schemas/CreatePurchaseIntent"}
    assert create["requestBody"] == {"required": True, "content": {"application/json": {"schema": schema}}}
    assert dino["components"]["schemas"]["CreatePurchaseIntent"]["additionalProperties"] is False
    authorize = dino["paths"]["/v1/purchase-intents/{id}/authorize"]["post"]
    assert authorize["requestBody"]["required"] is False  # `call.parse(Authorize, empty_ok=True)`
    assert {p["name"]: p["in"] for p in authorize["parameters"]} == {"id": "path", "Idempotency-Key": "header"}
    listing = dino["paths"]["/v1/purchase-intents"]["get"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert "null" not in str(status["schema"]) and "needs_approval" in status["schema"]["enum"]
    version = DOCUMENTS["crossmint"]["paths"]["/api/{version}/agents"]["get"]["parameters"][0]
    assert version["schema"]["pattern"] == r"^(?:unstable|[0-9]{4}-[0-9]{2}-[0-9]{2})$"


def test_statuses_are_those_the_route_and_the_machinery_give():
    issue = DOCUMENTS["dino"]["paths"]["/v1/purchase-intents/{id}/issue-payment-credential"]["post"]["responses"]
    assert set(issue) == {"200", "400", "401", "402", "403", "404", "409", "413", "414", "415"}
    assert issue["402"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    balance = DOCUMENTS["dino"]["paths"]["/v1/balance"]["get"]["responses"]
    assert set(balance) == {"200", "401", "403"}
    deleted = DOCUMENTS["btplatform"]["paths"]["/tokens/{id}"]["delete"]["responses"]["204"]
    assert "content" not in deleted
    wrong_state = DOCUMENTS["btplatform"]["paths"]["/agentic/enrollments/{id}/retry"]["post"]["responses"]
    assert "422" in wrong_state  # the platform's wrong state is a 422; its only 409 is a reused idempotency key
    assert wrong_state["409"]["description"] == "BT-IDEMPOTENCY-KEY was used with another body"
    page = DOCUMENTS["sandbox"]["paths"]["/_sandbox/dino/approvals/{id}"]["get"]["responses"]["404"]["content"]
    assert set(page) == {"application/json", "text/html"}  # an unknown intent (a page), or no route at all


def test_the_error_schema_is_read_off_each_style():
    errors = {name: document["components"]["schemas"]["Error"] for name, document in DOCUMENTS.items()}
    assert errors["dino"]["required"] == ["error"] and errors["dino"]["properties"]["error"]["required"] == ["code", "details", "message"]
    assert errors["crossmint"]["required"] == ["error", "message", "statusCode"]
    assert errors["crossmint"]["properties"]["message"]["anyOf"][1] == {"type": "array", "items": {"type": "string"}}
    assert errors["btplatform"]["properties"]["errors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert "sample" not in str(errors)


# -- served and rendered ----------------------------------------------------------------------


async def test_the_documents_are_served(aiohttp_client):
    client = await aiohttp_client(create_app(Settings(**SETTINGS)))
    async with client.get("/_sandbox/openapi") as resp:
        index = await resp.json()
    assert [entry["name"] for entry in index["data"]] == list(NAMES)
    for entry in index["data"]:
        async with client.get(entry["url"]) as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            assert await resp.json() == DOCUMENTS[entry["name"]]
    async with client.get("/_sandbox/openapi/nope.json") as resp:
        assert resp.status == 404
        assert "dino" in (await resp.json())["error"]["message"]


async def test_the_docs_page_loads_nothing_from_the_network(aiohttp_client):
    client = await aiohttp_client(create_app(Settings(**SETTINGS)))
    async with client.get("/_sandbox/docs") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        page = await resp.text()
    assert "<script>" in page and 'fetch("/_sandbox/openapi")' in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    assert not re.search(r"https?://", page)


# -- schemathesis -----------------------------------------------------------------------------


class LiveSandbox:
    """A sandbox app served on a free port from a thread of its own, for a synchronous HTTP client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-sandbox", daemon=True)
        self.thread.start()
        self.runner, self.url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)

    async def _start(self) -> tuple[web.AppRunner, str]:
        settings = Settings(**SETTINGS)
        runner = app_runner(create_app(settings), settings)  # as `sandbox serve` runs it: parser rejects in JSON
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return runner, f"http://{host}:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


CREDENTIALS: dict[str, dict[str, str]] = {
    "dino": {"Authorization": "Bearer din_test_fuzz"},
    "crossmint": {"X-API-KEY": "sk_staging_fuzz"},
    "basistheory": {"Authorization": f"Bearer {token(PROJECT, ENTITY)}"},
    "btplatform": {"BT-API-KEY": "key_test_fuzz"},
    "sandbox": {},
}
# The project in the path must be the token's iss, and entityId its sub, or every request stops at a 403.
PARAMETERS: dict[str, dict[str, str]] = {"basistheory": {"path.projectId": PROJECT, "body.entityId": ENTITY}}


def fuzz_config(name: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": 13,
        "suppress-health-check": ["all"],
        "generation": {
            "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none", "no-shrink": True,
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
        "headers": CREDENTIALS[name],
        "parameters": PARAMETERS.get(name, {}),
        "request-timeout": 30,
    })


# Ids of objects made before the run: Hypothesis may swap a generated path parameter for one of them,
# so that the run reaches the answers of existing objects, not only their 404s.
KNOWN: dict[str, dict[str, list[str]]] = {name: {} for name in NAMES}
LOOPBACK_HOOK = "http://127.0.0.1:9/hook"  # webhooks go nowhere off this machine (port 9 refuses at once)


def make_objects(name: str, url: str, http: requests.Session) -> dict[str, list[str]]:
    """A few objects of each kind, made through the API itself, in states that let most routes do something."""

    def call(method: str, path: str, body: Any = None, status: int = 201, **headers: str) -> Any:
        resp = http.request(method, url + path, json=body, headers={**CREDENTIALS[name], **headers}, timeout=30)
        assert resp.status_code == status, (method, path, resp.text)
        return resp.json() if resp.content else None

    buyer = {"first_name": "Jo", "last_name": "Doe", "email": "jo@example.com", "address1": "1 Main St", "city": "Springfield",
             "postal_code": "10001", "country": "US"}
    intent = {"product_url": "https://example.com/p", "quantity": 1, "currency": "usd", "max_total_cents": 5000, "buyer": buyer}
    dino = {"Authorization": "Bearer din_test_fuzz"}
    if name == "dino":
        fresh, approved, issued = (call("POST", "/v1/purchase-intents", intent)["id"] for _ in range(3))
        for one in (approved, issued):
            call("POST", f"/v1/purchase-intents/{one}/authorize", {"merchant_name": "example.com"}, 200)
        call("POST", f"/v1/purchase-intents/{issued}/issue-payment-credential", {}, 200)
        return {"id": [fresh, approved, issued]}
    if name == "crossmint":
        card = {"number": "4242424242424242", "expiration": {"month": "12", "year": "2030"}, "cvc": "123"}
        agent = call("POST", "/api/unstable/agents", {"metadata": {"name": "Shopper"}})["agentId"]
        method = call("POST", "/api/unstable/payment-methods", {"card": card})["paymentMethodId"]
        call("POST", f"/api/unstable/payment-methods/{method}/agentic-enrollment", {"email": "jo@example.com"})
        mandates = [{"type": "maxAmount", "value": "100.00", "details": {"currency": "usd"}}]
        order = {"agentId": agent, "payment": {"paymentMethodId": method}, "mandates": mandates}
        order = call("POST", "/api/unstable/order-intents", order)
        return {"id": [agent, method, order["orderIntentId"]], "version": ["unstable"]}
    if name == "basistheory":
        base = f"/projects/{PROJECT}"
        card = {"number": "4242424242424242", "expirationMonth": "12", "expirationYear": "2030", "cvc": "123"}
        method = call("POST", base + "/payment-methods", {"entityId": ENTITY, "card": card})["id"]
        body = {"entityId": ENTITY, "credentialType": "virtual-card", "paymentMethodId": method, "mandates": []}
        return {"id": [method, call("POST", base + "/purchase-intents", body)["id"]]}
    if name == "btplatform":
        card = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030, "cvc": "123"}
        token_id = call("POST", "/tokens", {"type": "card", "data": card})["id"]
        agent = call("POST", "/agentic/agents", {"name": "Shopper"})["id"]
        enrollment = call("POST", "/agentic/enrollments", {"token_id": token_id, "consumer": {"email": "jo@example.com"}})["id"]
        session = call("POST", "/3ds/sessions", {"token_id": token_id, "device": "browser"})["id"]
        hook = http.post(url + "/webhooks", json={"name": "hook", "url": LOOPBACK_HOOK, "events": ["token.created"]},
                         headers=CREDENTIALS[name], timeout=30)
        hooks = [hook.json()["id"]] if hook.status_code == 201 else []  # a sandbox may refuse loopback targets
        return {"id": [token_id, enrollment, session, *hooks], "agent_id": [agent]}
    ids = []
    hook = http.post(url + "/_sandbox/webhook-endpoints", json={"provider": "dino", "url": LOOPBACK_HOOK}, timeout=30)
    if hook.status_code == 201:  # a sandbox that refuses loopback webhook targets has none (nor deliveries)
        ids.append(hook.json()["id"])
    needs_approval = call("POST", "/v1/purchase-intents", {**intent, "max_total_cents": 90000}, **dino)["id"]
    call("POST", f"/v1/purchase-intents/{needs_approval}/authorize", {}, 200, **dino)
    issued = call("POST", "/v1/purchase-intents", intent, **dino)["id"]
    call("POST", f"/v1/purchase-intents/{issued}/authorize", {"merchant_name": "example.com"}, 200, **dino)
    call("POST", f"/v1/purchase-intents/{issued}/issue-payment-credential", {}, 200, **dino)
    ids += [needs_approval, issued, call("POST", "/_sandbox/scenarios", {"name": "fuzz", "rules": []})["id"]]
    ids += [delivery["id"] for delivery in call("GET", "/_sandbox/webhook-deliveries", status=200)["data"][:2]]
    return {"id": ids, "key": ["din_test_fuzz"], "name": ["dino", "sandbox"]}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, LiveSandbox]]:
    """One fresh sandbox per document (a scenario the control plane's run loads must not script faults
    into a provider's run), each holding a few objects before generation starts."""
    started = {name: LiveSandbox() for name in NAMES}
    with requests.Session() as http:
        for name, server in started.items():
            KNOWN[name].update(make_objects(name, server.url, http))
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def fuzz(name: str):
    schema = schemathesis.openapi.from_dict(DOCUMENTS[name], config=fuzz_config(name))

    @schema.hook
    def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None):
        """Each known parameter keeps its generated value or takes a known id, as Hypothesis draws."""
        if not path_parameters:
            return st.just(path_parameters)
        choices = {
            key: st.sampled_from([value, *KNOWN[name][key]]) if key in KNOWN[name] else st.just(value)
            for key, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    @schema.parametrize()
    def test(case, sandboxes, session):
        case.call_and_validate(base_url=sandboxes[name].url, session=session, checks=CHECKS, allow_redirects=False)

    test.__name__ = f"test_fuzz_{name}"
    return test


test_fuzz_dino = fuzz("dino")
test_fuzz_crossmint = fuzz("crossmint")
test_fuzz_basistheory = fuzz("basistheory")
test_fuzz_btplatform = fuzz("btplatform")
test_fuzz_sandbox = fuzz("sandbox")


def test_a_request_line_too_long_for_the_parser_is_a_documented_json_414():
    """Found by the fuzzer in CI: a long query reached aiohttp's plain-text 400. Served as
    `sandbox serve` serves it, it is the owning API's JSON error, and the document says 414."""
    live = LiveSandbox()
    try:
        resp = requests.get(f"{live.url}/_sandbox/requests", params={"since": "1", "path": "\U000fb120" * 3000}, timeout=10)
    finally:
        live.stop()
    assert resp.status_code == 414 and resp.headers["Content-Type"].startswith("application/json")
    assert "8190 bytes" in resp.json()["error"]["message"]
    assert "414" in DOCUMENTS["sandbox"]["paths"]["/_sandbox/requests"]["get"]["responses"]
