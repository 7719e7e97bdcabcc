"""The control plane: health, clock, reset and the event log."""

import pytest

from tests.conftest import OTHER_KEY, START


async def test_health(api):
    status, body = await api.control("GET", "/_sandbox/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["providers"] == ["dino", "crossmint", "basistheory", "btplatform"]
    assert body["version"] and body["seed"] == 7
    assert body["clock"] == {"now": START, "frozen": True, "offset_seconds": body["clock"]["offset_seconds"]}


async def test_clock_advance_moves_timestamps(api):
    status, clock = await api.control("POST", "/_sandbox/clock/advance", {"seconds": 90.5})
    assert (status, clock["now"]) == (200, "2026-01-01T00:01:30.500Z")
    intent = await api.create()
    assert intent["created_at"] == "2026-01-01T00:01:30.500Z"


async def test_clock_can_be_set_and_unfrozen(api):
    status, clock = await api.control("POST", "/_sandbox/clock", {"now": "2030-05-06T07:08:09Z"})
    assert (status, clock["now"], clock["frozen"]) == (200, "2030-05-06T07:08:09.000Z", True)
    status, clock = await api.control("POST", "/_sandbox/clock", {"frozen": False})
    assert clock["frozen"] is False and clock["now"].startswith("2030-05-06T07:08")
    status, clock = await api.control("GET", "/_sandbox/clock")
    assert clock["now"].startswith("2030-05-06T07:08")


async def test_real_time_clock_by_default(make_api):
    api = await make_api(clock=None)
    _, clock = await api.control("GET", "/_sandbox/clock")
    assert clock["frozen"] is False
    _, advanced = await api.control("POST", "/_sandbox/clock/advance", {"seconds": 3600})
    assert advanced["offset_seconds"] >= 3599


async def test_bad_clock_values(api):
    status, body = await api.control("POST", "/_sandbox/clock", {"now": "yesterday"})
    assert status == 400 and body["error"]["details"]["field"] == "now"


async def test_reset_everything(api):
    intent = await api.create()
    status, _ = await api.control("POST", "/_sandbox/reset")
    assert status == 200
    status, _, _ = await api.get(intent["id"])
    assert status == 404
    assert await api.events() == []


async def test_reset_one_tenant(api):
    mine = await api.create()
    bob = api.as_key(OTHER_KEY)
    theirs = await bob.create()
    await api.control("POST", "/_sandbox/reset", {"tenant": OTHER_KEY})
    assert (await bob.get(theirs["id"]))[0] == 404
    assert (await api.get(mine["id"]))[0] == 200
    assert {e["tenant"] for e in await api.events()} == {api.key}


async def test_events_filter(api):
    first = await api.create()
    await api.create()
    await api.authorize(first["id"])
    assert [e["type"] for e in await api.events(object_id=first["id"])] == ["purchase_intent.created", "purchase_intent.authorized"]
    assert len(await api.events(type="purchase_intent.created")) == 2
    assert len(await api.events(type="purchase_intent.created", limit="1")) == 1
    event = (await api.events(type="purchase_intent.authorized"))[0]
    payload = event["payload"]
    assert set(payload) == {"id", "type", "occurred_at", "request_id", "data"}
    assert payload["id"] == event["id"] and payload["id"].startswith("evt_")
    assert payload["data"]["purchase_intent"]["status"] == "approved"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"provider": "dinoo"}, "provider", "dino, crossmint, basistheory, btplatform"),
        ({"provider": "crossmint", "tenant": "sk_staging_demo"}, "tenant", "'demo'"),
        ({"tenant": "ck_staging_shop"}, "tenant", "'shop'"),
        ({"tenant": "_webhooks"}, "tenant", "the sandbox's own"),
    ],
)
async def test_a_reset_typo_is_an_error_and_resets_nothing(api, body, field, words):
    intent = await api.create()
    status, answer = await api.control("POST", "/_sandbox/reset", body)
    assert status == 400, answer
    assert answer["error"]["details"]["field"] == field and words in answer["error"]["message"]
    assert (await api.get(intent["id"]))[0] == 200


@pytest.mark.parametrize("query", ["provider=dino", "provider=dinoo&tenant=din_test_alice", "tenant=x"])
async def test_a_reset_with_its_scope_in_the_query_is_an_error_and_resets_nothing(api, query):
    """The scope goes in the body: a query string there must not read as "reset everything"."""
    intent = await api.create()
    status, answer = await api.control("POST", f"/_sandbox/reset?{query}", {})
    assert status == 400, answer
    assert answer["error"]["details"]["field"] == query.split("=")[0]
    assert "not a query parameter" in answer["error"]["message"]
    assert (await api.get(intent["id"]))[0] == 200


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/_sandbox/scenarios?tenat=din_test_alice"), ("POST", "/_sandbox/webhooks/flush?timeot=1"),
                         ("GET", "/_sandbox/recording?x=1")],
)
async def test_a_misspelled_query_parameter_of_a_plain_control_route_is_an_error(api, method, path):
    scenario = "name: typo\nrules:\n  - {provider: dino, on: authorize, then: {status: declined}}\n"
    async with api.client.request(method, path, data=scenario, headers={"Content-Type": "application/yaml"}) as resp:
        answer = await resp.json()
        assert resp.status == 400 and answer["error"]["details"]["field"] == path.rsplit("?", 1)[1].split("=")[0], answer
    assert (await api.control("GET", "/_sandbox/scenarios"))[1]["data"] == []  # nothing loaded for everyone


@pytest.mark.parametrize(
    "path", ["/_sandbox/events", "/_sandbox/webhook-deliveries", "/_sandbox/objects", "/_sandbox/requests"],
)
async def test_a_misspelled_provider_or_parameter_in_a_listing_is_an_error(api, path):
    await api.create()
    status, answer = await api.control("GET", f"{path}?provider=dinoo")
    assert status == 400 and answer["error"]["details"]["field"] == "provider", answer
    assert "dino, crossmint" in answer["error"]["message"]
    status, answer = await api.control("GET", f"{path}?providr=dino")
    assert status == 400 and answer["error"]["details"]["field"] == "providr", answer
    status, answer = await api.control("GET", f"{path}?provider=dino")
    assert status == 200, answer


async def test_offset_seconds_puts_a_running_clock_back_exactly(api):
    status, clock = await api.control("POST", "/_sandbox/clock", {"offset_seconds": 3600.5})
    assert (status, clock["frozen"], clock["offset_seconds"]) == (200, False, 3600.5)
    status, answer = await api.control("POST", "/_sandbox/clock", {"offset_seconds": 1, "frozen": True})
    assert status == 400 and "offset_seconds" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/_sandbox/clock/advance", {"seconds": "10"}, "seconds"),
        ("/_sandbox/clock/advance", {"seconds": True}, "seconds"),
        ("/_sandbox/clock", {"frozen": "yes"}, "frozen"),
    ],
)
async def test_clock_values_are_taken_as_sent_or_refused(api, path, body, field):
    before = (await api.control("GET", "/_sandbox/clock"))[1]
    status, answer = await api.control("POST", path, body)
    assert status == 400 and answer["error"]["details"]["field"] == field
    assert (await api.control("GET", "/_sandbox/clock"))[1] == before


@pytest.mark.parametrize("tenant", ["", " din_test_alice"])
async def test_a_reset_of_an_empty_or_padded_tenant_is_an_error(api, tenant):
    status, answer = await api.control("POST", "/_sandbox/reset", {"tenant": tenant})
    assert status == 400 and answer["error"]["details"]["field"] == "tenant"
