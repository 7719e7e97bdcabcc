"""The test-USD wallet: credentials reserve, checkout settles or releases, the faucet tops up."""

from tests.conftest import OTHER_KEY


async def balance(api):
    status, body, _ = await api.request("GET", "/v1/balance")
    assert status == 200
    return body


def execute_path(intent_id):
    return f"/_sandbox/dino/purchase-intents/{intent_id}/execute"


async def test_a_new_tenant_has_a_funded_wallet(api):
    assert await balance(api) == {"object": "balance", "currency": "usd", "available_cents": 1_000_000, "reserved_cents": 0}


async def test_issuing_reserves_and_completing_settles(api):
    intent = await api.issued_intent()
    assert (await balance(api))["available_cents"] == 1_000_000 - 4599
    assert (await balance(api))["reserved_cents"] == 4599
    await api.control("POST", execute_path(intent["id"]))
    assert await balance(api) == {"object": "balance", "currency": "usd", "available_cents": 1_000_000 - 4599, "reserved_cents": 0}


async def test_a_failed_checkout_releases_the_reserve(api):
    intent = await api.issued_intent()
    await api.control("POST", execute_path(intent["id"]), {"outcome": "failed"})
    assert (await balance(api))["available_cents"] == 1_000_000
    assert (await balance(api))["reserved_cents"] == 0


async def test_an_expired_credential_can_only_fail_and_that_releases_it(api):
    intent = await api.issued_intent()
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 1000})
    status, body = await api.control("POST", execute_path(intent["id"]), {"outcome": "failed"})
    assert (status, body["status"], body["failure_reason"]) == (200, "failed", "payment_credential_expired")
    assert (await balance(api))["reserved_cents"] == 0


async def test_a_short_wallet_is_402_and_changes_nothing(make_api):
    api = await make_api(dino_wallet_start_cents=4000)
    intent = await api.approved_intent()  # approved for 4599
    status, body, _ = await api.issue(intent["id"])
    assert status == 402
    assert body["error"]["code"] == "insufficient_wallet_balance"
    assert body["error"]["details"] == {"available_cents": 4000, "required_cents": 4599, "currency": "usd"}
    assert (await api.get(intent["id"]))[1]["status"] == "approved"
    assert await balance(api) == {"object": "balance", "currency": "usd", "available_cents": 4000, "reserved_cents": 0}

    status, funded, _ = await api.request("POST", "/v1/sandbox/faucet", {"amount_cents": 100_000})
    assert (status, funded["available_cents"]) == (200, 104_000)
    status, issued, _ = await api.issue(intent["id"])
    assert (status, issued["status"]) == (200, "payment_credential_issued")


async def test_faucet_validation_and_idempotency(api):
    status, body, _ = await api.request("POST", "/v1/sandbox/faucet", {"amount_cents": 0})
    assert status == 400 and body["error"]["details"]["field"] == "amount_cents"
    for _ in range(2):
        status, body, _ = await api.request("POST", "/v1/sandbox/faucet", {"amount_cents": 500}, headers={"Idempotency-Key": "top-up"})
        assert status == 200
    assert (await balance(api))["available_cents"] == 1_000_500


async def test_wallets_belong_to_their_tenant(api):
    await api.request("POST", "/v1/sandbox/faucet", {"amount_cents": 1})
    assert (await balance(api.as_key(OTHER_KEY)))["available_cents"] == 1_000_000


async def test_live_keys_cannot_use_the_faucet(api):
    status, body, _ = await api.as_key("din_live_x").request("POST", "/v1/sandbox/faucet", {"amount_cents": 1})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
