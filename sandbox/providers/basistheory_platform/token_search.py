"""The token search language: the common forms of Basis Theory's Lucene-based query syntax.

Terms are `field:value`; the value is bare (`type:card`, `id:0b6c…`) or quoted (`metadata.name:"Jane Doe"`),
and a backslash escapes the next character, in values and in field names alike (a metadata key holding a
special character or a space: `metadata.order\\:id:42`, `metadata.first\\ name:Jane`). Terms combine with
`AND` / `&&` and `OR` / `||` (AND binds tighter) and parentheses; terms side by side with no operator are
OR'd, Lucene's default. Searchable: `id`, `type`, `fingerprint`, `container` (the container or its children) and `metadata.<key>`.
Wildcards, ranges, fuzzy terms, `NOT` and required/prohibited marks are not emulated: they, and any
other field, are a 400 naming `query`.

Values match exactly (case-sensitive). A query is a tree of `Term`, `AllOf` and `AnyOf`; `EVERYTHING`
is the empty query.
"""

from __future__ import annotations

from collections.abc import Callable
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


def matches(node: Node, token: Any) -> bool:
    """Whether a token (a `models.Token`) answers the query."""
    if isinstance(node, Term):
        return _term_matches(node, token)
    if isinstance(node, AllOf):
        return all(matches(part, token) for part in node.parts)
    return any(matches(part, token) for part in node.parts)


def _term_matches(term: Term, token: Any) -> bool:
    field, value = term.field, term.value
    if field == "id":
        return bool(token.id == value)
    if field == "type":
        return value == "card"
    if field == "fingerprint":
        return bool(token.fingerprint == value)
    if field == "container":
        wanted = value if value.endswith("/") else value + "/"
        return any(container.startswith(wanted) for container in token.containers)
    return bool((token.metadata or {}).get(field[len(METADATA):]) == value)


Postings = Callable[[Term], "set[str] | None"]


def candidates(node: Node, postings: Postings) -> set[str] | None:
    """The ids that may answer the query, from the indexes (`postings` gives a term's ids, or None
    for a term no index narrows, such as `type:card`); None when only a scan can tell."""
    if isinstance(node, Term):
        return postings(node)
    found = [candidates(part, postings) for part in node.parts]
    if isinstance(node, AllOf):
        narrowed = [ids for ids in found if ids is not None]
        if not narrowed:
            return None
        return set.intersection(*sorted(narrowed, key=len))
    if any(ids is None for ids in found):
        return None
    return set().union(*[ids for ids in found if ids is not None])
