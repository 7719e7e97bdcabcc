"""Dino accounts: `GET /v1/accounts` and `GET /v1/accounts/{id}` show the key's agent account and its
budget policy; the control plane changes the policy."""

import pytest

from tests.conftest import KEY, OTHER_KEY, START

SPEND = {"amount_cents": 12000, "currency": "usd", "merchant_name": "AWS", "reason": "GPU runtime for evaluation job"}


async def the_account(api):
    status, listing, _ = await api.request("GET", "/v1/accounts")
    assert status == 200, listing
    assert set(listing) == {"object", "data", "has_more", "next_cursor"}
    assert (listing["object"], listing["has_more"], listing["next_cursor"], len(listing["data"])) == ("list", False, None, 1)
    return listing["data"][0]


async def test_the_key_has_one_agent_account(api):
    account = await the_account(api)
    assert account["id"].startswith("agent_") and len(account["id"]) == 32
    assert account["team_id"].startswith("team_") and len(account["team_id"]) == 31
    assert {k: v for k, v in account.items() if k not in ("id", "team_id")} == {
        "object": "account", "type": "agent", "name": "Sandbox agent", "status": "active", "currency": "usd",
        "budget_period": "monthly", "budget_cents": 50000, "remaining_budget_cents": 50000,
        "monthly_budget_cents": 50000, "remaining_monthly_budget_cents": 50000,
        "approval_threshold_cents": 50000, "max_transaction_cents": None, "approval_timeout_seconds": 86400,
        "created_at": START, "updated_at": START,
    }
    status, one, _ = await api.request("GET", f"/v1/accounts/{account['id']}")
    assert (status, one) == (200, account)
    assert await the_account(api) == account  # the same one every time


async def test_the_ids_follow_the_seed_and_the_key(make_api):
    first, second = await make_api(), await make_api()
    mine = await the_account(first)
    assert await the_account(second) == mine  # same seed, same key: the same account
    theirs = await the_account(first.as_key(OTHER_KEY))
    assert theirs["id"] != mine["id"] and theirs["team_id"] != mine["team_id"]
    other_seed = await make_api(seed=8)
    assert (await the_account(other_seed))["id"] != mine["id"]


async def test_spend_requests_name_the_account_and_it_shows_what_remains(api):
    status, spent, _ = await api.request("POST", "/v1/spend-requests", SPEND)
    assert status == 201
    account = await the_account(api)
    assert (spent["agent_account_id"], spent["team_id"]) == (account["id"], account["team_id"])
    assert (account["remaining_budget_cents"], account["remaining_monthly_budget_cents"]) == (38000, 38000)
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 31 * 86400})  # February
    account = await the_account(api)
    assert (account["remaining_budget_cents"], account["remaining_monthly_budget_cents"]) == (50000, 50000)


async def test_another_keys_account_is_not_found(api):
    theirs = await the_account(api.as_key(OTHER_KEY))
    status, answer, _ = await api.request("GET", f"/v1/accounts/{theirs['id']}")
    assert status == 404 and answer["error"]["code"] == "not_found"
    assert answer["error"]["message"].startswith(f"Account {theirs['id']} not found in the current scope")
    assert answer["error"]["details"]["id"] == theirs["id"]
    status, answer, _ = await api.request("GET", "/v1/accounts/agent_nope")
    assert status == 404 and answer["error"] == {
        "code": "not_found", "message": "Account agent_nope not found in the current scope", "details": {"id": "agent_nope"},
    }


async def test_keys_are_checked(api):
    for key in (None, "din_live_x", "sk_test_x"):
        status, answer, headers = await api.as_key(key).request("GET", "/v1/accounts")
        assert (status, answer["error"]["code"]) == (401, "invalid_api_key")
        assert headers["WWW-Authenticate"] == 'Bearer realm="dino"'
    await api.control("POST", f"/_sandbox/dino/api-keys/{OTHER_KEY}/revoke")
    status, answer, _ = await api.as_key(OTHER_KEY).request("GET", "/v1/accounts")
    assert (status, answer["error"]["code"]) == (403, "revoked_api_key")


async def test_the_policy_is_read_and_changed_on_the_control_plane(api):
    account = await the_account(api)
    status, read = await api.control("GET", f"/_sandbox/dino/api-keys/{KEY}/policy")
    assert (status, read) == (200, account)
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 60})
    status, changed = await api.control("POST", f"/_sandbox/dino/api-keys/{KEY}/policy", {
        "name": "Eval runner", "budget_period": "weekly", "budget_cents": 20000, "monthly_budget_cents": 70000,
        "approval_threshold_cents": 5000, "max_transaction_cents": 10000, "approval_timeout_seconds": 3600,
    })
    assert status == 200
    assert {k: changed[k] for k in ("name", "budget_period", "budget_cents", "remaining_budget_cents", "monthly_budget_cents",
                                    "remaining_monthly_budget_cents", "approval_threshold_cents", "max_transaction_cents",
                                    "approval_timeout_seconds", "created_at", "updated_at")} == {
        "name": "Eval runner", "budget_period": "weekly", "budget_cents": 20000, "remaining_budget_cents": 20000,
        "monthly_budget_cents": 70000, "remaining_monthly_budget_cents": 70000, "approval_threshold_cents": 5000,
        "max_transaction_cents": 10000, "approval_timeout_seconds": 3600, "created_at": START, "updated_at": "2026-01-01T00:01:00.000Z",
    }
    assert changed["id"] == account["id"] and await the_account(api) == changed
    status, partly = await api.control("POST", f"/_sandbox/dino/api-keys/{KEY}/policy", {"max_transaction_cents": None})
    assert status == 200 and partly["max_transaction_cents"] is None and partly["budget_cents"] == 20000
    status, same = await api.control("POST", f"/_sandbox/dino/api-keys/{KEY}/policy")
    assert status == 200 and same == partly
    assert (await the_account(api.as_key(OTHER_KEY)))["budget_period"] == "monthly"  # one key's policy only


async def test_a_switch_to_weekly_still_counts_spend_from_the_weeks_days_in_the_previous_month(api):
    """2026-02-01 is a Sunday: its ISO week began on Monday 2026-01-26, so a spend of 2026-01-31 is in it,
    though no longer in the calendar month the account was counting when the period changed."""
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 30 * 86400})  # Saturday 2026-01-31
    status, spent, _ = await api.request("POST", "/v1/spend-requests", SPEND)
    assert (status, spent["status"]) == (201, "approved")
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 86400})  # Sunday 2026-02-01: a new month
    assert (await the_account(api))["remaining_budget_cents"] == 50000
    status, weekly = await api.control("POST", f"/_sandbox/dino/api-keys/{KEY}/policy", {"budget_period": "weekly"})
    assert status == 200
    assert (weekly["remaining_budget_cents"], weekly["remaining_monthly_budget_cents"]) == (38000, 50000)
    status, answer, _ = await api.request("POST", "/v1/spend-requests", {**SPEND, "amount_cents": 40000})
    assert (status, answer["status"], answer["decision_reason"]) == (201, "declined", "Amount would exceed the budget for this period")


@pytest.mark.parametrize("policy, field", [
    ({"budget_period": "yearly"}, "budget_period"),
    ({"budget_cents": -1}, "budget_cents"),
    ({"budget_cents": None}, "budget_cents"),
    ({"budget_period": None}, "budget_period"),
    ({"budget_cents": "100"}, "budget_cents"),
    ({"approval_threshold_cents": 0}, "approval_threshold_cents"),
    ({"approval_timeout_seconds": 59}, "approval_timeout_seconds"),
    ({"name": ""}, "name"),
    ({"currency": "eur"}, "currency"),
])
async def test_a_bad_policy_is_refused_and_changes_nothing(api, policy, field):
    before = await the_account(api)
    status, answer = await api.control("POST", f"/_sandbox/dino/api-keys/{KEY}/policy", policy)
    assert status == 400 and answer["error"]["code"] == "invalid_request"
    assert answer["error"]["details"]["field"] == field
    assert await the_account(api) == before


@pytest.mark.parametrize("key", ["din_live_x", "sk_test_x", "din_test_" + "x" * 201])
async def test_the_policy_routes_take_test_keys_only(api, key):
    for method in ("GET", "POST"):
        status, answer = await api.control(method, f"/_sandbox/dino/api-keys/{key}/policy", {} if method == "POST" else None)
        assert status == 400 and answer["error"]["details"]["field"] == "key"
