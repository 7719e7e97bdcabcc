"""`MemoryStore`: per-tenant spaces, newest-first paging with cursors, offset slices, deletes and resets."""

from dataclasses import dataclass

import pytest
from sandbox.core.store import MemoryStore, Page, Space, UnknownCursor

A = Space("acme", "t1")
B = Space("acme", "t2")
OTHER = Space("beta", "t1")


@dataclass
class Thing:
    id: str
    colour: str = "red"


def filled(n: int = 5, space: Space = A, kind: str = "thing") -> MemoryStore:
    store = MemoryStore()
    for i in range(1, n + 1):
        store.put(space, kind, f"th_{i}", Thing(f"th_{i}", "red" if i % 2 else "blue"))
    return store


def ids(page: Page) -> list[str]:
    return [thing.id for thing in page.items]


def test_get_put_and_spaces_do_not_leak():
    store = filled(2)
    assert store.get(A, "thing", "th_1") == Thing("th_1")
    assert store.get(B, "thing", "th_1") is None  # another tenant
    assert store.get(OTHER, "thing", "th_1") is None  # another provider, same tenant name
    assert store.get(A, "other-kind", "th_1") is None
    assert store.count(A, "thing") == 2 and store.count(B, "thing") == 0


def test_put_again_replaces_but_keeps_the_creation_order():
    store = filled(3)
    store.put(A, "thing", "th_1", Thing("th_1", "green"))
    assert store.get(A, "thing", "th_1").colour == "green"
    assert ids(store.page(A, "thing", limit=10)) == ["th_3", "th_2", "th_1"]
    assert store.sizes()["object_slots"] == 3


def test_pages_go_newest_first_with_after_cursors():
    store = filled(5)
    first = store.page(A, "thing", limit=2)
    assert (ids(first), first.has_more) == (["th_5", "th_4"], True)
    second = store.page(A, "thing", limit=2, after="th_4")
    assert (ids(second), second.has_more) == (["th_3", "th_2"], True)
    last = store.page(A, "thing", limit=2, after="th_2")
    assert (ids(last), last.has_more) == (["th_1"], False)
    assert store.page(A, "thing", limit=2, after="th_1") == Page([], False)


def test_an_exact_fit_has_no_more():
    store = filled(4)
    assert store.page(A, "thing", limit=4).has_more is False
    assert store.page(A, "thing", limit=2, after="th_3") == Page([Thing("th_2", "blue"), Thing("th_1")], False)


def test_unknown_cursors_raise():
    store = filled(3)
    with pytest.raises(UnknownCursor):
        store.page(A, "thing", limit=2, after="th_404")
    with pytest.raises(UnknownCursor):
        store.page(B, "thing", limit=2, after="th_1")  # another tenant's id is unknown here
    with pytest.raises(UnknownCursor):
        store.page(A, "never-stored", limit=2, after="th_1")
    assert store.page(A, "never-stored", limit=2) == Page([], False)


def test_where_filters_before_the_limit():
    store = filled(7)  # odd ids are red
    red = lambda thing: thing.colour == "red"  # noqa: E731
    first = store.page(A, "thing", limit=2, where=red)
    assert (ids(first), first.has_more) == (["th_7", "th_5"], True)
    second = store.page(A, "thing", limit=2, after="th_5", where=red)
    assert (ids(second), second.has_more) == (["th_3", "th_1"], False)
    # A cursor need not itself match the filter.
    assert ids(store.page(A, "thing", limit=10, after="th_6", where=red)) == ["th_5", "th_3", "th_1"]
    assert store.page(A, "thing", limit=3, where=lambda thing: False) == Page([], False)


def test_has_more_means_another_match_exists():
    store = filled(3)  # th_3 red, th_2 blue, th_1 red
    page = store.page(A, "thing", limit=1, after="th_3", where=lambda thing: thing.colour == "blue")
    assert (ids(page), page.has_more) == (["th_2"], False)


def test_slices_page_by_offset_newest_first():
    store = filled(5)
    assert (ids(s := store.slice(A, "thing", offset=0, limit=2)), s.has_more) == (["th_5", "th_4"], True)
    assert (ids(s := store.slice(A, "thing", offset=2, limit=2)), s.has_more) == (["th_3", "th_2"], True)
    assert (ids(s := store.slice(A, "thing", offset=4, limit=2)), s.has_more) == (["th_1"], False)
    assert store.slice(A, "thing", offset=3, limit=2).has_more is False  # exactly the last two
    assert store.slice(A, "thing", offset=9, limit=2) == Page([], False)
    assert store.slice(B, "thing", offset=0, limit=2) == Page([], False)


def test_deletes_leave_gaps_that_paging_skips():
    store = filled(6)
    assert store.delete(A, "thing", "th_5") is True
    assert store.delete(A, "thing", "th_2") is True
    assert store.delete(A, "thing", "th_2") is False  # already gone
    assert store.delete(B, "thing", "th_1") is False  # not in this space
    assert store.delete(A, "nothing", "th_1") is False
    assert store.get(A, "thing", "th_5") is None and store.count(A, "thing") == 4
    first = store.page(A, "thing", limit=2)
    assert (ids(first), first.has_more) == (["th_6", "th_4"], True)
    assert ids(store.page(A, "thing", limit=2, after="th_4")) == ["th_3", "th_1"]
    # A deleted id still works as a cursor: a client paging while someone deletes goes on.
    assert ids(store.page(A, "thing", limit=10, after="th_5")) == ["th_4", "th_3", "th_1"]
    assert ids(store.slice(A, "thing", offset=1, limit=2)) == ["th_4", "th_3"]
    assert store.sizes() == {"spaces": 1, "objects": 4, "object_slots": 6, "object_index": 4}


def test_a_deleted_id_put_again_keeps_its_old_place():
    store = filled(3)
    store.delete(A, "thing", "th_2")
    store.put(A, "thing", "th_2", Thing("th_2", "back"))
    assert ids(store.page(A, "thing", limit=10)) == ["th_3", "th_2", "th_1"]
    assert store.locate("thing", "th_2") == A


def test_locate_finds_the_owner_of_an_id():
    store = filled(2)
    store.put(OTHER, "widget", "w_1", Thing("w_1"))
    assert store.locate("thing", "th_1") == A
    assert store.locate("widget", "w_1") == OTHER
    assert store.locate("widget", "th_1") is None  # the kind is part of the key
    assert store.locate("thing", "th_9") is None
    store.delete(A, "thing", "th_1")
    assert store.locate("thing", "th_1") is None


def mixed() -> MemoryStore:
    store = MemoryStore()
    for space in (A, B, OTHER, Space("beta", "t2")):
        store.put(space, "thing", f"{space.provider}-{space.tenant}", Thing("x"))
        store.put(space, "widget", f"w-{space.provider}-{space.tenant}", Thing("w"))
    return store


def owners(store: MemoryStore) -> set[tuple[str, str]]:
    return {(p, t) for p in ("acme", "beta") for t in ("t1", "t2") if store.count(Space(p, t), "thing")}


@pytest.mark.parametrize(("provider", "tenant", "left"), [
    ("acme", "t1", {("acme", "t2"), ("beta", "t1"), ("beta", "t2")}),
    ("acme", None, {("beta", "t1"), ("beta", "t2")}),
    (None, "t1", {("acme", "t2"), ("beta", "t2")}),
    (None, None, set()),
])
def test_reset_forgets_only_its_scope(provider, tenant, left):
    store = mixed()
    store.reset(provider, tenant)
    assert owners(store) == left
    for p, t in [("acme", "t1"), ("acme", "t2"), ("beta", "t1"), ("beta", "t2")]:
        expected = Space(p, t) if (p, t) in left else None
        assert store.locate("thing", f"{p}-{t}") == expected
        assert store.locate("widget", f"w-{p}-{t}") == expected
    assert store.sizes() == {"spaces": len(left), "objects": 2 * len(left), "object_slots": 2 * len(left), "object_index": 2 * len(left)}


def test_a_reset_space_starts_again_empty():
    store = filled(3)
    store.reset("acme", "t1")
    with pytest.raises(UnknownCursor):
        store.page(A, "thing", limit=2, after="th_1")
    store.put(A, "thing", "th_9", Thing("th_9"))
    assert ids(store.page(A, "thing", limit=10)) == ["th_9"]
    assert store.sizes() == {"spaces": 1, "objects": 1, "object_slots": 1, "object_index": 1}


def test_sizes_of_an_empty_store():
    assert MemoryStore().sizes() == {"spaces": 0, "objects": 0, "object_slots": 0, "object_index": 0}
    store = mixed()
    assert store.sizes() == {"spaces": 4, "objects": 8, "object_slots": 8, "object_index": 8}


def test_what_was_touched_comes_in_creation_order():
    """A durable backend keeps keys in the order they first appear, and a restarted process lists
    objects in that order: objects made in one commit must be written oldest first."""
    from sandbox.core.store import TrackedStore

    store = TrackedStore()
    for n in range(40):
        store.put(A, "thing", f"t{n:02}", Thing(f"t{n:02}"))
        store.put(B, "thing", f"u{n:02}", Thing(f"u{n:02}"))
    touched = store.take_touched()
    assert [obj_id for space, _, obj_id in touched if space == A] == [f"t{n:02}" for n in range(40)]
    assert [obj_id for space, _, obj_id in touched if space == B] == [f"u{n:02}" for n in range(40)]
    assert store.take_touched() == []
