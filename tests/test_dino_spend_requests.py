"""Dino spend requests (`/v1/spend-requests`, legacy `/v1/spend`): the budget policy, the operator's
decisions, expiry on the sandbox clock, idempotency, events and webhooks, the approval page.

Bodies are Dino's own (its quickstart and developer pages, docs/research/dino-api.md); there is no
official Dino client in the registries, so the tests speak raw HTTP."""

import hashlib
import hmac
import html
import json
import re

import pytest

from tests.conftest import KEY, OTHER_KEY, START

# Dino's request bodies, verbatim: the quickstart (AWS) and the developers page (OpenAI).
AWS = {"amount_cents": 12000, "currency": "usd", "merchant_name": "AWS", "reason": "GPU runtime for evaluation job"}
OPENAI = {"amount_cents": 12000, "currency": "usd", "merchant_name": "OpenAI", "reason": "model inference for support agent"}
SPEND_EVENTS = ("spend_request.created", "spend_request.approved", "spend_request.declined", "spend_request.cancelled")


def body(**changes):
    return {**AWS, **changes}


async def spend(api, path="/v1/spend-requests", headers=None, **changes):
    status, answer, _ = await api.request("POST", path, body(**changes), headers=headers)
    assert status == 201, answer
    return answer


async def advance(api, seconds):
    status, _ = await api.control("POST", "/_sandbox/clock/advance", {"seconds": seconds})
    assert status == 200


async def set_policy(api, key=KEY, **policy):
    status, account = await api.control("POST", f"/_sandbox/dino/api-keys/{key}/policy", policy)
    assert status == 200, account
    return account


async def remaining(api):
    _, listing, _ = await api.request("GET", "/v1/accounts")
    account = listing["data"][0]
    return account["remaining_budget_cents"], account["remaining_monthly_budget_cents"]


async def waiting(api, amount=60000, **changes):
    answer = await spend(api, amount_cents=amount, merchant_name="OpenAI", **changes)
    assert answer["status"] == "needs_approval", answer
    return answer


# -- the budget policy: Dino's quickstart answers -------------------------------------------------


def quickstart_view(answer):
    """The fields of Dino's quickstart examples (its ids are placeholders: req_123…)."""
    keys = ("status", "decision_reason", "budget_period", "remaining_budget_cents", "remaining_monthly_budget_cents",
            "amount_cents", "currency", "merchant_name")
    return {k: answer[k] for k in keys}


async def test_approved_as_in_dinos_quickstart(api):
    status, answer, headers = await api.request("POST", "/v1/spend", AWS)
    assert status == 201 and headers["Content-Type"].startswith("application/json")
    assert quickstart_view(answer) == {
        "status": "approved", "decision_reason": "Spend request approved", "budget_period": "monthly",
        "remaining_budget_cents": 38000, "remaining_monthly_budget_cents": 38000,
        "amount_cents": 12000, "currency": "usd", "merchant_name": "AWS",
    }
    assert answer["id"].startswith("req_") and len(answer["id"]) == 30 and answer["object"] == "spend_request"
    assert answer["approval_url"] is None and answer["expires_at"] is None
    assert answer["decided_at"] == answer["created_at"] == answer["updated_at"] == START
    assert answer["reason"] == AWS["reason"] and answer["metadata"] == {}
    assert answer["agent_account_id"].startswith("agent_") and answer["team_id"].startswith("team_")


async def test_needs_approval_as_in_dinos_quickstart(api):
    answer = await spend(api, amount_cents=60000, merchant_name="OpenAI")
    assert quickstart_view(answer) == {
        "status": "needs_approval", "decision_reason": "Amount requires approval", "budget_period": "monthly",
        "remaining_budget_cents": 50000, "remaining_monthly_budget_cents": 50000,
        "amount_cents": 60000, "currency": "usd", "merchant_name": "OpenAI",
    }
    assert answer["approval_url"].endswith(f"/_sandbox/dino/approvals/{answer['id']}")
    assert answer["approval_url"].startswith("http://127.0.0.1:")
    assert answer["decided_at"] is None and answer["expires_at"] == "2026-01-02T00:00:00.000Z"  # 24 h to decide


async def test_declined_as_in_dinos_quickstart(api):
    first = await spend(api, amount_cents=45000)
    assert (first["status"], first["remaining_budget_cents"]) == ("approved", 5000)
    answer = await spend(api)
    assert quickstart_view(answer) == {
        "status": "declined", "decision_reason": "Amount would exceed the budget for this period", "budget_period": "monthly",
        "remaining_budget_cents": 5000, "remaining_monthly_budget_cents": 5000,
        "amount_cents": 12000, "currency": "usd", "merchant_name": "AWS",
    }
    assert answer["decided_at"] == START and answer["approval_url"] is None
    assert await remaining(api) == (5000, 5000)  # a decline spends nothing


async def test_the_threshold_comes_before_the_budget(api):
    """Dino's own example asks 60000 with 50000 left and gets needs_approval: a person may go past the budget."""
    await spend(api, amount_cents=45000)
    answer = await spend(api, amount_cents=50000)  # at the threshold, and over what is left
    assert (answer["status"], answer["remaining_budget_cents"]) == ("needs_approval", 5000)
    exactly = await spend(api, amount_cents=5000)  # exactly what is left
    assert (exactly["status"], exactly["remaining_budget_cents"]) == ("approved", 0)
    assert (await spend(api, amount_cents=1))["status"] == "declined"


@pytest.mark.parametrize("metadata, status, reason", [
    ({"sandbox": "decline"}, "declined", "Declined by policy"),
    ({"sandbox": "needs_approval", "team": "ml"}, "needs_approval", "Amount requires approval"),
    ({"sandbox": "something_else"}, "approved", "Spend request approved"),
])
async def test_magic_metadata_markers(api, metadata, status, reason):
    answer = await spend(api, amount_cents=100, metadata=metadata)
    assert (answer["status"], answer["decision_reason"], answer["metadata"]) == (status, reason, metadata)


async def test_the_policy_is_set_on_the_control_plane(api):
    await set_policy(api, approval_threshold_cents=1000, max_transaction_cents=20000)
    assert (await spend(api, amount_cents=999))["status"] == "approved"
    assert (await spend(api, amount_cents=1000))["status"] == "needs_approval"
    over = await spend(api, amount_cents=20001)
    assert (over["status"], over["decision_reason"]) == ("declined", "Amount exceeds the maximum transaction size")
    await set_policy(api, max_transaction_cents=None, budget_cents=10**6, monthly_budget_cents=10**6, approval_threshold_cents=10**6)
    big = await spend(api, amount_cents=20001)
    assert (big["status"], big["remaining_budget_cents"]) == ("approved", 10**6 - 999 - 20001)


async def test_the_monthly_budget_starts_again_with_the_calendar_month(api):
    await spend(api, amount_cents=45000)
    assert (await spend(api))["status"] == "declined"
    await advance(api, 30 * 86400 + 86399)  # 2026-01-31T23:59:59
    assert (await spend(api))["status"] == "declined"
    await advance(api, 1)  # February
    answer = await spend(api)
    assert (answer["status"], answer["remaining_budget_cents"], answer["remaining_monthly_budget_cents"]) == ("approved", 38000, 38000)


async def test_a_weekly_budget_under_a_monthly_cap(api):
    """2026-01-01 is a Thursday: the week runs from Monday 2025-12-29 to Monday 2026-01-05."""
    account = await set_policy(api, budget_period="weekly", budget_cents=20000, monthly_budget_cents=30000)
    assert (account["budget_period"], account["remaining_budget_cents"], account["remaining_monthly_budget_cents"]) == (
        "weekly", 20000, 30000)
    first = await spend(api, amount_cents=15000)
    assert (first["budget_period"], first["remaining_budget_cents"], first["remaining_monthly_budget_cents"]) == ("weekly", 5000, 15000)
    over_week = await spend(api, amount_cents=10000)
    assert (over_week["status"], over_week["decision_reason"]) == ("declined", "Amount would exceed the budget for this period")
    await advance(api, 4 * 86400)  # Monday 2026-01-05: a new week, the same month
    second = await spend(api, amount_cents=10000)
    assert (second["status"], second["remaining_budget_cents"], second["remaining_monthly_budget_cents"]) == ("approved", 10000, 5000)
    over_month = await spend(api, amount_cents=6000)
    assert (over_month["status"], over_month["remaining_budget_cents"]) == ("declined", 10000)


async def test_a_daily_budget(api):
    await set_policy(api, budget_period="daily", budget_cents=1000)
    assert (await spend(api, amount_cents=1000))["remaining_budget_cents"] == 0
    assert (await spend(api, amount_cents=1))["status"] == "declined"
    await advance(api, 86400)
    answer = await spend(api, amount_cents=1)
    assert (answer["status"], answer["remaining_budget_cents"], answer["remaining_monthly_budget_cents"]) == ("approved", 999, 48999)


# -- the operator: approve, decline, cancel; expiry -----------------------------------------------


async def test_the_operator_approves_and_the_budget_goes_down(api):
    await set_policy(api, approval_threshold_cents=10000)
    asked = await waiting(api, amount=20000)
    await advance(api, 60)
    status, approved = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve", {"reason": "Within plan"})
    assert status == 200
    assert (approved["status"], approved["decision_reason"], approved["decided_at"]) == (
        "approved", "Within plan", "2026-01-01T00:01:00.000Z")
    assert (approved["remaining_budget_cents"], approved["remaining_monthly_budget_cents"]) == (30000, 30000)
    assert approved["approval_url"] is None and approved["expires_at"] is None
    _, read, _ = await api.request("GET", f"/v1/spend-requests/{asked['id']}")
    assert read == approved
    assert await remaining(api) == (30000, 30000)
    status, again = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve")
    assert status == 409 and again["error"]["code"] == "invalid_state"
    assert again["error"]["details"] == {"reason": "invalid_state", "status": "approved", "allowed_statuses": ["needs_approval"]}
    assert [e["type"] for e in await api.events(object_id=asked["id"])] == ["spend_request.created", "spend_request.approved"]


async def test_an_operator_approval_may_go_past_the_budget(api):
    asked = await waiting(api, amount=60000)
    _, approved = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve")
    assert (approved["decision_reason"], approved["remaining_budget_cents"]) == ("Approved by operator", 0)
    assert (await spend(api, amount_cents=1))["status"] == "declined"


@pytest.mark.parametrize("action, status, reason, event", [
    ("decline", "declined", "Declined by operator", "spend_request.declined"),
    ("cancel", "cancelled", "Cancelled by operator", "spend_request.cancelled"),
])
async def test_the_operator_declines_or_cancels(api, action, status, reason, event):
    asked = await waiting(api)
    code, answer = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/{action}")
    assert code == 200 and (answer["status"], answer["decision_reason"], answer["decided_at"]) == (status, reason, START)
    assert await remaining(api) == (50000, 50000)
    assert [e["type"] for e in await api.events(object_id=asked["id"])] == ["spend_request.created", event]
    code, again = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve")
    assert code == 409 and again["error"]["details"]["status"] == status
    code, reasoned = await api.control("POST", f"/_sandbox/dino/spend-requests/{(await waiting(api))['id']}/{action}",
                                       {"reason": "Duplicate request"})
    assert (code, reasoned["decision_reason"]) == (200, "Duplicate request")


async def test_the_operator_routes_refuse_bad_input(api):
    asked = await waiting(api)
    code, answer = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve", {"reason": ""})
    assert code == 400 and answer["error"]["details"]["field"] == "reason"
    code, answer = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve", {"note": "x"})
    assert code == 400 and answer["error"]["details"]["field"] == "note"
    code, answer = await api.control("POST", "/_sandbox/dino/spend-requests/req_nope/cancel")
    assert code == 404 and answer["error"]["code"] == "not_found"
    assert (await api.request("GET", f"/v1/spend-requests/{asked['id']}"))[1]["status"] == "needs_approval"


async def test_a_request_nobody_decides_is_cancelled_at_its_timeout(api):
    asked = await waiting(api)
    await advance(api, 86399)
    assert (await api.request("GET", f"/v1/spend-requests/{asked['id']}"))[1]["status"] == "needs_approval"
    await advance(api, 1)
    events = await api.events(object_id=asked["id"])  # fired by the clock, before anything reads it
    assert [e["type"] for e in events] == ["spend_request.created", "spend_request.cancelled"]
    assert events[-1]["occurred_at"] == "2026-01-02T00:00:00.000Z"
    _, read, _ = await api.request("GET", f"/v1/spend/{asked['id']}")
    assert (read["status"], read["decision_reason"], read["decided_at"]) == (
        "cancelled", "Approval request expired", "2026-01-02T00:00:00.000Z")
    assert read["approval_url"] is None and read["expires_at"] is None
    code, late = await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve")
    assert code == 409 and late["error"]["details"]["status"] == "cancelled"


async def test_the_timeout_is_part_of_the_policy(api):
    await set_policy(api, approval_timeout_seconds=600)
    asked = await waiting(api)
    assert asked["expires_at"] == "2026-01-01T00:10:00.000Z"
    await advance(api, 600)
    assert (await api.request("GET", f"/v1/spend-requests/{asked['id']}"))[1]["status"] == "cancelled"


# -- reads, lists, scope --------------------------------------------------------------------------


async def test_current_and_legacy_paths_serve_the_same_objects(api):
    current = await spend(api)
    legacy = await spend(api, path="/v1/spend", amount_cents=100)
    for one in (current, legacy):
        for path in ("/v1/spend-requests/", "/v1/spend/"):
            status, read, _ = await api.request("GET", path + one["id"])
            assert (status, read) == (200, one)


async def test_another_key_sees_nothing(api):
    mine = await spend(api)
    for path in ("/v1/spend-requests/", "/v1/spend/"):
        status, answer, _ = await api.as_key(OTHER_KEY).request("GET", path + mine["id"])
        assert status == 404 and answer["error"]["code"] == "not_found"
        assert answer["error"]["message"].startswith(f"Spend request {mine['id']} not found in the current scope")
    status, answer, _ = await api.request("GET", "/v1/spend-requests/req_nope")
    assert status == 404 and answer["error"] == {
        "code": "not_found", "message": "Spend request req_nope not found in the current scope", "details": {"id": "req_nope"},
    }
    _, theirs, _ = await api.as_key(OTHER_KEY).request("GET", "/v1/accounts")
    assert theirs["data"][0]["remaining_budget_cents"] == 50000  # budgets are per key


async def test_keys_are_checked_first(api):
    for key, status, code in [(None, 401, "invalid_api_key"), ("din_live_x", 401, "invalid_api_key"), ("nope", 401, "invalid_api_key")]:
        answer = await api.as_key(key).request("POST", "/v1/spend-requests", {"amount_cents": "bad"})
        assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    await api.control("POST", f"/_sandbox/dino/api-keys/{OTHER_KEY}/revoke")
    routes = [("POST", "/v1/spend-requests"), ("POST", "/v1/spend"), ("GET", "/v1/spend-requests/req_x"), ("GET", "/v1/spend/req_x")]
    for method, path in routes:
        status, answer, _ = await api.as_key(OTHER_KEY).request(method, path, AWS if method == "POST" else None)
        assert (status, answer["error"]["code"]) == (403, "revoked_api_key")


async def test_the_list_is_newest_first_and_filters(api):
    await set_policy(api, approval_threshold_cents=10000)
    made = [await spend(api, amount_cents=cents) for cents in (100, 20000, 200, 30000)]
    status, page, _ = await api.request("GET", "/v1/spend-requests?limit=3")
    assert status == 200 and page["object"] == "list" and page["has_more"] is True
    assert [r["id"] for r in page["data"]] == [r["id"] for r in made[::-1][:3]] and page["next_cursor"] == made[1]["id"]
    _, rest, _ = await api.request("GET", f"/v1/spend-requests?limit=3&starting_after={page['next_cursor']}")
    assert [r["id"] for r in rest["data"]] == [made[0]["id"]] and rest["next_cursor"] is None
    _, pending, _ = await api.request("GET", "/v1/spend-requests?status=needs_approval")
    assert [r["id"] for r in pending["data"]] == [made[3]["id"], made[1]["id"]]
    status, bad, _ = await api.request("GET", "/v1/spend-requests?starting_after=req_nope")
    assert status == 400 and bad["error"]["details"]["field"] == "starting_after"
    status, bad, _ = await api.request("GET", "/v1/spend-requests?status=created")
    assert status == 400 and bad["error"]["details"]["field"] == "status"
    _, theirs, _ = await api.as_key(OTHER_KEY).request("GET", "/v1/spend-requests")
    assert theirs["data"] == []


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, field", [
    ({"amount_cents": None}, "amount_cents"),
    ({"amount_cents": "12000"}, "amount_cents"),
    ({"amount_cents": 0}, "amount_cents"),
    ({"amount_cents": 120.5}, "amount_cents"),
    ({"currency": "eur"}, "currency"),
    ({"currency": None}, "currency"),
    ({"merchant_name": ""}, "merchant_name"),
    ({"reason": "x" * 501}, "reason"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"amount": 12000}, "amount"),
])
async def test_bad_bodies_are_refused_and_store_nothing(api, changes, field):
    sent = {k: v for k, v in body(**changes).items() if not (k in changes and changes[k] is None)}
    status, answer, _ = await api.request("POST", "/v1/spend-requests", sent)
    assert status == 400 and answer["error"]["code"] == "invalid_request"
    assert answer["error"]["details"]["field"] == field
    assert (await api.request("GET", "/v1/spend-requests"))[1]["data"] == []
    assert await api.events(provider="dino") == []


async def test_a_body_that_is_not_an_object(api):
    status, answer, _ = await api.request("POST", "/v1/spend", [AWS])
    assert (status, answer["error"]["details"]["field"]) == (400, "body")
    status, answer, _ = await api.request("POST", "/v1/spend", data=b"{", headers={"Content-Type": "application/json"})
    assert (status, answer["error"]["code"]) == (400, "invalid_request")


# -- idempotency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/spend-requests", "/v1/spend"])
async def test_the_idempotency_header_replays_the_first_answer(api, path):
    first = await spend(api, path=path, headers={"Idempotency-Key": "k-1"})
    status, again, headers = await api.request("POST", path, AWS, headers={"Idempotency-Key": "k-1"})
    assert (status, again) == (201, first) and headers["Idempotent-Replayed"] == "true"
    assert await remaining(api) == (38000, 38000)  # counted once
    status, conflict, _ = await api.request("POST", path, body(amount_cents=1), headers={"Idempotency-Key": "k-1"})
    assert status == 409 and conflict["error"]["code"] == "idempotency_key_conflict"
    assert [e["type"] for e in await api.events(provider="dino")] == ["spend_request.created", "spend_request.approved"]


async def test_the_legacy_body_key_replays_the_first_answer(api):
    first = await spend(api, path="/v1/spend", idempotency_key="job-42")
    assert "idempotency_key" not in first
    again = await spend(api, path="/v1/spend-requests", idempotency_key="job-42")  # one key per API key, on both paths
    assert again == first
    assert await remaining(api) == (38000, 38000)
    status, conflict, _ = await api.request("POST", "/v1/spend", body(amount_cents=1, idempotency_key="job-42"))
    assert status == 409 and conflict["error"] == {
        "code": "idempotency_key_conflict", "message": "idempotency_key 'job-42' was already used with a different spend request",
        "details": {"idempotency_key": "job-42"},
    }
    other = await api.as_key(OTHER_KEY).request("POST", "/v1/spend", body(idempotency_key="job-42"))
    assert other[0] == 201 and other[1]["id"] != first["id"]
    assert len((await api.request("GET", "/v1/spend-requests"))[1]["data"]) == 1


# -- events and webhooks --------------------------------------------------------------------------


async def test_each_decision_records_dinos_spend_events(api):
    approved = await spend(api, amount_cents=100)
    declined = await spend(api, amount_cents=100, metadata={"sandbox": "decline"})
    asked = await waiting(api)
    expected = {approved["id"]: ["spend_request.created", "spend_request.approved"],
                declined["id"]: ["spend_request.created", "spend_request.declined"],
                asked["id"]: ["spend_request.created"]}  # Dino lists no needs_approval event for spend
    for obj_id, types in expected.items():
        events = await api.events(object_id=obj_id)
        assert [e["type"] for e in events] == types
        trace = events[0]["payload"]["request_id"]
        assert trace.startswith("req_trace_") and all(e["payload"]["request_id"] == trace for e in events)
        for event in events:
            payload = event["payload"]
            assert set(payload) == {"id", "type", "occurred_at", "request_id", "data"} and payload["id"] == event["id"]
            assert payload["occurred_at"] == START and event["tenant"] == KEY
            assert set(payload["data"]) == {"spend"} and payload["data"]["spend"]["id"] == obj_id
    assert (await api.events(object_id=asked["id"]))[0]["payload"]["data"]["spend"]["status"] == "needs_approval"
    assert {e["type"] for e in await api.events(provider="dino")} <= set(SPEND_EVENTS)


async def test_spend_webhooks_are_signed_as_dinos_other_events(make_api, receiver):
    api = await make_api(webhook_retry_schedule=(0.1,), webhook_timeout_seconds=1.0)
    status, endpoint = await api.control("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url})
    assert status == 201
    asked = await waiting(api)
    await api.control("POST", f"/_sandbox/dino/spend-requests/{asked['id']}/approve", {"reason": "Approved by operator"})
    status, flushed = await api.control("POST", "/_sandbox/webhooks/flush?timeout=5")
    assert status == 200 and flushed["flushed"] is True
    secret = endpoint["secret"].encode()
    payloads = []
    for headers, raw in receiver.requests:
        t = headers["Dino-Signature"].split(",")[0].removeprefix("t=")
        v1 = headers["Dino-Signature"].split(",")[1].removeprefix("v1=")
        assert hmac.compare_digest(v1, hmac.new(secret, f"{t}.".encode() + raw, hashlib.sha256).hexdigest())
        assert hmac.compare_digest(headers["X-Dino-Signature-Sha256"], hmac.new(secret, raw, hashlib.sha256).hexdigest())
        payload = json.loads(raw)
        assert headers["Dino-Event-Id"] == payload["id"] and headers["Dino-Event-Type"] == payload["type"]
        assert headers["Dino-Delivery-Attempt"] == "1" and headers["Dino-Request-Id"] == payload["request_id"]
        payloads.append(payload)
    assert [p["type"] for p in payloads] == ["spend_request.created", "spend_request.approved"]
    spent = payloads[-1]["data"]["spend"]
    assert (spent["status"], spent["decision_reason"], spent["decided_at"]) == ("approved", "Approved by operator", START)
    assert spent == (await api.request("GET", f"/v1/spend-requests/{asked['id']}"))[1]


# -- scenario rules -------------------------------------------------------------------------------


async def load(api, text):
    async with api.client.post("/_sandbox/scenarios", data=text.encode(), headers={"Content-Type": "application/yaml"}) as resp:
        return resp.status, await resp.json()


async def test_a_rule_decides_a_spend_request_and_its_timed_decision_follows_the_clock(api):
    status, _ = await load(api, """
name: spend-waits
rules:
  - provider: dino
    on: spend_request
    when: {request.merchant_name: OpenAI, account.remaining_budget_cents: {gte: 100}}
    then: {status: needs_approval, decision_reason: New merchant, after: {seconds: 300, status: approved}}
""")
    assert status == 201
    asked = await spend(api, amount_cents=100, merchant_name="OpenAI")  # the budget policy alone would approve
    assert (asked["status"], asked["decision_reason"]) == ("needs_approval", "New merchant")
    assert (await spend(api, amount_cents=100))["status"] == "approved"  # AWS: the rule does not match
    await advance(api, 300)
    _, read, _ = await api.request("GET", f"/v1/spend-requests/{asked['id']}")
    assert (read["status"], read["decision_reason"], read["decided_at"]) == ("approved", "Approved by operator", "2026-01-01T00:05:00.000Z")
    assert read["remaining_budget_cents"] == 49800
    assert [e["type"] for e in await api.events(object_id=asked["id"])] == ["spend_request.created", "spend_request.approved"]


async def test_a_rule_may_decline(api):
    await load(api, "name: no\nrules:\n  - {provider: dino, on: spend_request, then: {status: declined}}\n")
    answer = await spend(api, amount_cents=100)
    assert (answer["status"], answer["decision_reason"], answer["remaining_budget_cents"]) == ("declined", "Declined by policy", 50000)


# -- the approval page ----------------------------------------------------------------------------


async def page(api, path, form=None):
    method = "POST" if form is not None else "GET"
    async with api.client.request(method, path, data=form, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers


def message_of(text):
    """What the page posts to the window that opened it (its outcome panel's data-message)."""
    found = re.search(r'data-message="([^"]*)"', text)
    return json.loads(html.unescape(found.group(1))) if found else None


async def test_the_approval_page_decides_a_spend_request(api):
    asked = await waiting(api, reason="Fine-tuning run")
    path = f"/_sandbox/dino/approvals/{asked['id']}"
    assert asked["approval_url"].endswith(path)
    status, text, headers = await page(api, path)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "Approve this spend?" in text and "600.00 USD" in text and "Fine-tuning run" in text and ">Decline<" in text
    assert "Amount requires approval" in text and "2026-01-02T00:00:00.000Z" in text
    status, _, headers = await page(api, path, {"decision": "approve", "reason": "Go ahead"})
    assert status == 303 and headers["Location"].startswith(path)
    _, read, _ = await api.request("GET", f"/v1/spend-requests/{asked['id']}")
    assert (read["status"], read["decision_reason"]) == ("approved", "Go ahead")
    status, text, _ = await page(api, path)
    assert status == 200 and "Spend approved" in text and "<form" not in text
    assert message_of(text) == {"source": "sandbox", "provider": "dino", "step": "approval", "id": asked["id"],
                                "outcome": "succeeded", "status": "approved"}
    status, text, _ = await page(api, path, {"decision": "deny"})
    assert status == 409 and "Cannot decline spend request" in text


async def test_the_approval_page_declines_and_shows_a_cancellation(api):
    declined, cancelled = await waiting(api), await waiting(api)
    await page(api, f"/_sandbox/dino/approvals/{declined['id']}", {"decision": "deny"})
    _, read, _ = await api.request("GET", f"/v1/spend-requests/{declined['id']}")
    assert (read["status"], read["decision_reason"]) == ("declined", "Declined by operator")
    await api.control("POST", f"/_sandbox/dino/spend-requests/{cancelled['id']}/cancel")
    status, text, _ = await page(api, f"/_sandbox/dino/approvals/{cancelled['id']}")
    assert status == 200 and "Spend request cancelled" in text and "<form" not in text
    assert message_of(text) == {"source": "sandbox", "provider": "dino", "step": "approval", "id": cancelled["id"],
                                "outcome": "cancelled", "status": "cancelled"}
    status, text, _ = await page(api, "/_sandbox/dino/approvals/req_nope")
    assert status == 404 and "Spend request not found" in text
