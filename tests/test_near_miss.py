"""Near misses: a 404 or 405 names the nearest route, and a missing object whose id lives under
another tenant says so (never which tenant), each in the owning provider's error shape and in
the request log; every field the error had before is still there."""

from __future__ import annotations

import pytest

from tests.bt import PROJECT, Bt
from tests.cm import Cm
from tests.conftest import KEY, OTHER_KEY

PLATFORM = {"BT-API-KEY": "key_test_near"}
OTHER_PLATFORM = {"BT-API-KEY": "key_test_far"}


async def last_logged(api) -> dict:
    status, body = await api.control("GET", "/_sandbox/requests?limit=1")
    assert status == 200
    return body["data"][0]


async def raw(api, method, path, headers=None, json=None):
    async with api.client.request(method, path, headers=headers or {}, json=json) as resp:
        return resp.status, await resp.json(), resp.headers


# -- routes -----------------------------------------------------------------------------


async def test_a_mistyped_dino_route_names_the_nearest(api):
    status, body, _ = await api.request("POST", "/v1/purchase-intent", {})
    assert status == 404 and set(body["error"]) == {"code", "message", "details"} and body["error"]["code"] == "not_found"
    assert body["error"]["message"] == "No route for POST /v1/purchase-intent; did you mean POST /v1/purchase-intents?"
    assert body["error"]["details"] == {"nearest_route": "POST /v1/purchase-intents"}
    entry = await last_logged(api)
    assert (entry["status"], entry["provider"], entry["tenant"]) == (404, "dino", KEY)
    assert entry["hint"] == "did you mean POST /v1/purchase-intents?"


async def test_an_id_in_the_path_is_no_difference(api):
    status, body, _ = await api.request("POST", "/v1/purchase-intents/pi_123/authorise", {})
    assert status == 404
    assert body["error"]["details"]["nearest_route"] == "POST /v1/purchase-intents/{id}/authorize"


async def test_a_wrong_method_names_the_route_that_takes_it(api):
    status, body, headers = await api.request("DELETE", "/v1/purchase-intents")
    assert status == 405 and body["error"]["code"] == "invalid_request" and "POST" in headers["Allow"]
    assert body["error"]["message"].startswith("Method DELETE is not allowed on /v1/purchase-intents; did you mean ")
    assert body["error"]["details"]["nearest_route"] == "POST /v1/purchase-intents"  # a write for a write


async def test_nothing_near_is_left_unsaid(api):
    status, body, _ = await api.request("GET", "/v1/nothing-here")
    assert status == 404
    assert body["error"] == {"code": "not_found", "message": "No route for GET /v1/nothing-here", "details": {}}
    assert (await last_logged(api))["hint"] is None


async def test_crossmint_shape(api):
    status, body, _ = await Cm(api.client).request("GET", "/order-intent/abc")
    assert status == 404
    assert body == {
        "statusCode": 404, "error": "Not Found",
        "message": "No route for GET /api/unstable/order-intent/abc; did you mean GET /api/{version}/order-intents/{id}?",
        "nearest_route": "GET /api/{version}/order-intents/{id}",
    }


async def test_basis_theory_ai_shape(api):
    status, body, _ = await Bt(api.client).request("GET", "/payment-method")
    assert status == 404
    error = body["error"]
    assert (error["status"], error["type"], error["title"]) == (404, "not_found", "Not Found")
    assert error["message"].endswith("did you mean GET /projects/{projectId}/payment-methods?")
    assert error["details"] == {"nearest_route": "GET /projects/{projectId}/payment-methods"}


async def test_basis_theory_platform_problem_details(api):
    status, body, _ = await raw(api, "GET", "/agentic/enrollment", PLATFORM)
    assert status == 404
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert body["detail"] == "No route for GET /agentic/enrollment; did you mean GET /agentic/enrollments?"
    assert (body["status"], body["instance"]) == (404, "/agentic/enrollment")


async def test_control_plane(api):
    status, body = await api.control("GET", "/_sandbox/request")
    assert status == 404 and body["error"]["details"] == {"nearest_route": "GET /_sandbox/requests"}


# -- objects under another tenant -------------------------------------------------------


async def test_dino_intent_of_another_key(api):
    mine = await api.create()
    bob = api.as_key(OTHER_KEY)
    for method, path in (("GET", f"/v1/purchase-intents/{mine['id']}"), ("POST", f"/v1/purchase-intents/{mine['id']}/authorize")):
        status, body, _ = await bob.request(method, path, {} if method == "POST" else None)
        assert status == 404 and body["error"]["code"] == "not_found"
        hint = f"{mine['id']} exists under another tenant (another API key or project), which this one cannot see"
        assert body["error"]["details"] == {"id": mine["id"], "hint": hint}
        assert body["error"]["message"] == f"Purchase intent {mine['id']} not found in the current scope; {hint}"
        assert KEY not in str(body)  # never which key
        entry = await last_logged(api)
        assert (entry["tenant"], entry["hint"]) == (OTHER_KEY, hint)


async def test_idempotent_requests_get_the_hint_too(api):
    mine = await api.create()
    status, body, _ = await api.as_key(OTHER_KEY).request(
        "POST", f"/v1/purchase-intents/{mine['id']}/authorize", {"expected_total_cents": 100}, headers={"Idempotency-Key": "k1"}
    )
    assert status == 404 and "exists under another tenant" in body["error"]["details"]["hint"]


async def test_an_unknown_id_gets_no_hint(api):
    await api.create()
    status, body, _ = await api.request("GET", "/v1/purchase-intents/pi_nope")
    assert status == 404 and body["error"]["details"] == {"id": "pi_nope"}
    assert (await last_logged(api))["hint"] is None


async def test_basis_theory_ai_project(api):
    intent = await Bt(api.client).intent()
    status, body, _ = await Bt(api.client, "other-project").request("GET", f"/purchase-intents/{intent['id']}")
    assert status == 404 and body["error"]["type"] == "not_found"
    assert body["error"]["details"]["hint"].startswith(f"{intent['id']} exists under another tenant")
    assert PROJECT not in str(body)


async def test_another_entity_of_the_same_project_gets_no_hint(api):
    # The same tenant: whether the id is another entity's or another kind of object, the store cannot tell.
    intent = await Bt(api.client).intent()
    status, body, _ = await Bt(api.client, PROJECT, "user-99").request("GET", f"/purchase-intents/{intent['id']}")
    assert status == 404 and "details" not in body["error"]


async def test_crossmint_project(api):
    agent = await Cm(api.client).agent()
    status, body, _ = await Cm(api.client, key="sk_staging_elsewhere").request("GET", f"/agents/{agent}")
    assert status == 404 and body["statusCode"] == 404 and body["error"] == "Not Found"
    assert body["hint"].startswith(f"{agent} exists under another tenant") and agent in body["message"]


@pytest.mark.parametrize("path", ["/tokens/{id}", "/agentic/agents/{id}"])
async def test_basis_theory_platform_key(api, path):
    kind = "tokens" if path.startswith("/tokens") else "agents"
    if kind == "tokens":
        card = {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}
        status, made, _ = await raw(api, "POST", "/tokens", PLATFORM, {"type": "card", "data": card})
    else:
        status, made, _ = await raw(api, "POST", "/agentic/agents", PLATFORM, {"name": "A"})
    assert status == 201
    status, body, _ = await raw(api, "GET", path.format(id=made["id"]), OTHER_PLATFORM)
    assert status == 404 and set(body) == {"type", "title", "status", "detail", "instance"}
    assert body["detail"].endswith(f"{made['id']} exists under another tenant (another API key or project), which this one cannot see")
    assert "key_test_near" not in str(body)
