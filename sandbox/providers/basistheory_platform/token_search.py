"""The token search language: the common forms of Basis Theory's Lucene-based query syntax.

Terms are `field:value`; the value is bare (`type:card`, `id:0b6c…`) or quoted (`metadata.name:"Jane Doe"`),
and a backslash escapes the next character, in values and in field names alike (a metadata key holding a
special character or a space: `metadata.order\\:id:42`, `metadata.first\\ name:Jane`). Terms combine with
`AND` / `&&` and `OR` / `||` (AND binds tighter) and parentheses; terms side by side with no operator are
OR'd, Lucene's default. Searchable: `id`, `type`, `fingerprint`, `container` (the container or its children) and `metadata.<key>`.
Wildcards, ranges, fuzzy terms, `NOT` and required/prohibited marks are not emulated: they, and any
other field, are a 400 naming `query`.

Values match exactly (case-sensitive). A query is a tree of `Term`, `AllOf` and `AnyOf`; `EVERYTHING`
is the empty query (and `NOTHING`, the empty OR, a query no token answers, such as `type:bank`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sandbox.core.errors import SandboxError, invalid_field

MAX_QUERY_LENGTH = 2000
MAX_TERMS = 100
MAX_DEPTH = 20
FIELDS = ("id", "type", "fingerprint", "container")
METADATA = "metadata."
# Lucene's special characters a bare value may not hold unescaped ('/' is let through: container paths).
_SPECIAL = frozenset('+!(){}[]^"~*?:&|\\')


@dataclass(frozen=True, slots=True)
class Term:
    field: str  # id | type | fingerprint | container | metadata.<key>
    value: str


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


Node = Term | AllOf | AnyOf
EVERYTHING = AllOf(())


def bad(message: str) -> SandboxError:
    return invalid_field("query", message)


# -- reading a query ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # term | and | or | open | close
    term: Term | None = None


def parse(query: str | None) -> Node:
    """The query's tree; an empty or missing query is `EVERYTHING`. A query outside the language is a 400."""
    if query is None or not query.strip():
        return EVERYTHING
    if len(query) > MAX_QUERY_LENGTH:
        raise bad(f"The query is longer than {MAX_QUERY_LENGTH} characters.")
    tokens = _tokens(query)
    if sum(1 for t in tokens if t.kind == "term") > MAX_TERMS:
        raise bad(f"The query has more than {MAX_TERMS} terms.")
    parser = _Parser(tokens)
    node = parser.expression(0)
    if parser.at < len(tokens):
        raise bad("Unbalanced parentheses: a ')' has no '('.")
    return node


def field_of(name: str) -> str:
    """A searchable field's name, or a 400 naming `query`."""
    if name in FIELDS or (name.startswith(METADATA) and len(name) > len(METADATA)):
        return name
    raise bad(f"The field {name!r} is not searchable here: search by id, type, fingerprint, container or metadata.<key>.")


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    at, end = 0, len(query)
    while at < end:
        char = query[at]
        if char.isspace():
            at += 1
        elif char in "()":
            tokens.append(_Token("open" if char == "(" else "close"))
            at += 1
        elif query.startswith(("&&", "||"), at):
            tokens.append(_Token("and" if char == "&" else "or"))
            at += 2
        elif char in "+-!":
            raise bad(f"Required, prohibited and negated terms ({char!r}) are not supported.")
        else:
            word, word_end = _field(query, at)
            raw = query[at:word_end]  # as written: an escaped `AN\D` is a word, not the operator
            if word_end < end and query[word_end] == ":" and word:
                value, at = _value(query, word_end + 1)
                tokens.append(_Token("term", Term(field_of(word), value)))
            elif raw in ("AND", "OR"):
                tokens.append(_Token(raw.lower()))
                at = word_end
            elif raw == "NOT":
                raise bad("NOT is not supported.")
            else:
                shown = (raw or query[at])[:40]
                raise bad(f"Expected a field:value term at {shown!r} (position {at}).")
    return tokens


def _field(query: str, at: int) -> tuple[str, int]:
    """The field name (or bare word) starting at `at`, its backslash escapes read, and where it ends:
    at a space, a special character (`:` above all) or the end."""
    end = len(query)
    chars: list[str] = []
    while at < end:
        char = query[at]
        if char == "\\" and at + 1 < end:
            chars.append(query[at + 1])
            at += 2
        elif char.isspace() or char in _SPECIAL:
            break
        else:
            chars.append(char)
            at += 1
    return "".join(chars), at


def _value(query: str, at: int) -> tuple[str, int]:
    """The value starting at `at` (quoted or bare, backslash escapes) and where it ends."""
    end = len(query)
    chars: list[str] = []
    if at < end and query[at] == '"':
        at += 1
        while at < end and query[at] != '"':
            if query[at] == "\\" and at + 1 < end:
                at += 1
            chars.append(query[at])
            at += 1
        if at >= end:
            raise bad("A quoted value is not closed.")
        return "".join(chars), at + 1
    while at < end and not query[at].isspace() and query[at] != ")":
        char = query[at]
        if char == "\\":
            if at + 1 >= end:
                raise bad("The query ends with a lone backslash.")
            at += 1
            char = query[at]
        elif char in _SPECIAL:
            raise bad(f"{char!r} is not supported in a value (wildcards, ranges and fuzzy terms are not emulated); "
                      "quote the value or escape it with a backslash.")
        chars.append(char)
        at += 1
    if not chars:
        raise bad("A term has no value.")
    return "".join(chars), at


class _Parser:
    """expression := conjunction ((OR | nothing) conjunction)*; conjunction := primary (AND primary)*;
    primary := term | '(' expression ')'."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def _peek(self) -> str | None:
        return self.tokens[self.at].kind if self.at < len(self.tokens) else None

    def expression(self, depth: int) -> Node:
        parts = [self.conjunction(depth)]
        while (kind := self._peek()) in ("or", "term", "open"):
            if kind == "or":
                self.at += 1
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def conjunction(self, depth: int) -> Node:
        parts = [self.primary(depth)]
        while self._peek() == "and":
            self.at += 1
            parts.append(self.primary(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def primary(self, depth: int) -> Node:
        kind = self._peek()
        if kind == "term":
            term = self.tokens[self.at].term
            self.at += 1
            assert term is not None
            return term
        if kind == "open":
            if depth >= MAX_DEPTH:
                raise bad(f"Parentheses nest deeper than {MAX_DEPTH}.")
            self.at += 1
            node = self.expression(depth + 1)
            if self._peek() != "close":
                raise bad("Unbalanced parentheses: a '(' is not closed.")
            self.at += 1
            return node
        if kind is None:
            raise bad("The query ends where a term was expected.")
        raise bad(f"Expected a term where {'AND' if kind == 'and' else 'OR' if kind == 'or' else ')'} stands.")


# -- answering a query -------------------------------------------------------------------
#
# A query is answered in three steps, each made once per request: `simplify` folds what does not
# depend on the token (`type:card` holds for every token) and drops repeated parts (`A OR A` is
# `A`); `candidates` narrows the tokens to look at with the indexes; `predicate` compiles the rest
# into one function of the token, its cheap tests first, the terms of one field under an OR merged
# into one test (`container:/a/ OR container:/b/` is one `startswith` of two prefixes).

NOTHING = AnyOf(())
Test = Callable[[Any], bool]


def simplify(node: Node) -> Node:
    """The same query, cheaper to answer: every token is a card, so `type:card` holds for all and
    any other `type` for none; nested operators of one kind are flattened and repeated parts
    dropped (`A OR (A OR A)` is `A`). EVERYTHING or NOTHING when the answer does not depend on the
    token; otherwise neither appears inside the result."""
    if isinstance(node, Term):
        if node.field == "type":
            return EVERYTHING if node.value == "card" else NOTHING
        return node
    conjunction = isinstance(node, AllOf)
    absorbing, neutral = (NOTHING, EVERYTHING) if conjunction else (EVERYTHING, NOTHING)
    parts: dict[Node, None] = {}
    for part in node.parts:
        part = simplify(part)
        if part == absorbing:
            return absorbing
        if part == neutral:
            continue
        if type(part) is type(node):  # (A AND B) AND C: already simplified, so flat and without repeats
            parts.update(dict.fromkeys(part.parts))
        else:
            parts[part] = None
    if len(parts) == 1:
        return next(iter(parts))
    return AllOf(tuple(parts)) if conjunction else AnyOf(tuple(parts))


_TERM_COST = {"id": 1, "fingerprint": 1, "container": 3}  # metadata.<key>: 2


def cost(node: Node) -> int:
    """Roughly how many tests `predicate(node)` makes on a token, at worst (at least 1)."""
    if isinstance(node, Term):
        return _TERM_COST.get(node.field, 2)
    return max(1, sum(cost(part) for part in node.parts))


def predicate(node: Node) -> Test:
    """Whether a token (a `models.Token`) answers the query, as one function of the token."""
    return _compiled(simplify(node))


def _compiled(node: Node) -> Test:
    if node == EVERYTHING:
        return lambda token: True
    if node == NOTHING:
        return lambda token: False
    if isinstance(node, Term):
        return _term_test(node.field, (node.value,))
    if isinstance(node, AllOf):
        return _all_of([_compiled(part) for part in sorted(node.parts, key=cost)])
    values: dict[str, list[str]] = {}
    tests: list[tuple[int, Test]] = []
    for part in node.parts:
        if isinstance(part, Term):
            values.setdefault(part.field, []).append(part.value)
        else:
            tests.append((cost(part), _compiled(part)))
    tests += [(_TERM_COST.get(field, 2), _term_test(field, tuple(wanted))) for field, wanted in values.items()]
    tests.sort(key=lambda costed: costed[0])
    return _any_of([test for _, test in tests])


def _all_of(tests: list[Test]) -> Test:
    if len(tests) == 2:
        first, second = tests
        return lambda token: first(token) and second(token)

    def test(token: Any) -> bool:
        for one in tests:
            if not one(token):
                return False
        return True

    return test


def _any_of(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda token: first(token) or second(token)

    def test(token: Any) -> bool:
        for one in tests:
            if one(token):
                return True
        return False

    return test


def _term_test(field: str, values: tuple[str, ...]) -> Test:
    """A token holds one of `values` in `field` (id, fingerprint, container or metadata.<key>)."""
    value, wanted = values[0], frozenset(values)
    single = len(wanted) == 1
    if field == "id":
        return (lambda token: token.id == value) if single else (lambda token: token.id in wanted)
    if field == "fingerprint":
        return (lambda token: token.fingerprint == value) if single else (lambda token: token.fingerprint in wanted)
    if field == "container":
        prefixes = tuple(dict.fromkeys(v if v.endswith("/") else v + "/" for v in values))

        def in_container(token: Any) -> bool:
            for container in token.containers:
                if container.startswith(prefixes):
                    return True
            return False

        return in_container
    key = field[len(METADATA):]

    def in_metadata(token: Any) -> bool:
        metadata = token.metadata
        if not metadata:
            return False
        held = metadata.get(key)
        return held == value if single else held in wanted  # values are strings (or None): hashable

    return in_metadata


Ids = AbstractSet[str]
Postings = Callable[[Term], "Ids | None"]


def candidates(node: Node, postings: Postings, work: int) -> Ids | None:
    """The ids that may answer a simplified query, from the indexes (`postings` gives a term's
    ids, or None for a term no index narrows: `container:`); None when only a scan can tell. At
    most about `work` ids are combined: an AND keeps the smallest set found once that is spent
    (every candidate is checked against the query anyway), an OR gives up (None). The result may
    be one of the postings themselves: read it, never change it."""
    budget = [work]

    def narrow(node: Node) -> Ids | None:
        if isinstance(node, Term):
            return postings(node)
        found = [narrow(part) for part in node.parts]
        if isinstance(node, AllOf):
            narrowed = sorted((part_ids for part_ids in found if part_ids is not None), key=len)
            if not narrowed:
                return None
            ids = narrowed[0]
            for other in narrowed[1:]:
                if not ids or budget[0] < len(ids):
                    break
                budget[0] -= len(ids)
                ids = ids & other  # C speed: walks the smaller of the two
            return ids
        known = [part_ids for part_ids in found if part_ids is not None]
        if len(known) < len(found) or sum(map(len, known)) > budget[0]:
            return None
        budget[0] -= sum(map(len, known))
        union: set[str] = set()
        for part_ids in known:
            union.update(part_ids)
        return union

    return narrow(node)
