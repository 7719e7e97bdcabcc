"""Two `sandbox serve` replicas on one real Redis (issue 14): one object per idempotency key, one
decision and one credential per intent, each webhook delivery attempted by one replica, and a
replica killed in the middle of an attempt or a retry schedule loses nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import SEED_AUTHORIZE, SEED_INTENT
from tests.durable import DINO, Receiver, Server

CLOCK = ("--seed", "11", "--clock", "2026-01-01T00:00:00Z", "--webhook-timeout", "1")


@pytest.fixture
def receiver():
    recv = Receiver()
    yield recv
    recv.close()


@pytest.fixture
def replicas(redis_server, servers):
    redis_server.flush()

    def start(count: int = 2) -> list[Server]:
        started = [Server(*CLOCK, "--store", redis_server.url) for _ in range(count)]
        servers.extend(started)
        return started

    return start


def spread(replicas: list[Server], count: int, call):
    """`count` calls at once, alternating between the replicas."""
    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(lambda n: call(replicas[n % len(replicas)]), range(count)))


def test_200_parallel_creates_with_one_key_over_two_replicas_create_one_object(replicas):
    both = replicas()
    answers = spread(both, 200, lambda server: server.create_intent(key="one-key"))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    for server in both:
        assert len(server.get("/v1/purchase-intents", headers=DINO).json()["data"]) == 1
        created = server.get("/_sandbox/events", params={"type": "purchase_intent.created"}).json()["data"]
        assert len(created) == 1


def test_two_replicas_authorizing_and_issuing_at_once_make_one_decision_and_one_credential(replicas):
    both = replicas()
    intent = both[0].create_intent().json()
    path = f"/v1/purchase-intents/{intent['id']}"
    decided = spread(both, 20, lambda server: server.post(path + "/authorize", SEED_AUTHORIZE, headers=DINO))
    assert sorted({a.status_code for a in decided}) == [200, 409]  # one decision; the rest find it made
    issue = {"provider": "stripe_proxy_card", "credential_mode": "one_time_exact_amount", "ttl_seconds": 900}
    issued = spread(both, 20, lambda server: server.post(path + "/issue-payment-credential", issue, headers=DINO))
    winners = [a.json() for a in issued if a.status_code == 200]
    assert len(winners) == 1 and {a.status_code for a in issued} == {200, 409}
    for server in both:
        events = [e["type"] for e in server.get("/_sandbox/events", params={"object_id": intent["id"]}).json()["data"]]
        assert events == ["purchase_intent.created", "purchase_intent.authorized"]
        balance = server.get("/v1/balance", headers=DINO).json()
        assert balance == both[0].get("/v1/balance", headers=DINO).json()  # one reserve, seen alike


def test_each_webhook_delivery_is_attempted_by_one_replica(replicas, receiver):
    both = replicas()
    assert both[0].post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url}).status_code == 201
    created = spread(both, 40, lambda server: server.create_intent())
    assert {a.status_code for a in created} == {201}
    for server in both:
        assert server.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    deliveries = both[1].get("/_sandbox/webhook-deliveries").json()["data"]
    assert len(deliveries) == 40 and {d["status"] for d in deliveries} == {"delivered"}
    assert all(len(d["attempts"]) == 1 for d in deliveries)
    assert len(receiver.events) == 40 and set(receiver.events.values()) == {1}


def test_a_replica_killed_during_an_attempt_leaves_it_to_another(replicas, receiver):
    first, = replicas(1)
    first.post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url})
    receiver.hold.clear()  # the receiver keeps the first attempt waiting
    intent = first.create_intent().json()
    assert receiver.arrived.wait(10)
    first.kill()  # in the middle of its attempt, which it had claimed
    receiver.hold.set()
    second, = replicas(1)
    deadline = time.monotonic() + 15  # the claim runs out after the attempt's timeout (1 s) and a margin (2 s), in real time
    while time.monotonic() < deadline:
        found = second.get("/_sandbox/webhook-deliveries", params={"object_id": intent["id"]}).json()["data"]
        if found and found[0]["status"] == "delivered":
            break
        second.post("/_sandbox/webhooks/flush", params={"timeout": "1"})
    assert found[0]["status"] == "delivered"
    assert sum(receiver.events.values()) == 2  # the cut attempt, and the one that got through


def test_a_replica_killed_in_a_retry_schedule_leaves_it_to_another(replicas, receiver):
    first, other = replicas()
    first.post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url})
    receiver.status = 500
    intent = first.create_intent().json()
    for server in (first, other):
        server.post("/_sandbox/webhooks/flush")
    first.kill()
    receiver.status = 200
    assert other.post("/_sandbox/clock/advance", {"seconds": 10}).status_code == 200  # the retry falls due (5 s)
    assert other.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    delivery, = other.get("/_sandbox/webhook-deliveries", params={"object_id": intent["id"]}).json()["data"]
    assert delivery["status"] == "delivered" and [a["status_code"] for a in delivery["attempts"]] == [500, 200]


def test_a_scheduled_transition_fires_once_across_replicas(replicas):
    both = replicas()
    rules = {"name": "later", "rules": [{"provider": "dino", "on": "authorize", "then": {"status": "needs_approval",
             "after": {"seconds": 300, "status": "approved"}}}]}
    assert both[0].post("/_sandbox/scenarios", rules).status_code == 201
    intent = both[1].create_intent().json()
    path = f"/v1/purchase-intents/{intent['id']}"
    assert both[0].post(path + "/authorize", SEED_AUTHORIZE, headers=DINO).json()["status"] == "needs_approval"
    spread(both, 10, lambda server: server.post("/_sandbox/clock/advance", {"seconds": 60}))
    for server in both:
        assert server.get(path, headers=DINO).json()["status"] == "approved"
        events = [e["type"] for e in server.get("/_sandbox/events", params={"object_id": intent["id"]}).json()["data"]]
        assert events == ["purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized"]
    assert SEED_INTENT  # the intent both replicas made


def test_a_client_slow_to_send_its_body_holds_up_no_replica(replicas):
    import socket

    slow_one, other = replicas()
    with socket.create_connection(("127.0.0.1", slow_one.port)) as slow:
        slow.sendall(b"POST /v1/purchase-intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer din_test_durable\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{")  # and nothing more, for now
        started = time.monotonic()
        for server in (other, slow_one):
            assert server.create_intent().status_code == 201
        assert time.monotonic() - started < 5  # not the body deadline (30 s)
