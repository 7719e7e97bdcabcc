"""GET /v1/purchase-intents: newest first, cursor pagination, status filter."""

import pytest


async def make_intents(api, n):
    return [(await api.create(quantity=i + 1))["id"] for i in range(n)]


async def test_pages_newest_first_until_exhausted(api):
    ids = await make_intents(api, 5)
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&starting_after={cursor}" if cursor else "")
        status, page, _ = await api.request("GET", "/v1/purchase-intents" + query)
        assert status == 200 and page["object"] == "list"
        seen += [i["id"] for i in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
        assert cursor == page["data"][-1]["id"]
    assert seen == list(reversed(ids))


async def test_default_limit_is_ten(api):
    await make_intents(api, 11)
    _, page, _ = await api.request("GET", "/v1/purchase-intents")
    assert len(page["data"]) == 10 and page["has_more"] is True


async def test_exact_page_has_no_more(api):
    await make_intents(api, 2)
    _, page, _ = await api.request("GET", "/v1/purchase-intents?limit=2")
    assert len(page["data"]) == 2 and page["has_more"] is False and page["next_cursor"] is None


async def test_filter_by_status(api):
    first, second, third = await make_intents(api, 3)
    await api.authorize(second)
    _, page, _ = await api.request("GET", "/v1/purchase-intents?status=approved")
    assert [i["id"] for i in page["data"]] == [second]
    _, page, _ = await api.request("GET", "/v1/purchase-intents?status=intent_created&limit=1")
    assert [i["id"] for i in page["data"]] == [third] and page["has_more"] is True
    _, page, _ = await api.request("GET", f"/v1/purchase-intents?status=intent_created&starting_after={third}")
    assert [i["id"] for i in page["data"]] == [first] and page["has_more"] is False


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=paid", "status"),
        ("starting_after=pi_nope", "starting_after"),
    ],
)
async def test_bad_query_names_the_parameter(api, query, field):
    await make_intents(api, 1)
    status, body, _ = await api.request("GET", "/v1/purchase-intents?" + query)
    assert status == 400
    assert body["error"]["code"] == "invalid_request" and body["error"]["details"]["field"] == field


async def test_a_cursor_from_another_tenant_is_refused(api):
    (theirs,) = await make_intents(api.as_key("din_test_other"), 1)
    await make_intents(api, 1)
    status, body, _ = await api.request("GET", f"/v1/purchase-intents?starting_after={theirs}")
    assert status == 400 and body["error"]["details"]["field"] == "starting_after"
