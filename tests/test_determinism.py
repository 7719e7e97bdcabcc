"""The same seed and the same requests give the same bytes."""

from tests.conftest import OTHER_KEY


async def run_flow(api, interleave_other_tenant=False):
    transcript = []

    async def record(coro):
        status, body, _ = await coro
        transcript.append((status, body))
        return body

    for n in range(3):
        if interleave_other_tenant:
            await api.as_key(OTHER_KEY).create(quantity=n + 1)
        intent = await record(api.request("POST", "/v1/purchase-intents", {**(await _body()), "quantity": n + 1}))
        await record(api.authorize(intent["id"], expected_total_cents=100 * (n + 1)))
        await record(api.issue(intent["id"]))
    await record(api.request("GET", "/v1/purchase-intents?limit=100"))
    events = [e for e in await api.events() if e["tenant"] == api.key]
    return transcript, events


async def _body():
    from tests.conftest import intent_body

    return intent_body()


async def test_two_apps_with_one_seed_answer_identically(make_api):
    first = await run_flow(await make_api(seed=42))
    second = await run_flow(await make_api(seed=42))
    assert first == second


async def test_another_seed_gives_other_ids(make_api):
    first, _ = await run_flow(await make_api(seed=1))
    second, _ = await run_flow(await make_api(seed=2))
    assert first[0][1]["id"] != second[0][1]["id"]


async def test_a_tenants_ids_do_not_depend_on_other_tenants(make_api):
    alone = await run_flow(await make_api(seed=5))
    crowded = await run_flow(await make_api(seed=5), interleave_other_tenant=True)
    assert alone == crowded


async def test_reset_restarts_the_id_sequence(make_api):
    api = await make_api(seed=9)
    first = await api.create()
    await api.control("POST", "/_sandbox/reset")
    again = await api.create()
    assert again["id"] == first["id"]
