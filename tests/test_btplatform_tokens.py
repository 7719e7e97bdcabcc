"""Basis Theory platform card tokens beyond create/get/delete (issue 16): the merge-patch update, the v1
offset list and search, the v2 cursor list and search (the official SDK's pagers run to their end), the
search language, BT-IDEMPOTENCY-KEY on every write, Basis Theory's brand names, trailing slashes and the
problem-details 404 for the platform's unknown paths."""

from __future__ import annotations

from typing import Any

import pytest
from basis_theory import AsyncBasisTheory
from basis_theory.errors import BadRequestError, NotFoundError

KEY = "key_test_tokens"
OTHER_KEY = "key_test_someone_else"
MERGE_PATCH = "application/merge-patch+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def card(number: str = "4242424242424242", month: int = 12, year: int = 2030) -> dict[str, Any]:
    return {"number": number, "expiration_month": month, "expiration_year": year, "cvc": "123"}


class Platform:
    def __init__(self, client, key: str = KEY) -> None:
        self.client = client
        self.key = key

    def sdk(self) -> AsyncBasisTheory:
        return AsyncBasisTheory(api_key=self.key, base_url=str(self.client.make_url("")).rstrip("/"), max_retries=0, timeout=10)

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        sent = {"BT-API-KEY": self.key, **(headers or {})}
        async with self.client.request(method, path, json=body, headers=sent, **kw) as resp:
            answer = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, answer, resp.headers

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        got, answer, _ = await self.call(method, path, body, **kw)
        assert got == status, answer
        return answer

    async def token(self, number: str = "4242424242424242", metadata: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return await self.ok("POST", "/tokens", {"type": "card", "data": card(number), "metadata": metadata, **extra}, 201)

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.client.get(f"/_sandbox/events?provider=btplatform&type={event_type}") as resp:
            assert resp.status == 200
            return [e for e in (await resp.json())["data"] if e["type"] == event_type and e["tenant"] == self.key]


@pytest.fixture
async def bt(make_api) -> Platform:
    return Platform((await make_api()).client)


def ids(listing: dict[str, Any]) -> list[str]:
    return [token["id"] for token in listing["data"]]


# -- update (PATCH /tokens/{id}, a JSON merge patch) ------------------------------------------


async def test_the_sdk_update_merges_metadata_and_a_new_number_recomputes_the_card(bt):
    sdk = bt.sdk()
    token = await bt.token(metadata={"keep": "1", "drop": "2"})
    reference = await bt.token("5555555555554444")  # the fingerprint a Mastercard 4444 gets
    updated = await sdk.tokens.update(token["id"], metadata={"drop": None, "added": "3"}, data={"number": "5555555555554444"},
                                      search_indexes=["{{ data.number | last4 }}"], containers=["/pci/low/"])
    assert updated.id == token["id"] and updated.metadata == {"keep": "1", "added": "3"}
    assert (updated.card.brand, updated.card.bin, updated.card.last4) == ("mastercard", "555555", "4444")
    assert updated.fingerprint == reference["fingerprint"] != token["fingerprint"]
    assert updated.data["number"] == "XXXXXXXXXXXX4444" and updated.data["expiration_month"] == 12  # the rest of data is kept
    assert updated.search_indexes == ["{{ data.number | last4 }}"] and updated.containers == ["/pci/low/"]
    assert updated.modified_at is not None
    stored = await sdk.tokens.get(token["id"])
    assert stored.metadata == {"keep": "1", "added": "3"} and stored.card.last4 == "4444"
    [event] = await bt.events("token.updated")
    sent = event["payload"]["event"]["data"]["token"]
    assert sent["id"] == token["id"] and sent["metadata"] == {"keep": "1", "added": "3"} and sent["card"]["last4"] == "4444"
    assert "5555555555554444" not in str(event)  # the number is never in an event


async def test_a_null_removes_the_whole_metadata_and_an_empty_patch_changes_no_field(bt):
    token = await bt.token(metadata={"a": "1"})
    status, same, _ = await bt.call("PATCH", f"/tokens/{token['id']}", {}, headers={"Content-Type": MERGE_PATCH})
    assert status == 200 and same["metadata"] == {"a": "1"} and same["card"] == token["card"]
    cleared = await bt.ok("PATCH", f"/tokens/{token['id']}", {"metadata": None})
    assert cleared["metadata"] is None


async def test_a_json_null_body_is_no_empty_patch(bt):
    """`null` is a body, and not an object: a 400 and nothing changes (no `modified_at`, no event)."""
    token = await bt.token(metadata={"a": "1"})
    status, problem, _ = await bt.call("PATCH", f"/tokens/{token['id']}", data=b"null", headers={"Content-Type": MERGE_PATCH})
    assert status == 400 and "body" in str(problem["errors"]), problem
    assert (await bt.ok("GET", f"/tokens/{token['id']}"))["modified_at"] is None
    assert await bt.events("token.updated") == []


@pytest.mark.parametrize(("patch", "field"), [
    ({"data": {"number": "4242424242424241"}}, "data.number"),
    ({"data": {"expiration_month": None}}, "data.expiration_month"),
    ({"data": {"expiration_month": 13}}, "data.expiration_month"),
    ({"data": {"expiration_year": 2020}}, "data.expiration_year"),
    ({"data": None}, "data"),
    ({"data": "4242424242424242"}, "data"),
    ({"metadata": {"a": 1}}, "metadata.a"),
    ({"containers": ["pci"]}, "containers.0"),
])
async def test_a_refused_update_names_the_field_and_changes_nothing(bt, patch, field):
    token = await bt.token(metadata={"a": "1"})
    status, problem, _ = await bt.call("PATCH", f"/tokens/{token['id']}", patch, headers={"Content-Type": MERGE_PATCH})
    assert status == 400 and field in problem["errors"] and PROBLEM_FIELDS <= set(problem), problem
    assert await bt.ok("GET", f"/tokens/{token['id']}") == token
    assert await bt.events("token.updated") == []
    # the indexes were not touched either
    found = await bt.ok("POST", "/v2/tokens/search", {"query": f"fingerprint:{token['fingerprint']} AND metadata.a:1"})
    assert ids(found) == [token["id"]]


@pytest.mark.parametrize("field", ["expiration_month", "expiration_year"])
async def test_a_boolean_is_no_expiry_month_or_year(bt, field):
    """JSON `true` is not 1: a month of January (or a 400 for the wrong reason) would be a guess."""
    status, problem, _ = await bt.call("POST", "/tokens", {"type": "card", "data": {**card(), field: True}})
    assert status == 400 and list(problem["errors"]) == [f"data.{field}"], problem
    token = await bt.token()
    status, problem, _ = await bt.call("PATCH", f"/tokens/{token['id']}", {"data": {field: True}},
                                       headers={"Content-Type": MERGE_PATCH})
    assert status == 400 and list(problem["errors"]) == [f"data.{field}"], problem
    assert await bt.ok("GET", f"/tokens/{token['id']}") == token
    assert await bt.events("token.updated") == []


@pytest.mark.parametrize("media", ["application/json-patch+json", "application/vnd.api+json"])
async def test_a_json_media_type_other_than_merge_patch_is_415_and_changes_nothing(bt, media):
    """A JSON Patch (RFC 6902) body means something else than a merge patch: it is not read as one."""
    token = await bt.token(metadata={"a": "1"})
    path = f"/tokens/{token['id']}"
    status, problem, _ = await bt.call("PATCH", path, data='{"metadata":{"a":"2"}}', headers={"Content-Type": media})
    assert status == 415 and problem["status"] == 415 and problem["instance"] == path and media in problem["detail"]
    assert await bt.ok("GET", path) == token
    assert await bt.events("token.updated") == []


async def test_the_sdk_update_of_a_missing_token_is_not_found(bt):
    with pytest.raises(NotFoundError):
        await bt.sdk().tokens.update("00000000-0000-4000-8000-000000000000", metadata={"a": "b"})


async def test_merge_patch_and_plain_json_are_accepted_and_other_media_types_are_not(bt):
    token = await bt.token()
    path = f"/tokens/{token['id']}"
    for media, value in ((MERGE_PATCH, "m"), ("application/json", "j")):
        status, body, _ = await bt.call("PATCH", path, data=f'{{"metadata":{{"via":"{value}"}}}}', headers={"Content-Type": media})
        assert (status, body["metadata"]) == (200, {"via": value})
    status, problem, _ = await bt.call("PATCH", path, data='{"metadata":{"via":"t"}}', headers={"Content-Type": "text/plain"})
    assert status == 415 and problem["status"] == 415 and problem["instance"] == path


# -- the v2 list and search (cursor pages, the SDK's pagers) ----------------------------------


async def test_list_v2_pages_newest_first_and_the_sdk_pager_runs_to_the_end(bt):
    sdk = bt.sdk()
    made = [await bt.token(metadata={"n": str(n)}) for n in range(5)]
    newest_first = [token["id"] for token in reversed(made)]
    pager = await sdk.tokens.list_v2(size=2)
    pages = [page async for page in pager.iter_pages()]
    assert [[token.id for token in page.items] for page in pages] == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    assert [page.response.pagination.page_size for page in pages] == [2, 2, 2]
    assert pages[-1].response.pagination.next is None and not pages[-1].has_next
    assert [token.id async for token in await sdk.tokens.list_v2(size=2)] == newest_first
    assert [token.id async for token in await sdk.tokens.list_v2()] == newest_first  # one page of 20


async def test_list_v2_filters_by_type_fingerprint_and_metadata(bt):
    sdk = bt.sdk()
    visa = await bt.token(metadata={"owner": "a", "tier": "gold"})
    again = await bt.token(metadata={"owner": "b"})  # the same card number: the same fingerprint
    other = await bt.token("5555555555554444", metadata={"owner": "a"})
    assert [t.id async for t in await sdk.tokens.list_v2(fingerprint=visa["fingerprint"])] == [again["id"], visa["id"]]
    assert [t.id async for t in await sdk.tokens.list_v2(metadata={"owner": "a"})] == [other["id"], visa["id"]]
    assert [t.id async for t in await sdk.tokens.list_v2(metadata={"owner": "a", "tier": "gold"})] == [visa["id"]]
    assert [t.id async for t in await sdk.tokens.list_v2(type="card", size=1)] == [other["id"], again["id"], visa["id"]]
    assert [t.id async for t in await sdk.tokens.list_v2(type="bank")] == []
    # the Node SDK sends metadata as one JSON object
    listing = await bt.ok("GET", '/v2/tokens?metadata={"owner":"a"}&type=card')
    assert ids(listing) == [other["id"], visa["id"]] and listing["pagination"] == {"page_size": 20, "next": None}
    status, problem, _ = await bt.call("GET", "/v2/tokens?metadata=[1]")
    assert status == 400 and "metadata" in problem["errors"]


async def test_search_v2_terms_operators_quotes_and_parentheses(bt):
    sdk = bt.sdk()
    jane = await bt.token(metadata={"name": "Jane Doe", "team": "red"})
    john = await bt.token("5555555555554444", metadata={"name": "John", "team": "red"})
    amex = await bt.token("378282246310005", metadata={"team": "blue"})

    async def search(query: str, size: int | None = None) -> list[str]:
        pager = await sdk.tokens.search_v2(query=query, size=size)
        return [token.id async for token in pager]

    assert await search('metadata.name:"Jane Doe"') == [jane["id"]]
    assert await search(r"metadata.name:Jane\ Doe") == [jane["id"]]
    assert await search("metadata.team:red AND type:card") == [john["id"], jane["id"]]
    assert await search("metadata.team:red && metadata.name:John") == [john["id"]]
    assert await search(f"id:{amex['id']} OR id:{jane['id']}") == [amex["id"], jane["id"]]
    assert await search(f"id:{amex['id']} || fingerprint:{john['fingerprint']}") == [amex["id"], john["id"]]
    assert await search(f"(metadata.team:blue OR metadata.name:John) AND id:{amex['id']}") == [amex["id"]]
    assert await search("metadata.team:blue OR metadata.team:red AND metadata.name:John") == [amex["id"], john["id"]]  # AND first
    assert await search("metadata.team:blue metadata.name:John") == [amex["id"], john["id"]]  # side by side: OR
    assert await search('container:"/pci/"') == [amex["id"], john["id"], jane["id"]]
    assert await search("container:/pii/") == []
    assert await search("type:card", size=1) == [amex["id"], john["id"], jane["id"]]  # the pager ends
    assert await search("metadata.team:red", size=1) == [john["id"], jane["id"]]
    assert await search("metadata.team:green") == []
    assert [token.id async for token in await sdk.tokens.search_v2()] == [amex["id"], john["id"], jane["id"]]  # no query: all


async def test_metadata_keys_with_special_characters_are_searched_with_backslashes(bt):
    """Lucene escapes field names as it does values: a key with `:`, a space or `/`, or a non-ASCII one."""
    token = await bt.token(metadata={"order:id": "42", "first name": "Jane", "a.b": "dot", "café": "oui", "a/b": "slash"})
    await bt.token(metadata={"order:id": "43"})
    for query in (r"metadata.order\:id:42", r"metadata.first\ name:Jane", "metadata.a.b:dot", "metadata.café:oui",
                  r"metadata.a\/b:slash", "metadata.a/b:slash", r'metadata.order\:id:"42" AND metadata.café:oui'):
        assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": query})) == [token["id"]], query
        assert ids(await bt.ok("POST", "/tokens/search", {"query": query})) == [token["id"]], query
    status, problem, _ = await bt.call("POST", "/v2/tokens/search", {"query": r"AN\D:x"})  # an escaped AND is a field name
    assert status == 400 and "'AND' is not searchable" in problem["errors"]["query"][0]


@pytest.mark.parametrize("query", [
    "type:card AND", "(type:card", "type:card)", "type:", "card", "data:4242", "metadata.:x", "metadata.a:x*",
    "NOT type:card", "-type:card", 'metadata.a:"open', "created_at:[2020 TO 2030]", "type:card AND OR type:card",
])
async def test_a_query_outside_the_language_is_a_400_naming_query(bt, query):
    await bt.token()
    with pytest.raises(BadRequestError) as raised:
        await bt.sdk().tokens.search_v2(query=query)
    assert raised.value.status_code == 400 and list(raised.value.body.errors) == ["query"]
    status, problem, _ = await bt.call("POST", "/tokens/search", {"query": query})
    assert status == 400 and list(problem["errors"]) == ["query"] and PROBLEM_FIELDS <= set(problem)


async def test_a_cursor_this_api_did_not_give_is_a_400_naming_start(bt):
    await bt.token()
    for path, body in (("/v2/tokens?start=not-a-cursor", None), ("/v2/tokens/search", {"start": "bm9wZQ"})):
        status, problem, _ = await bt.call("GET" if body is None else "POST", path, body)
        assert status == 400 and list(problem["errors"]) == ["start"], problem


async def test_a_cursor_survives_the_deletion_of_the_token_it_names(bt):
    made = [await bt.token(metadata={"k": "v"}) for _ in range(4)]
    first = await bt.ok("GET", "/v2/tokens?size=2")
    assert ids(first) == [made[3]["id"], made[2]["id"]] and first["pagination"]["next"]
    await bt.ok("DELETE", f"/tokens/{made[2]['id']}", status=204)
    second = await bt.ok("GET", f"/v2/tokens?size=2&start={first['pagination']['next']}")
    assert ids(second) == [made[1]["id"], made[0]["id"]] and second["pagination"]["next"] is None
    searched = await bt.ok("POST", "/v2/tokens/search", {"query": "metadata.k:v", "size": 2, "start": first["pagination"]["next"]})
    assert ids(searched) == [made[1]["id"], made[0]["id"]]


async def test_the_indexes_follow_updates_and_deletes(bt):
    token = await bt.token(metadata={"state": "old"})
    await bt.ok("PATCH", f"/tokens/{token['id']}", {"metadata": {"state": "new"}, "data": {"number": "5555555555554444"}})
    assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": "metadata.state:old"})) == []
    assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": "metadata.state:new"})) == [token["id"]]
    assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": f"fingerprint:{token['fingerprint']}"})) == []
    await bt.ok("DELETE", f"/tokens/{token['id']}", status=204)
    assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": "metadata.state:new"})) == []
    assert ids(await bt.ok("POST", "/v2/tokens/search", {"query": f"id:{token['id']}"})) == []


async def test_tenants_never_see_each_others_tokens(bt):
    mine = await bt.token(metadata={"k": "v"})
    theirs = Platform(bt.client, OTHER_KEY)
    assert ids(await theirs.ok("GET", "/v2/tokens")) == []
    assert ids(await theirs.ok("POST", "/v2/tokens/search", {"query": f"id:{mine['id']} OR metadata.k:v"})) == []
    assert (await theirs.ok("GET", "/tokens"))["pagination"]["total_items"] == 0
    status, _, _ = await theirs.call("PATCH", f"/tokens/{mine['id']}", {"metadata": {"k": "w"}})
    assert status == 404


# -- the v1 list and search (offset pages) ---------------------------------------------------


async def test_the_v1_list_pages_by_offset_with_totals(bt):
    made = [await bt.token(metadata={"owner": "a" if n % 2 else "b"}) for n in range(5)]
    newest_first = [token["id"] for token in reversed(made)]
    second = await bt.ok("GET", "/tokens?page=2&size=2")
    assert second["pagination"] == {"total_items": 5, "page_number": 2, "page_size": 2, "total_pages": 3}
    assert ids(second) == newest_first[2:4]
    assert ids(await bt.ok("GET", "/tokens?page=3&size=2")) == newest_first[4:]
    assert ids(await bt.ok("GET", "/tokens?page=4&size=2")) == []
    assert (await bt.ok("GET", "/tokens?size=1000"))["pagination"]["page_size"] == 100  # brought into range
    # basis-theory-js: `id` and `type` repeat, metadata is `metadata.<key>`
    by_id = await bt.ok("GET", f"/tokens?id={made[0]['id']}&id={made[3]['id']}&type=card")
    assert ids(by_id) == [made[3]["id"], made[0]["id"]] and by_id["pagination"]["total_items"] == 2
    by_metadata = await bt.ok("GET", "/tokens?metadata.owner=a&size=1")
    assert ids(by_metadata) == [made[3]["id"]]
    assert by_metadata["pagination"] == {"total_items": 2, "page_number": 1, "page_size": 1, "total_pages": 2}
    empty = await bt.ok("GET", "/tokens?type=bank")
    assert empty == {"pagination": {"total_items": 0, "page_number": 1, "page_size": 20, "total_pages": 0}, "data": []}


async def test_the_v1_search_pages_by_offset(bt):
    made = [await bt.token(metadata={"team": "red"}) for _ in range(3)]
    await bt.token(metadata={"team": "blue"})
    page = await bt.ok("POST", "/tokens/search", {"query": "metadata.team:red", "page": 2, "size": 2})
    assert page["pagination"] == {"total_items": 3, "page_number": 2, "page_size": 2, "total_pages": 2}
    assert ids(page) == [made[0]["id"]]
    everything = await bt.ok("POST", "/tokens/search", {})
    assert everything["pagination"]["total_items"] == 4
    status, problem, _ = await bt.call("POST", "/tokens/search", {"query": "type:card", "size": 101})
    assert status == 400 and "size" in problem["errors"]


# -- BT-IDEMPOTENCY-KEY on every POST and PATCH ----------------------------------------------


async def test_a_repeated_create_with_the_same_key_replays_the_first_token(bt):
    body = {"type": "card", "data": card(), "metadata": {"a": "1"}}
    first_status, first, first_headers = await bt.call("POST", "/tokens", body, headers={"BT-IDEMPOTENCY-KEY": "create-1"})
    again_status, again, again_headers = await bt.call("POST", "/tokens/", body, headers={"BT-IDEMPOTENCY-KEY": "create-1"})
    assert (first_status, again_status) == (201, 201) and again == first
    assert again_headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first_headers
    assert len(await bt.events("token.created")) == 1
    assert (await bt.ok("GET", "/tokens"))["pagination"]["total_items"] == 1
    status, problem, _ = await bt.call("POST", "/tokens", {**body, "metadata": {"a": "2"}}, headers={"BT-IDEMPOTENCY-KEY": "create-1"})
    assert status == 409 and problem["status"] == 409 and problem["title"] == "Conflict" and PROBLEM_FIELDS <= set(problem)
    assert "create-1" in problem["detail"]
    # another tenant's same key is its own
    other = Platform(bt.client, OTHER_KEY)
    status, theirs, _ = await other.call("POST", "/tokens", body, headers={"BT-IDEMPOTENCY-KEY": "create-1"})
    assert status == 201 and theirs["id"] != first["id"]


async def test_a_repeated_patch_with_the_same_key_is_announced_once(bt):
    token = await bt.token()
    path, key = f"/tokens/{token['id']}", {"BT-IDEMPOTENCY-KEY": "patch-1", "Content-Type": MERGE_PATCH}
    first = await bt.ok("PATCH", path, data='{"metadata":{"a":"1"}}', headers=key)
    again = await bt.ok("PATCH", path, data='{"metadata":{"a":"1"}}', headers=key)
    assert again == first and len(await bt.events("token.updated")) == 1
    status, _, _ = await bt.call("PATCH", path, data='{"metadata":{"a":"2"}}', headers=key)
    assert status == 409
    update = await bt.sdk().tokens.update(token["id"], metadata={"a": "1"}, idempotency_key="patch-1")  # the SDK's header
    assert update.metadata == {"a": "1"} and len(await bt.events("token.updated")) == 1


async def test_a_search_ignores_the_key_so_the_sdk_pager_can_send_it_with_every_page(bt):
    made = [await bt.token(metadata={"k": "v"}) for _ in range(3)]
    pager = await bt.sdk().tokens.search_v2(query="metadata.k:v", size=1, idempotency_key="search-1")
    assert [token.id async for token in pager] == [token["id"] for token in reversed(made)]
    _, _, headers = await bt.call("POST", "/tokens/search", {"query": "type:card"}, headers={"BT-IDEMPOTENCY-KEY": "search-1"})
    assert "Idempotent-Replayed" not in headers


async def test_every_platform_post_honours_the_key(bt):
    headers = {"BT-IDEMPOTENCY-KEY": "agent-1"}
    first = await bt.ok("POST", "/agentic/agents", {"name": "Shopper"}, 201, headers=headers)
    again = await bt.ok("POST", "/agentic/agents/", {"name": "Shopper"}, 201, headers=headers)
    assert again["id"] == first["id"]
    token = await bt.token()
    body = {"token_id": token["id"], "type": "customer"}
    session = await bt.ok("POST", "/3ds/sessions", body, 201, headers={"BT-IDEMPOTENCY-KEY": "s-1"})
    assert (await bt.ok("POST", "/3ds/sessions", body, 201, headers={"BT-IDEMPOTENCY-KEY": "s-1"}))["id"] == session["id"]
    assert len(await bt.events("3ds.session.created")) == 1


# -- card brands as Basis Theory names them ---------------------------------------------------


@pytest.mark.parametrize(("number", "brand"), [
    ("378282246310005", "american-express"), ("36227206271667", "diners-club"), ("4242424242424242", "visa"),
    ("5555555555554444", "mastercard"), ("6011111111111117", "discover"), ("3530111333300000", "jcb"),
    ("6200000000000005", "unionpay"),
])
async def test_tokens_and_their_events_name_brands_as_basis_theory_does(bt, number, brand):
    token = await bt.token(number)
    assert token["card"]["brand"] == brand
    assert (await bt.sdk().tokens.get(token["id"])).card.brand == brand
    [event] = await bt.events("token.created")
    assert event["payload"]["event"]["data"]["token"]["card"]["brand"] == brand


async def test_an_enrollment_copies_the_token_s_brand_name(bt):
    token = await bt.token("5555555555554444")
    enrollment = await bt.ok("POST", "/agentic/enrollments", {"token_id": token["id"], "consumer": {"email": "a@example.com"}}, 201)
    assert enrollment["card"]["brand"] == "mastercard"
    [event] = await bt.events("agentic.enrollment.created")
    assert event["payload"]["event"]["data"]["enrollment"]["card"]["brand"] == "mastercard"


# -- paths: trailing slashes and unknown paths -----------------------------------------------


async def test_every_platform_route_answers_with_a_trailing_slash(bt):
    token = await bt.ok("POST", "/tokens/", {"type": "card", "data": card()}, 201)
    assert ids(await bt.ok("GET", "/tokens/")) == [token["id"]]
    assert (await bt.ok("GET", f"/tokens/{token['id']}/"))["id"] == token["id"]
    assert (await bt.ok("PATCH", f"/tokens/{token['id']}/", {"metadata": {"a": "b"}}))["metadata"] == {"a": "b"}
    assert ids(await bt.ok("POST", "/tokens/search/", {"query": "metadata.a:b"})) == [token["id"]]
    assert ids(await bt.ok("GET", "/v2/tokens/")) == [token["id"]]
    assert ids(await bt.ok("POST", "/v2/tokens/search/", {})) == [token["id"]]
    assert await bt.ok("GET", "/ping/") == {}
    assert isinstance(await bt.ok("GET", "/webhooks/event-types/"), list)
    assert (await bt.ok("GET", "/webhooks/"))["data"] == []
    agent = await bt.ok("POST", "/agentic/agents/", {"name": "A"}, 201)
    assert (await bt.ok("GET", f"/agentic/agents/{agent['id']}/"))["id"] == agent["id"]
    session = await bt.ok("POST", "/3ds/sessions/", {"token_id": token["id"]}, 201)
    assert (await bt.ok("GET", f"/3ds/sessions/{session['id']}/"))["id"] == session["id"]
    await bt.ok("DELETE", f"/tokens/{token['id']}/", status=204)
    for path in (f"/tokens/{token['id']}//", "/tokens//", "/tokens/search/x/"):
        status, problem, _ = await bt.call("GET", path)
        assert status == 404, path


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v2/nothing"), ("POST", "/tokenize"), ("POST", "/detokenize"), ("GET", "/sessions/"), ("GET", "/applications"),
    ("POST", "/proxy"), ("GET", "/agentic"), ("GET", "/3ds"), ("GET", "/tokens/a/b"), ("PUT", "/tokens"),
])
async def test_the_platform_s_unknown_paths_answer_in_problem_details(bt, method, path):
    status, problem, _ = await bt.call(method, path)
    assert status in (404, 405) and problem["status"] == status and set(problem) >= PROBLEM_FIELDS, problem
    assert problem["instance"] == path and "error" not in problem


async def test_other_unknown_paths_keep_the_control_plane_s_envelope(bt):
    status, body, _ = await bt.call("GET", "/nowhere")
    assert status == 404 and body["error"]["code"] == "not_found"


# -- how a search is answered: repeated and folded terms, costly queries (issue 13) ----------


async def search_both(bt: Platform, query: str) -> list[str]:
    """The ids a query finds, newest first, by the v2 search (paged one by one) and the v1 search, which must agree."""
    v2, start = [], None
    while True:
        page = await bt.ok("POST", "/v2/tokens/search", {"query": query, "size": 1, **({"start": start} if start else {})})
        v2 += ids(page)
        if (start := page["pagination"]["next"]) is None:
            break
    v1 = await bt.ok("POST", "/tokens/search", {"query": query, "size": 100})
    assert ids(v1) == v2 and v1["pagination"]["total_items"] == len(v2), query
    return v2


async def test_repeated_and_type_terms_answer_as_the_plain_query(bt):
    """A query is simplified before it is answered: `A OR A` is `A`, `type:card` holds for every token
    and any other type for none, an OR's terms of one field are tested together."""
    red = await bt.token(metadata={"team": "red"})
    blue = await bt.token(metadata={"team": "blue"}, containers=["/pcix/"])
    pii = await bt.token(metadata={"team": "red"}, containers=["/pii/"])
    low = await bt.token(containers=["/pci/low/", "/other/"])
    everyone = [low["id"], pii["id"], blue["id"], red["id"]]
    assert await search_both(bt, "metadata.team:red OR metadata.team:red OR (metadata.team:red)") == [pii["id"], red["id"]]
    assert await search_both(bt, "type:card AND (" + " OR ".join(["container:/nope/"] * 98) + ")") == []
    assert await search_both(bt, "type:card AND (" + " OR ".join(["container:/pci/"] * 98) + ")") == [low["id"], red["id"]]
    assert await search_both(bt, "type:bank OR metadata.team:blue") == [blue["id"]]
    assert await search_both(bt, "type:card OR type:bank") == everyone
    assert await search_both(bt, "type:card type:card") == everyone
    assert await search_both(bt, "type:bank") == []
    assert await search_both(bt, "type:bank AND metadata.team:red") == []
    assert await search_both(bt, "container:/pci OR container:/pii/ OR container:/pci/") == [low["id"], pii["id"], red["id"]]
    assert await search_both(bt, "metadata.team:red OR metadata.team:blue OR metadata.team:red") == [pii["id"], blue["id"], red["id"]]
    assert await search_both(bt, "(metadata.team:red AND container:/pii/) OR (container:/pii/ AND metadata.team:red)") == [pii["id"]]
    assert await search_both(bt, f"id:{red['id']} OR id:{red['id']} OR id:{blue['id']} OR fingerprint:{low['fingerprint']}") == everyone
    assert await search_both(bt, f"id:{red['id']} AND id:{blue['id']}") == []


async def test_a_costly_query_over_many_tokens_answers_as_a_cheap_one(bt):
    """A query of many distinct terms over more tokens than the event loop tests at once (the rest
    is tested in a worker thread: tokens.py) finds, pages and counts as its one-term equivalent."""
    old = [await bt.token(containers=["/pii/old/"]) for _ in range(5)]
    for _ in range(130):
        await bt.token()
    costly = " OR ".join(f"container:/n{i}/" for i in range(97))
    assert await search_both(bt, costly + " OR container:/pii/") == [token["id"] for token in reversed(old)]
    cheap = await bt.ok("POST", "/tokens/search", {"query": "container:/pci/", "page": 3, "size": 50})
    found = await bt.ok("POST", "/tokens/search", {"query": costly + " OR container:/pci/", "page": 3, "size": 50})
    assert found == cheap and found["pagination"]["total_items"] == 130 and len(found["data"]) == 30
    first = await bt.ok("POST", "/v2/tokens/search", {"query": costly + " OR container:/pci/", "size": 100})
    second = await bt.ok("POST", "/v2/tokens/search", {"query": costly + " OR container:/pci/", "size": 100,
                                                          "start": first["pagination"]["next"]})
    everything = ids(await bt.ok("GET", "/tokens?size=100")) + ids(await bt.ok("GET", "/tokens?page=2&size=100"))
    assert ids(first) + ids(second) == everything[:130] and second["pagination"]["next"] is None
