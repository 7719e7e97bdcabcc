"""Idempotency-Key: replay, conflict, scope and concurrent duplicates."""

import asyncio

from tests.conftest import OTHER_KEY, intent_body


async def create(api, key, body=None):
    return await api.request("POST", "/v1/purchase-intents", body or intent_body(), headers={"Idempotency-Key": key})


async def test_same_key_and_body_replays_the_first_response(api):
    status1, first, headers1 = await create(api, "order-1")
    status2, second, headers2 = await create(api, "order-1")
    assert (status1, status2) == (201, 201)
    assert second == first
    assert "Idempotent-Replayed" not in headers1
    assert headers2["Idempotent-Replayed"] == "true"
    assert headers2["Idempotency-Key"] == "order-1"
    status, listing, _ = await api.request("GET", "/v1/purchase-intents")
    assert [i["id"] for i in listing["data"]] == [first["id"]]
    assert len(await api.events(type="purchase_intent.created")) == 1


async def test_key_order_in_the_body_does_not_matter(api):
    body = intent_body()
    _, first, _ = await create(api, "k", body)
    reordered = dict(reversed(list(body.items())))
    status, second, headers = await create(api, "k", reordered)
    assert (status, second["id"], headers["Idempotent-Replayed"]) == (201, first["id"], "true")


async def test_same_key_with_another_body_is_a_conflict(api):
    await create(api, "order-2")
    status, body, _ = await create(api, "order-2", intent_body(quantity=2))
    assert status == 409
    assert body["error"]["code"] == "idempotency_key_conflict"
    assert body["error"]["details"] == {"idempotency_key": "order-2"}
    _, listing, _ = await api.request("GET", "/v1/purchase-intents")
    assert len(listing["data"]) == 1


async def test_keys_are_scoped_to_the_tenant(api):
    _, mine, _ = await create(api, "shared-key")
    status, theirs, headers = await create(api.as_key(OTHER_KEY), "shared-key")
    assert status == 201 and theirs["id"] != mine["id"]
    assert "Idempotent-Replayed" not in headers


async def test_keys_are_scoped_to_the_endpoint(api):
    _, intent, _ = await create(api, "same")
    status, authorized, headers = await api.request(
        "POST", f"/v1/purchase-intents/{intent['id']}/authorize", {"expected_total_cents": 100}, headers={"Idempotency-Key": "same"}
    )
    assert (status, authorized["status"]) == (200, "approved")
    assert "Idempotent-Replayed" not in headers


async def test_a_replayed_authorize_does_not_decide_twice(api):
    intent = await api.create()
    path = f"/v1/purchase-intents/{intent['id']}/authorize"
    first = await api.request("POST", path, {"expected_total_cents": 100}, headers={"Idempotency-Key": "a"})
    again = await api.request("POST", path, {"expected_total_cents": 100}, headers={"Idempotency-Key": "a"})
    assert (first[0], again[0]) == (200, 200) and again[1] == first[1]
    assert len(await api.events(type="purchase_intent.authorized")) == 1


async def test_state_errors_are_replayed_too(api):
    intent = await api.create()
    path = f"/v1/purchase-intents/{intent['id']}/issue-payment-credential"
    status1, body1, _ = await api.request("POST", path, {}, headers={"Idempotency-Key": "early"})
    await api.authorize(intent["id"])
    status2, body2, headers2 = await api.request("POST", path, {}, headers={"Idempotency-Key": "early"})
    assert (status1, status2) == (409, 409) and body2 == body1
    assert headers2["Idempotent-Replayed"] == "true"


async def test_validation_failures_are_not_saved(api):
    status, _, _ = await create(api, "retry-me", intent_body(quantity=0))
    assert status == 400
    status, body, headers = await create(api, "retry-me", intent_body())
    assert status == 201 and "Idempotent-Replayed" not in headers


async def test_concurrent_duplicates_create_one_object(api):
    results = await asyncio.gather(*(create(api, "burst") for _ in range(10)))
    ids = {body["id"] for _, body, _ in results}
    assert len(ids) == 1
    assert all(status == 201 for status, _, _ in results)
    assert sum(1 for *_, headers in results if headers.get("Idempotent-Replayed") == "true") == 9
    assert len(await api.events(type="purchase_intent.created")) == 1


async def test_keys_expire_after_24_hours_of_sandbox_time(api):
    _, first, _ = await create(api, "daily")
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 24 * 3600})
    status, second, headers = await create(api, "daily")
    assert status == 201 and second["id"] != first["id"] and "Idempotent-Replayed" not in headers


async def test_overlong_key_is_refused(api):
    status, body, _ = await create(api, "k" * 256)
    assert status == 400
    assert body["error"]["details"]["field"] == "Idempotency-Key"


async def test_no_body_and_an_empty_object_are_the_same_request(api):
    intent = await api.create()
    path = f"/v1/purchase-intents/{intent['id']}/authorize"
    first = await api.request("POST", path, headers={"Idempotency-Key": "empty"})
    second = await api.request("POST", path, {}, headers={"Idempotency-Key": "empty"})
    assert (first[0], second[0]) == (200, 200)
    assert second[2]["Idempotent-Replayed"] == "true"


async def test_a_402_is_not_saved_so_the_retry_after_topping_up_works(make_api):
    api = await make_api(dino_wallet_start_cents=0)
    intent = await api.approved_intent()
    path = f"/v1/purchase-intents/{intent['id']}/issue-payment-credential"
    status, _, _ = await api.request("POST", path, {}, headers={"Idempotency-Key": "pay"})
    assert status == 402
    await api.request("POST", "/v1/sandbox/faucet", {"amount_cents": 10_000})
    status, body, headers = await api.request("POST", path, {}, headers={"Idempotency-Key": "pay"})
    assert (status, body["status"]) == (200, "payment_credential_issued")
    assert "Idempotent-Replayed" not in headers
