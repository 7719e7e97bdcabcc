"""Bad input and odd sequences on the Basis Theory platform API, found by review."""

import pytest

KEY = {"BT-API-KEY": "key_test_edges"}
DEVICE = {"screen_height": 1, "screen_width": 1, "user_agent_string": "x", "language_code": "en", "time_zone": "UTC",
          "java_script_enabled": True, "client_device_id": "d", "client_reference_id": "r", "platform_type": "WEB"}


class Platform:
    def __init__(self, client):
        self.client = client

    async def call(self, method, path, body=None, headers=None):
        async with self.client.request(method, path, json=body, headers={**KEY, **(headers or {})}) as resp:
            return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())

    async def ok(self, method, path, body=None, status=200):
        got, answer = await self.call(method, path, body)
        assert got == status, answer
        return answer

    async def approved_instruction(self, number="4000056655665556", amount="10.00"):
        token = await self.ok(
            "POST", "/tokens", {"type": "card", "data": {"number": number, "expiration_month": 12, "expiration_year": 2030}}, 201
        )
        enrollment = await self.ok("POST", "/agentic/enrollments", {"token_id": token["id"], "consumer": {"email": "a@example.com"}}, 201)
        await self.ok("POST", f"/agentic/enrollments/{enrollment['id']}/verify", {"device_context": DEVICE})
        agent = await self.ok("POST", "/agentic/agents", {"name": "A"}, 201)
        path = f"/agentic/agents/{agent['id']}/instructions"
        instruction = await self.ok("POST", path, {"enrollment_id": enrollment["id"], "amount": {"value": amount},
                                                  "description": "d", "expires_at": "2026-06-01T00:00:00Z"}, 201)
        await self.ok("POST", f"{path}/{instruction['id']}/verify", {"device_context": DEVICE})
        return enrollment, agent, f"{path}/{instruction['id']}"


@pytest.fixture
async def bt(make_api):
    return Platform((await make_api()).client)


MERCHANT = {"name": "Shop", "url": "https://shop.example.com", "country_code": "US"}


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "not a date"])
async def test_out_of_range_expiry_is_400(bt, expires_at):
    _, _, path = await bt.approved_instruction()
    status, problem = await bt.call("PATCH", path, {"expires_at": expires_at})
    assert status == 400 and "expires_at" in problem["errors"]


async def test_patch_cannot_move_expiry_into_the_past(bt):
    _, _, path = await bt.approved_instruction()
    status, problem = await bt.call("PATCH", path, {"expires_at": "2025-01-01T00:00:00Z"})
    assert status == 400 and "expires_at" in problem["errors"]


async def test_a_refused_patch_changes_nothing(bt):
    _, _, path = await bt.approved_instruction(amount="10.00")
    before = await bt.ok("GET", path)
    status, problem = await bt.call("PATCH", path, {"amount": {"value": "99.00"}, "expires_at": "2025-01-01T00:00:00Z"})
    assert status == 400 and "expires_at" in problem["errors"]
    assert await bt.ok("GET", path) == before  # still approved, still 10.00


async def test_raising_the_amount_needs_verification_again(bt):
    _, _, path = await bt.approved_instruction(amount="10.00")
    updated = await bt.ok("PATCH", path, {"amount": {"value": "99999.00"}})
    assert updated["status"] == "pending_verification"
    status, _ = await bt.call("POST", f"{path}/credentials", {"merchant": MERCHANT, "amount": {"value": "5000.00"}})
    assert status == 422


async def test_deleted_enrollments_and_agents_get_no_credentials(bt):
    enrollment, agent, path = await bt.approved_instruction()
    await bt.ok("DELETE", f"/agentic/enrollments/{enrollment['id']}", status=204)
    assert (await bt.call("POST", f"{path}/credentials", {"merchant": MERCHANT}))[0] == 422
    _, agent2, path2 = await bt.approved_instruction()
    await bt.ok("DELETE", f"/agentic/agents/{agent2['id']}", status=204)
    assert (await bt.call("GET", path2))[0] == 404


async def test_enrollment_agents_are_checked_and_deduplicated(bt):
    token = await bt.ok(
        "POST", "/tokens", {"type": "card", "data": {"number": "4242424242424242", "expiration_month": 12, "expiration_year": 2030}}, 201
    )
    status, problem = await bt.call(
        "POST", "/agentic/enrollments", {"token_id": token["id"], "consumer": {"email": "a@example.com"}, "agent_id": "nope"}
    )
    assert status == 400 and "agent_id" in problem["errors"]
    agent = await bt.ok("POST", "/agentic/agents", {"name": "A"}, 201)
    enrollment = await bt.ok("POST", "/agentic/enrollments", {"token_id": token["id"], "consumer": {"email": "a@example.com"},
                                                             "agent_ids": [agent["id"], agent["id"]]}, 201)
    assert enrollment["agent_ids"] == [agent["id"]]
    assert (await bt.ok("GET", f"/agentic/agents/{agent['id']}"))["enrollment_ids"] == [enrollment["id"]]


async def test_list_queries_never_get_an_undeclared_400(bt):
    assert (await bt.ok("GET", "/agentic/enrollments?limit=500"))["pagination"]["next_cursor"] is None
    page = await bt.ok("GET", "/agentic/enrollments?cursor=zzz")
    assert page == {"data": [], "pagination": {"next_cursor": None, "has_more": False}}


@pytest.mark.parametrize("amount", ["Infinity", "1_000", " 5 ", "+5", "NaN"])
async def test_amounts_are_plain_decimals(bt, amount):
    _, _, path = await bt.approved_instruction()
    status, problem = await bt.call("PATCH", path, {"amount": {"value": amount}})
    assert status == 400 and "amount.value" in problem["errors"]


async def test_negative_prices_are_400(bt):
    _, _, path = await bt.approved_instruction()
    status, problem = await bt.call(
        "POST", f"{path}/credentials", {"merchant": MERCHANT, "products": [{"name": "x", "price": -1000, "quantity": 1}]}
    )
    assert status == 400 and "products.0.price" in problem["errors"]


async def test_control_plane_endpoints_show_on_the_webhooks_routes(bt):
    async with bt.client.post(
        "/_sandbox/webhook-endpoints", json={"provider": "btplatform", "tenant": "key_test_edges", "url": "http://x.test/h"}
    ) as resp:
        endpoint = await resp.json()
    listed = await bt.ok("GET", "/webhooks")
    assert [w["id"] for w in listed["data"]] == [endpoint["id"]] and listed["data"][0]["tenant_id"]
    replaced = await bt.ok("PUT", f"/webhooks/{endpoint['id']}", {"name": "n", "url": "http://y.test/h", "events": ["token.created"]})
    assert replaced["url"] == "http://y.test/h"


async def test_the_challenge_page_survives_odd_forms(bt):
    token = await bt.ok(
        "POST", "/tokens", {"type": "card", "data": {"number": "4000000000003220", "expiration_month": 12, "expiration_year": 2030}}, 201
    )
    session = await bt.ok("POST", "/3ds/sessions", {"token_id": token["id"], "device": "browser"}, 201)
    auth = await bt.ok(
        "POST",
        f"/3ds/sessions/{session['id']}/authenticate",
        {"authentication_category": "payment", "authentication_type": "payment-transaction"},
    )
    page = "/" + auth["acs_challenge_url"].split("/", 3)[3]
    async with bt.client.post(page, data=b"x", headers={"Content-Type": "application/x-www-form-urlencoded; charset=bogus-cs"}) as resp:
        assert resp.status == 400
    async with bt.client.post(page, data={}) as resp:
        assert resp.status == 200 and "123456" in await resp.text()  # asked again
    async with bt.client.post(page, data={"code": "123456", "action": "submit"}) as resp:
        assert "successful" in await resp.text()
