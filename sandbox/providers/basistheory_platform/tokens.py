"""Card tokens: the card behind every enrollment and 3-D Secure session; their update (a JSON merge
patch), lists and search.

Lists and searches answer newest first. Terms an index can answer (`fingerprint:`, `metadata.<key>:`,
`id:`) are looked up, never scanned for: each tenant keeps its indexes in the store beside its tokens
(kind `token_index`: one posting per fingerprint and per metadata key and value, an ordered set of token
ids), so every backend and replica holds them. Only a query no index narrows (`container:`) walks the
tenant's tokens, newest first, and a cursor page stops as soon as it is full; `type:card` holds for
every token, so it and no query are a plain page of the store. No search blocks the event loop for
long on any query or tenant: see "lists and search" below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import math
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from sandbox.core import cards
from sandbox.core.api import InThread
from sandbox.core.clock import iso
from sandbox.core.errors import from_validation, invalid_field
from sandbox.core.store import UnknownCursor
from sandbox.providers.basistheory_platform import token_search
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.models import CardData, Token, TokenCreate, TokenUpdate
from sandbox.providers.basistheory_platform.token_search import EVERYTHING, NOTHING, AllOf, AnyOf, Node, Term

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


def _peek(ctx: Context, tenant: str, kind: str, obj_id: str) -> Any | None:
    """An object read without being noted as handed out: a durable backend writes back (pickles)
    every object a request was handed, and a search changes none."""
    return ctx.rt.store.peek(ctx.space(tenant), kind, obj_id)


def _newest(ctx: Context, tenant: str) -> Iterator[Token]:
    """The tenant's tokens newest first in the store's order (the one `store.page` pages in), read
    without being noted as handed out (as `_peek`)."""
    return (token for _, token in ctx.rt.store.browse(ctx.space(tenant), KIND))


def _postings(ctx: Context, tenant: str) -> token_search.Postings:
    def postings(term: Term) -> token_search.Ids | None:
        if term.field == "id":
            return {term.value}
        if term.field == "fingerprint" or term.field.startswith(token_search.METADATA):
            ids: dict[str, None] | None = _peek(ctx, tenant, INDEX, _posting_id(term.field, term.value))
            return ids.keys() if ids is not None else frozenset()
        return None  # container: no index narrows it

    return postings


# -- lists and search --------------------------------------------------------------------
#
# A search simplifies its query (`token_search.simplify`: `type:card` is every token, `A OR A` is
# `A`), then looks at the tokens its indexes leave (`token_search.candidates`: newest first by
# `seq`), or else walks the tenant's tokens newest first in the store's order, testing each with the
# query compiled once (`token_search.predicate`). The event loop tests at most LOOP_WORK tests'
# worth of tokens (a token counts as many tests as the query's cost); a page that needs more (v1
# totals count every match) is finished in a worker thread (`InThread`), from a list of the tokens
# (or candidate ids) left, taken on the loop first: a token changed meanwhile may be seen either way.
# Searches keep no answer under an idempotency key (routes.py), as `InThread` requires. Tokens are
# read with `_peek` and `_newest`, so a durable backend does not pickle every token a search saw.

LOOP_WORK = 20_000  # a few milliseconds of the loop
NARROW_WORK = 100_000  # ids the indexes' sets may be combined over before a search walks instead
Matches = tuple[int, list[Token]]  # how many tokens answer, and those on the page


def _seq(token: Token) -> int:
    return token.seq


def _budget(node: Node) -> int:
    """The tokens a search for `node` may test on the event loop."""
    return max(100, LOOP_WORK // token_search.cost(node))


def _picked(ctx: Context, tenant: str, ids: Iterable[str], test: token_search.Test, newer: int | None) -> list[Token]:
    """The tokens of these ids that answer the query (and are older than `newer`), in no order."""
    return [token for token_id in ids if (token := _peek(ctx, tenant, KIND, token_id)) is not None
            and (newer is None or token.seq < newer) and test(token)]


def _ranked(found: list[Token], offset: int, size: int) -> Matches:
    """How many were found, and the page `offset`..`offset + size` of them newest first."""
    end = offset + size
    newest = heapq.nlargest(end, found, key=_seq) if end < len(found) else sorted(found, key=_seq, reverse=True)
    return len(found), newest[offset:end]


def _counted(tokens: Iterable[Token], test: token_search.Test, offset: int, size: int) -> Matches:
    """Tokens given newest first: how many answer, and the page `offset`..`offset + size` of those."""
    total, page, end = 0, [], offset + size
    for token in tokens:
        if test(token):
            if offset <= total < end:
                page.append(token)
            total += 1
    return total, page


def _first(tokens: Iterable[Token], test: token_search.Test, newer: int | None, found: list[Token], want: int) -> bool:
    """Tokens given newest first: adds those that answer (and are older than `newer`) to `found`
    until it holds `want`; whether it does."""
    for token in tokens:
        if (newer is None or token.seq < newer) and test(token):
            found.append(token)
            if len(found) >= want:
                return True
    return False


def cursor_page(ctx: Context, tenant: str, node: Node, size: int | None, start: str | None) -> dict[str, Any] | InThread:
    """A v2 page: `{"pagination": {"page_size", "next"}, "data"}`; `next` is null on the last page."""
    size = size or DEFAULT_SIZE
    before = _read_cursor(start) if start else None

    def answer(tokens: list[Token], more: bool) -> dict[str, Any]:
        after = _cursor(tokens[-1]) if more and tokens else None
        return {"pagination": {"page_size": size, "next": after}, "data": [token.to_wire() for token in tokens]}

    node = token_search.simplify(node)
    if node == NOTHING:
        return answer([], False)
    if node == EVERYTHING:
        try:
            page = ctx.rt.store.page(ctx.space(tenant), KIND, limit=size, after=before[1] if before else None)
            return answer(list(page.items), page.has_more)
        except UnknownCursor:
            pass  # the cursor's token is gone from this process's order: its place is its seq
    test, budget, newer = token_search.predicate(node), _budget(node), before[0] if before else None
    ids = token_search.candidates(node, _postings(ctx, tenant), NARROW_WORK)
    if ids is not None:

        def newest_candidates(chosen: Iterable[str]) -> dict[str, Any]:
            top = heapq.nlargest(size + 1, _picked(ctx, tenant, chosen, test, newer), key=_seq)
            return answer(top[:size], len(top) > size)

        if len(ids) <= budget:
            return newest_candidates(ids)
        chosen = list(ids)
        return InThread(lambda: newest_candidates(chosen))
    found: list[Token] = []
    walk = _newest(ctx, tenant)
    if before is not None and _peek(ctx, tenant, KIND, before[1]) is not None:
        for token in walk:  # the page starts after the cursor's token in the store's order, as `store.page` does
            if token.id == before[1]:
                break
        newer = None
    if _first(itertools.islice(walk, budget), test, newer, found, size + 1):
        return answer(found[:size], True)
    following = next(walk, None)
    if following is None:
        return answer(found, False)
    rest = [following, *walk]

    def finish() -> dict[str, Any]:
        more = _first(rest, test, newer, found, size + 1)
        return answer(found[:size], more)

    return InThread(finish)


def offset_page(ctx: Context, tenant: str, node: Node, page: int | None, size: int | None) -> dict[str, Any] | InThread:
    """A v1 page: `{"pagination": {"total_items", "page_number", "page_size", "total_pages"}, "data"}`."""
    page, size = page or 1, size or DEFAULT_SIZE
    offset = (page - 1) * size

    def answer(matches: Matches) -> dict[str, Any]:
        total, tokens = matches
        pagination = {"total_items": total, "page_number": page, "page_size": size, "total_pages": math.ceil(total / size)}
        return {"pagination": pagination, "data": [token.to_wire() for token in tokens]}

    node = token_search.simplify(node)
    if node == NOTHING:
        return answer((0, []))
    if node == EVERYTHING:
        total = ctx.rt.store.count(ctx.space(tenant), KIND)
        return answer((total, list(itertools.islice(_newest(ctx, tenant), offset, offset + size))))
    test, budget = token_search.predicate(node), _budget(node)
    ids = token_search.candidates(node, _postings(ctx, tenant), NARROW_WORK)
    if ids is not None:
        if len(ids) <= budget:
            return answer(_ranked(_picked(ctx, tenant, ids, test, None), offset, size))
        chosen = list(ids)
        return InThread(lambda: answer(_ranked(_picked(ctx, tenant, chosen, test, None), offset, size)))
    if ctx.rt.store.count(ctx.space(tenant), KIND) <= budget:
        return answer(_counted(_newest(ctx, tenant), test, offset, size))
    tokens = list(_newest(ctx, tenant))
    return InThread(lambda: answer(_counted(tokens, test, offset, size)))


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
