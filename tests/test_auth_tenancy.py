"""Bearer din_test_ keys: each key is a tenant that sees only its own intents."""

import pytest

from tests.conftest import OTHER_KEY, intent_body


@pytest.mark.parametrize(
    "header",
    [None, "din_test_alice", "Basic din_test_alice", "Bearer ", "Bearer sk_test_123", "Bearer din_test_", "Bearer din_prod_x"],
)
async def test_missing_or_malformed_keys_are_401(api, header):
    headers = {"Authorization": header} if header is not None else {}
    status, body, resp_headers = await api.as_key(None).request("GET", "/v1/purchase-intents", headers=headers)
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert resp_headers["WWW-Authenticate"].startswith("Bearer")


async def test_live_keys_are_refused_with_an_explanation(api):
    status, body, _ = await api.as_key("din_live_abc").request("POST", "/v1/purchase-intents", intent_body())
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert "only accepts test keys" in body["error"]["message"]


async def test_auth_is_checked_before_the_body(api):
    status, body, _ = await api.as_key(None).request(
        "POST", "/v1/purchase-intents", headers={"Content-Type": "application/json"}, data=b"{"
    )
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


async def test_revoked_key_is_403_and_other_keys_still_work(api):
    intent = await api.create()
    status, _ = await api.control("POST", "/_sandbox/dino/api-keys/din_test_alice/revoke")
    assert status == 200
    status, body, _ = await api.get(intent["id"])
    assert (status, body["error"]["code"]) == (403, "revoked_api_key")
    status, _, _ = await api.as_key(OTHER_KEY).request("GET", "/v1/purchase-intents")
    assert status == 200


@pytest.mark.parametrize("key", ["sk_test_1", "din_live_abc"])
async def test_revoking_anything_but_a_test_key_is_refused(api, key):
    status, body = await api.control("POST", f"/_sandbox/dino/api-keys/{key}/revoke")
    assert status == 400 and body["error"]["details"]["field"] == "key"


async def test_tenants_never_see_each_others_intents(api):
    mine = await api.create()
    bob = api.as_key(OTHER_KEY)
    theirs = await bob.create()
    for path in (f"/v1/purchase-intents/{mine['id']}", f"/v1/purchase-intents/{mine['id']}/authorize"):
        status, body, _ = await bob.request("GET" if path.count("/") == 3 else "POST", path)
        assert status == 404 and body["error"]["code"] == "not_found"
    _, listing, _ = await bob.request("GET", "/v1/purchase-intents")
    assert [i["id"] for i in listing["data"]] == [theirs["id"]]
    _, read, _ = await api.get(mine["id"])
    assert read["status"] == "intent_created"
