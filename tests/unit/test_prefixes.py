"""`PrefixMap`: a path's first segment decides its owner, the longest declared prefix first."""

from sandbox.core.prefixes import PrefixMap


def owners() -> PrefixMap[str]:
    prefixes: PrefixMap[str] = PrefixMap()
    prefixes.add(("/v1/", "/v1"), "first")
    prefixes.add(("/tokens", "/api/"), "second")
    return prefixes


def test_a_prefix_owns_its_segment_with_or_without_the_slash() -> None:
    prefixes = owners()
    assert prefixes.owner("/v1") == "first"
    assert prefixes.owner("/v1/purchase-intents/x") == "first"
    assert prefixes.owner("/tokens") == "second"
    assert prefixes.owner("/tokens/") == "second"
    assert prefixes.owner("/tokens/abc") == "second"
    assert prefixes.owner("/api/2025-06-09/agents") == "second"


def test_a_segment_that_only_begins_like_a_prefix_has_no_owner() -> None:
    prefixes = owners()
    assert prefixes.owner("/tokens-x") is None
    assert prefixes.owner("/tokens-x/abc") is None
    assert prefixes.owner("/v1beta/things") is None
    assert prefixes.owner("/api") is None  # `/api/` was declared with its slash
    assert prefixes.owner("/") is None


def test_answers_stay_right_after_another_prefix_is_added() -> None:
    prefixes = owners()
    assert prefixes.owner("/v2/tokens") is None
    prefixes.add(("/v2/",), "third")
    assert prefixes.owner("/v2/tokens") == "third"
