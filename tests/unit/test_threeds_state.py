"""A 3-D Secure session read back from a durable store: as written, or as an earlier version wrote it."""

import pickle

from sandbox.providers.basistheory_platform.threeds import Session


def session(challenge: str = "none", extra: dict | None = None) -> Session:
    return Session("s1", "t1", "tok1", "visa", "4000000000003220", "customer", "browser", None, "2026-01-01T00:00:00.000Z",
                   None, extra or {}, challenge)


def test_a_session_reads_back_as_written():
    stored = session("pending", {"purchase": {}})
    assert pickle.loads(pickle.dumps(stored)) == stored


def test_a_session_saved_before_the_challenge_was_a_field_finds_it_in_extra():
    _, _, (_, slots) = session().__reduce_ex__(5)[:3]
    del slots["challenge"]  # an earlier version kept the challenge in `extra` and had no such slot
    for kept, expected in (({"challenge": "pending", "purchase": {}}, "pending"), ({"purchase": {}}, "none")):
        old = Session.__new__(Session)
        old.__setstate__((None, {**slots, "extra": dict(kept)}))
        assert (old.challenge, old.extra) == (expected, {"purchase": {}})
