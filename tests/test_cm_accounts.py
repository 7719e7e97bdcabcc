"""Crossmint auth, tenancy, agents, payment methods and agentic enrollment."""

import time

import jwt
import pytest

from tests.cm import Cm

# -- auth and tenancy ------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "sk_test_abc", "pk_staging_abc", "sk_staging_"])
async def test_missing_or_unknown_keys_are_401(cm, key):
    status, body, _ = await cm.as_(key=key).request("GET", "/agents")
    assert status == 401 and body["statusCode"] == 401 and body["error"] == "Unauthorized" and body["message"]


async def test_production_keys_are_refused_with_a_reason(cm):
    status, body, _ = await cm.as_(key="sk_production_abc").request("GET", "/agents")
    assert status == 401 and "staging" in body["message"]


async def test_client_and_server_keys_of_one_project_share_it(cm):
    agent = await cm.as_(key="sk_staging_shop").agent()
    listed = await cm.as_(key="ck_staging_shop").ok("GET", "/agents")
    assert [a["agentId"] for a in listed] == [agent]
    assert await cm.as_(key="ck_staging_other").ok("GET", "/agents") == []


def user_jwt(sub, **claims):
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, **claims}, "k" * 32, algorithm="HS256")


async def test_resources_belong_to_the_jwt_user(cm):
    alice, bob = cm.as_(jwt=user_jwt("alice")), cm.as_(jwt=user_jwt("bob"))
    agent = await alice.agent()
    assert await bob.ok("GET", "/agents") == []
    assert (await bob.request("GET", f"/agents/{agent}"))[0] == 404
    assert [a["agentId"] for a in await alice.ok("GET", "/agents")] == [agent]
    assert await cm.ok("GET", "/agents") == []  # no JWT: the key's default user


@pytest.mark.parametrize(
    "token, code",
    [(lambda: "garbage", "ERROR_JWT_INVALID"), (lambda: user_jwt("a", exp=int(time.time()) - 5), "ERROR_JWT_EXPIRED"),
     (lambda: jwt.encode({"exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256"), "ERROR_JWT_IDENTIFIER_ERROR")],
)
async def test_bad_user_jwts_are_401_with_crossmints_codes(cm, token, code):
    status, body, _ = await cm.as_(jwt=token()).request("GET", "/agents")
    assert (status, body["code"]) == (401, code)


# -- agents ----------------------------------------------------------------------------------


async def test_agent_crud(cm):
    status, created, _ = await cm.request("POST", "/agents", {"metadata": {"name": "Shopper", "description": "buys milk"}})
    assert status == 201 and created["metadata"] == {"name": "Shopper", "description": "buys milk"}
    agent = created["agentId"]
    assert len(agent) == 36 and agent.count("-") == 4
    assert await cm.ok("GET", f"/agents/{agent}") == created
    updated = await cm.ok("PATCH", f"/agents/{agent}", {"metadata": {"name": "Renamed"}})
    assert updated == {"agentId": agent, "metadata": {"name": "Renamed"}}
    assert await cm.ok("GET", "/agents") == [updated]
    status, body, _ = await cm.request("DELETE", f"/agents/{agent}")
    assert (status, body) == (204, "")
    assert (await cm.request("GET", f"/agents/{agent}"))[0] == 404


@pytest.mark.parametrize(
    "body, field",
    [({}, "metadata"), ({"metadata": {}}, "metadata.name"), ({"metadata": {"name": ""}}, "metadata.name"),
     ({"metadata": {"name": "A", "imageUrl": "nope"}}, "metadata.imageUrl")],
)
async def test_agent_validation(cm, body, field):
    status, resp, _ = await cm.request("POST", "/agents", body)
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"])


# -- payment methods -------------------------------------------------------------------------


async def test_payment_method_shape_without_the_pan(cm):
    body = {"card": {"number": "5186161910000103", "expiration": {"month": "03", "year": "2031"}, "cvc": "999"},
            "billing": {"name": "Jane Doe", "address": {"line1": "1 Main St", "city": "NYC", "postalCode": "10001", "country": "US"}}}
    status, created, _ = await cm.request("POST", "/payment-methods", body)
    assert status == 201
    assert created["type"] == "card" and created["paymentMethodId"].startswith("pm_")
    card = created["card"]
    assert (card["brand"], card["last4"], card["bin"], card["expiration"]) == (
        "mastercard",
        "0103",
        "518616",
        {"month": "03", "year": "2031"},
    )
    assert card["source"]["type"] == "basis-theory-token" and card["billing"]["name"] == "Jane Doe"
    assert "5186161910000103" not in str(created) and "999" not in str(created)
    assert await cm.ok("GET", f"/payment-methods/{created['paymentMethodId']}") == created


@pytest.mark.parametrize(
    "card, field",
    [({"number": "4242424242424241", "expiration": {"month": "12", "year": "2030"}}, "card.number"),
     ({"number": "4242424242424242", "expiration": {"month": "13", "year": "2030"}}, "card.expiration.month"),
     ({"number": "4242424242424242", "expiration": {"month": "12", "year": "2020"}}, "card.expiration")],
)
async def test_bad_cards_name_the_field(cm, card, field):
    status, body, _ = await cm.request("POST", "/payment-methods", {"card": card})
    assert status == 400 and any(m.startswith(field + " ") for m in body["message"]), body


async def test_payment_methods_page_with_a_cursor(cm):
    ids = [await cm.payment_method() for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = await cm.ok("GET", "/payment-methods?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [m["paymentMethodId"] for m in page["data"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    status, body, _ = await cm.request("GET", "/payment-methods?cursor=pm_nope")
    assert status == 400 and any(m.startswith("cursor ") for m in body["message"])


async def test_delete_payment_method(cm):
    method = await cm.payment_method()
    assert (await cm.request("DELETE", f"/payment-methods/{method}"))[:2] == (204, "")
    assert (await cm.request("GET", f"/payment-methods/{method}"))[0] == 404


# -- agentic enrollment ----------------------------------------------------------------------


def enrollment_path(method):
    return f"/payment-methods/{method}/agentic-enrollment"


async def test_enrollment_is_404_until_started(cm):
    method = await cm.payment_method()
    status, body, _ = await cm.request("GET", enrollment_path(method))
    assert status == 404 and body["statusCode"] == 404


async def test_pending_enrollment_completes_by_control_or_by_time(cm):
    first, second = await cm.payment_method(), await cm.payment_method()
    pending = await cm.ok("POST", enrollment_path(first), {"email": "jane@example.com"}, 201)
    assert pending["enrollmentId"].startswith("enr_") and pending["status"] == "pending"
    assert pending["verificationConfig"]["environment"] == "test" and pending["verificationConfig"]["publicApiKey"].startswith("key_test_")
    assert await cm.ok("POST", enrollment_path(first), {}, 201) == pending  # a pending one is reused
    status, done = await cm.control(f"/_sandbox/crossmint/enrollments/{pending['enrollmentId']}/complete")
    assert (status, done) == (200, {"enrollmentId": pending["enrollmentId"], "status": "active"})
    assert await cm.ok("GET", enrollment_path(first)) == done
    await cm.ok("POST", enrollment_path(second), {}, 201)
    await cm.control("/_sandbox/clock/advance", {"seconds": 60})
    assert (await cm.ok("GET", enrollment_path(second)))["status"] == "active"
    async with cm.client.get(f"/_sandbox/events?provider=crossmint&object_id={second}") as resp:
        events = [(e["type"], e["occurred_at"]) for e in (await resp.json())["data"]]
    assert events == [("payment-methods.agentic-enrollment.pending", "2026-01-01T00:00:00.000Z"),
                      ("payment-methods.agentic-enrollment.active", "2026-01-01T00:01:00.000Z")]


@pytest.mark.parametrize("number", ["4242424242424242", "4000056655665556"])
async def test_some_cards_enroll_at_once(cm, number):
    method = await cm.payment_method(number)
    assert await cm.ok("POST", enrollment_path(method), {}, 201) == {
        "enrollmentId": (await cm.ok("GET", enrollment_path(method)))["enrollmentId"],
        "status": "active",
    }


@pytest.mark.parametrize("number", ["4539097887163333", "378282246310005"])
async def test_ineligible_cards_cannot_enroll(cm, number):
    method = await cm.payment_method(number)
    status, body, _ = await cm.request("POST", enrollment_path(method), {})
    assert status == 422 and body["code"] == "CARD_NOT_ELIGIBLE"


async def test_a_card_declined_by_its_issuer_fails(cm):
    method = await cm.payment_method("4929544240318920")
    assert (await cm.ok("POST", enrollment_path(method), {}, 201))["status"] == "failed"
    assert (await cm.ok("POST", enrollment_path(method), {}, 201))["status"] == "failed"


async def test_a_retryable_failure_succeeds_on_retry(cm):
    method = await cm.payment_method("4000000000003063")
    first = await cm.ok("POST", enrollment_path(method), {}, 201)
    assert first["status"] == "failed"
    second = await cm.ok("POST", enrollment_path(method), {}, 201)
    assert second["status"] == "pending" and second["enrollmentId"] != first["enrollmentId"]


async def test_completing_twice_is_409(cm):
    method = await cm.payment_method()
    pending = await cm.ok("POST", enrollment_path(method), {}, 201)
    await cm.control(f"/_sandbox/crossmint/enrollments/{pending['enrollmentId']}/complete", {"outcome": "failed"})
    assert (await cm.ok("GET", enrollment_path(method)))["status"] == "failed"
    status, body = await cm.control(f"/_sandbox/crossmint/enrollments/{pending['enrollmentId']}/complete")
    assert status == 409 and body["error"]["details"]["status"] == "failed"


async def test_enrollment_email_is_validated(cm):
    method = await cm.payment_method()
    status, body, _ = await cm.request("POST", enrollment_path(method), {"email": ".jane@example.com"})
    assert status == 400 and any(m.startswith("email ") for m in body["message"])


async def test_full_flow_is_deterministic(make_api):
    results = []
    for _ in range(2):
        cm = Cm((await make_api(seed=11)).client)
        intent = await cm.active_intent()
        results.append((intent, (await cm.credentials(intent["orderIntentId"]))[1]))
    assert results[0] == results[1]


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc"])
async def test_a_malformed_authorization_header_is_401(cm, header):
    status, body, _ = await cm.request("GET", "/agents", headers={"Authorization": header})
    assert (status, body["code"]) == (401, "ERROR_JWT_INVALID")
