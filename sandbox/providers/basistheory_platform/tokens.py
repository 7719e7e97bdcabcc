"""Card tokens: the card behind every enrollment and 3-D Secure session; their update (a JSON merge
patch), lists and search.

Lists and searches answer newest first. Terms an index can answer (`fingerprint:`, `metadata.<key>:`,
`id:`) are looked up, never scanned for: each tenant keeps its indexes in the store beside its tokens
(kind `token_index`: one posting per fingerprint and per metadata key and value, an ordered set of token
ids), so every backend and replica holds them. Only a query no index narrows (`type:card`, `container:`,
or none) walks the tenant's tokens, newest first, and a cursor page stops as soon as it is full.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import sys
from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import ValidationError

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import from_validation, invalid_field
from sandbox.core.store import UnknownCursor
from sandbox.providers.basistheory_platform import token_search
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.models import CardData, Token, TokenCreate, TokenUpdate
from sandbox.providers.basistheory_platform.token_search import EVERYTHING, AllOf, AnyOf, Node, Term

KIND = "token"
INDEX = "token_index"
DEFAULT_CONTAINERS = ("/pci/high/",)
DEFAULT_FINGERPRINT_EXPRESSION = "{{ data.number }}"
DEFAULT_SIZE = 20


# -- one token ---------------------------------------------------------------------------


def create(ctx: Context, tenant: str, body: TokenCreate) -> Token:
    data, now = body.data, ctx.rt.clock.now()
    _check_expiry(data.expiration_month, data.expiration_year, now)
    token = Token(
        ctx.ids.uuid(tenant, "token"), ctx.tenant_id(tenant), cards.brand(data.number) or "unknown",
        data.number[:6], data.number[-4:], data.expiration_month, data.expiration_year, _fingerprint(ctx, data.number),
        data.number, body.metadata, iso(now), seq=_next_seq(ctx, tenant),
        containers=list(body.containers or DEFAULT_CONTAINERS), search_indexes=body.search_indexes,
        fingerprint_expression=body.fingerprint_expression or DEFAULT_FINGERPRINT_EXPRESSION,
    )
    ctx.put(tenant, KIND, token.id, token)
    _index(ctx, tenant, token, add=True)
    ctx.hooks.emit(tenant, "token.created", "token", token.to_wire())
    return token


def get(ctx: Context, tenant: str, token_id: str) -> Token:
    return ctx.get(tenant, KIND, token_id, "Token")


def delete(ctx: Context, tenant: str, token_id: str) -> None:
    token = get(ctx, tenant, token_id)
    _index(ctx, tenant, token, add=False)
    ctx.delete(tenant, KIND, token_id)
    ctx.hooks.emit(tenant, "token.deleted", "token", token.to_wire())


def update(ctx: Context, tenant: str, token_id: str, body: TokenUpdate) -> Token:
    """Apply a JSON merge patch (RFC 7396). Everything is checked before anything changes; a new card
    number brings a new fingerprint, brand, bin and last four."""
    token = get(ctx, tenant, token_id)
    sent = body.model_fields_set
    card: CardData | None = None
    if "data" in sent:
        if body.data is None:
            raise invalid_field("data", "A card token's data cannot be removed.")
        merged = _merged({"number": token.number, "expiration_month": token.expiration_month,
                          "expiration_year": token.expiration_year}, body.data.model_dump(include=body.data.model_fields_set))
        try:
            card = CardData.model_validate(merged)
        except ValidationError as exc:
            raise from_validation(exc, prefix=("data",)) from None
        _check_expiry(card.expiration_month, card.expiration_year, ctx.rt.clock.now())
    _index(ctx, tenant, token, add=False)
    if card is not None:
        token.number, token.brand = card.number, cards.brand(card.number) or "unknown"
        token.bin, token.last4, token.fingerprint = card.number[:6], card.number[-4:], _fingerprint(ctx, card.number)
        token.expiration_month, token.expiration_year = card.expiration_month, card.expiration_year
    if "metadata" in sent:
        token.metadata = None if body.metadata is None else _merged(dict(token.metadata or {}), body.metadata)
    if "search_indexes" in sent:
        token.search_indexes = None if body.search_indexes is None else list(body.search_indexes)
    if "containers" in sent:
        token.containers = list(body.containers or DEFAULT_CONTAINERS)
    if "fingerprint_expression" in sent:
        token.fingerprint_expression = body.fingerprint_expression or DEFAULT_FINGERPRINT_EXPRESSION
    token.modified_at = ctx.now()
    _index(ctx, tenant, token, add=True)
    ctx.hooks.emit(tenant, "token.updated", "token", token.to_wire())
    return token


def _merged(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 on one level of keys (the values here are scalars): a null removes the key."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return target


def _check_expiry(month: int, year: int, now: Any) -> None:
    problem = cards.expiry_problem(month, year, now)
    if problem:
        raise invalid_field("data.expiration_year", f"The {problem}." if problem.startswith("card") else f"The card {problem}.")


def _fingerprint(ctx: Context, number: str) -> str:
    """The same number always gets the same fingerprint (for one seed), so duplicates can be spotted."""
    return hashlib.sha256(f"{ctx.ids.seed}:{number}".encode()).hexdigest()[:44]


def _next_seq(ctx: Context, tenant: str) -> int:
    seq = (ctx.find(tenant, "config", "token_seq") or 0) + 1
    ctx.put(tenant, "config", "token_seq", seq)
    return seq


# -- indexes -----------------------------------------------------------------------------


def _posting_id(field: str, value: str) -> str:
    return orjson.dumps([field, value]).decode()  # no separator a key or value could fake


def _postings_of(token: Token) -> list[str]:
    found = [_posting_id("fingerprint", token.fingerprint)]
    for key, value in (token.metadata or {}).items():
        if value is not None:
            found.append(_posting_id(token_search.METADATA + key, value))
    return found


def _index(ctx: Context, tenant: str, token: Token, *, add: bool) -> None:
    for posting_id in _postings_of(token):
        ids: dict[str, None] | None = ctx.find(tenant, INDEX, posting_id)
        if add:
            if ids is None:
                ctx.put(tenant, INDEX, posting_id, {token.id: None})
            else:
                ids[token.id] = None
        elif ids is not None:
            ids.pop(token.id, None)
            if not ids:
                ctx.delete(tenant, INDEX, posting_id)


def _lookup(ctx: Context, tenant: str):
    def postings(term: Term) -> set[str] | None:
        if term.field == "id":
            return {term.value}
        if term.field == "fingerprint" or term.field.startswith(token_search.METADATA):
            return set(ctx.find(tenant, INDEX, _posting_id(term.field, term.value)) or ())
        return None  # type, container: no index narrows them

    return postings


# -- lists and search --------------------------------------------------------------------


def _newest_first(ctx: Context, tenant: str, node: Node, limit: int, before: tuple[int, str] | None) -> tuple[list[Token], bool]:
    """Up to `limit` tokens answering `node`, newest first, older than the cursor `before`; and
    whether more follow."""
    ids = token_search.candidates(node, _lookup(ctx, tenant))
    if ids is not None:
        found = [token for token_id in ids if (token := ctx.find(tenant, KIND, token_id)) is not None
                 and token_search.matches(node, token) and (before is None or token.seq < before[0])]
        found.sort(key=lambda token: token.seq, reverse=True)
        return found[:limit], len(found) > limit
    store, space = ctx.rt.store, ctx.space(tenant)

    def where(token: Token) -> bool:
        return token_search.matches(node, token)

    try:
        page = store.page(space, KIND, limit=limit, after=before[1] if before else None, where=where)
    except UnknownCursor:  # the cursor's token is gone from this process's order: its place is its seq
        assert before is not None
        seq = before[0]
        page = store.page(space, KIND, limit=limit, where=lambda token: token.seq < seq and where(token))
    return list(page.items), page.has_more


def cursor_page(ctx: Context, tenant: str, node: Node, size: int | None, start: str | None) -> dict[str, Any]:
    """A v2 page: `{"pagination": {"page_size", "next"}, "data"}`; `next` is null on the last page."""
    size = size or DEFAULT_SIZE
    before = _read_cursor(start) if start else None
    tokens, more = _newest_first(ctx, tenant, node, size, before)
    after = _cursor(tokens[-1]) if more and tokens else None
    return {"pagination": {"page_size": size, "next": after}, "data": [token.to_wire() for token in tokens]}


def offset_page(ctx: Context, tenant: str, node: Node, page: int | None, size: int | None) -> dict[str, Any]:
    """A v1 page: `{"pagination": {"total_items", "page_number", "page_size", "total_pages"}, "data"}`."""
    page, size = page or 1, size or DEFAULT_SIZE
    offset = (page - 1) * size
    if node == EVERYTHING:
        total = ctx.rt.store.count(ctx.space(tenant), KIND)
        tokens = list(ctx.rt.store.slice(ctx.space(tenant), KIND, offset=offset, limit=size).items)
    else:
        matching, _ = _newest_first(ctx, tenant, node, sys.maxsize, None)
        total, tokens = len(matching), matching[offset:offset + size]
    pagination = {"total_items": total, "page_number": page, "page_size": size, "total_pages": math.ceil(total / size)}
    return {"pagination": pagination, "data": [token.to_wire() for token in tokens]}


def _cursor(token: Token) -> str:
    return base64.urlsafe_b64encode(f"{token.seq}.{token.id}".encode()).decode().rstrip("=")


def _read_cursor(start: str) -> tuple[int, str]:
    try:
        seq, _, token_id = base64.urlsafe_b64decode(start + "=" * (-len(start) % 4)).decode().partition(".")
        if token_id and seq.isdigit():
            return int(seq), token_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid_field("start", "Not a cursor this API gave (pagination.next of the previous page).")


# -- list filters as queries ---------------------------------------------------------------


def _all_of(terms: list[Node]) -> Node:
    return EVERYTHING if not terms else terms[0] if len(terms) == 1 else AllOf(tuple(terms))


def _any_of(field: str, values: list[str]) -> list[Node]:
    if not values:
        return []
    terms: list[Node] = [Term(field, value) for value in dict.fromkeys(values)]
    return [terms[0] if len(terms) == 1 else AnyOf(tuple(terms))]


def _metadata_param(name: str) -> str | None:
    """The key of `metadata.key` (basis-theory-js) or `metadata[key]` (the Python SDK), else None."""
    if name.startswith("metadata.") and len(name) > len("metadata."):
        return name[len("metadata."):]
    if name.startswith("metadata[") and name.endswith("]") and len(name) > len("metadata[]"):
        return name[len("metadata["):-1]
    return None


def v1_filters(params: Iterable[tuple[str, str]]) -> Node:
    """`GET /tokens`: `id` and `type` may repeat (any of them), `metadata.<key>=value` must all hold."""
    params = list(params)
    types = [v for k, v in params if k == "type"]
    # Every token is a card: any number of `type` values is one term (a query string of hundreds
    # would otherwise be hundreds of terms tried on each token).
    terms = _any_of("id", [v for k, v in params if k == "id"]) + _any_of("type", ["card" if "card" in types else types[0]] if types else [])
    terms += [Term(token_search.METADATA + key, value) for name, value in params if (key := _metadata_param(name))]
    return _all_of(terms)


def v2_filters(params: Iterable[tuple[str, str]]) -> Node:
    """`GET /v2/tokens`: `type`, `container`, `fingerprint` and metadata (a JSON object, or `metadata[key]`), all held."""
    params = list(params)
    terms: list[Node] = []
    for field in ("type", "container", "fingerprint"):
        value = next((v for k, v in params if k == field), None)
        if value is not None:
            terms.append(Term(field, value))
    for name, value in params:
        if name == "metadata":
            terms += [Term(token_search.METADATA + key, item) for key, item in _metadata_json(value).items() if item is not None]
        elif key := _metadata_param(name):
            terms.append(Term(token_search.METADATA + key, value))
    return _all_of(terms)


def _metadata_json(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(item, str | None) for item in value.values()):
        raise invalid_field("metadata", 'Must be a JSON object of strings, such as {"key":"value"}.')
    return value
