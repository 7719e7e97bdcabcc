"""`--data-dir`: a kill -9 loses nothing acknowledged, and the server resumes where it was (issue 14).

Real `sandbox serve` processes, killed with SIGKILL, and a real webhook receiver over HTTP.
"""

from __future__ import annotations

import pytest

from tests.durable import DINO, Receiver, Server

START = ("--seed", "7", "--clock", "2026-01-01T00:00:00Z")
RULES = {"name": "approve-later", "rules": [
    {"provider": "dino", "on": "authorize", "when": {"request.expected_total_cents": {"gte": 50000}},
     "then": {"status": "needs_approval", "after": {"seconds": 300, "status": "approved"}}},
]}


@pytest.fixture
def receiver():
    recv = Receiver()
    recv.status = 500  # failing until the test lets it through: deliveries stay pending across the kill
    yield recv
    recv.close()


def snapshot(server: Server) -> dict:
    """What a client can read back: every one of these must survive the kill."""
    reads = {
        "intents": "/v1/purchase-intents", "events": "/_sandbox/events", "endpoints": "/_sandbox/webhook-endpoints",
        "deliveries": "/_sandbox/webhook-deliveries", "clock": "/_sandbox/clock", "scenarios": "/_sandbox/scenarios",
        "wallet": "/v1/balance",
    }
    return {name: server.get(path, headers=DINO).json() for name, path in reads.items()}


def test_kill_9_loses_nothing_acknowledged_and_webhooks_resume(servers, receiver, tmp_path):
    data = str(tmp_path / "data")
    first = Server(*START, "--data-dir", data)
    servers.append(first)
    assert first.post("/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url}).status_code == 201
    assert first.post("/_sandbox/scenarios", RULES).status_code == 201
    keyed = first.create_intent(key="k1").json()
    big = first.post("/v1/purchase-intents", {**_intent(), "max_total_cents": 90000}, headers=DINO).json()
    authorized = first.post(f"/v1/purchase-intents/{big['id']}/authorize", {"expected_total_cents": 60000}, headers=DINO).json()
    assert authorized["status"] == "needs_approval"  # the scenario's rule, with a decision due in 300 s
    assert first.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    assert first.post("/_sandbox/clock/advance", {"seconds": 10}).status_code == 200  # the first retry (5 s) falls due
    assert first.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    before = snapshot(first)
    failed = [d for d in before["deliveries"]["data"] if d["status"] == "pending"]
    assert failed and max(len(d["attempts"]) for d in failed) == 2  # chain heads tried twice, the next try scheduled

    first.kill()
    second = Server(*START, "--data-dir", data)
    servers.append(second)
    assert snapshot(second) == before
    assert second.create_intent(key="k1").json() == keyed  # the idempotency key was kept

    # Ids continue as if the server had never stopped: a memory server given the same requests agrees.
    reference = Server(*START)
    servers.append(reference)
    reference.create_intent(key="k1")
    reference.post("/v1/purchase-intents", {**_intent(), "max_total_cents": 90000}, headers=DINO)
    assert second.create_intent().json()["id"] == reference.create_intent().json()["id"]

    # The scheduled decision and the pending retries resume on the restored clock.
    receiver.status = 200
    assert second.post("/_sandbox/clock/advance", {"seconds": 600}).status_code == 200
    assert second.get(f"/v1/purchase-intents/{big['id']}", headers=DINO).json()["status"] == "approved"
    assert second.post("/_sandbox/webhooks/flush").json()["flushed"] is True
    after = second.get("/_sandbox/webhook-deliveries").json()["data"]
    for delivery in failed:
        resumed = next(d for d in after if d["id"] == delivery["id"])
        assert resumed["status"] == "delivered" and resumed["attempts"][:-1] == delivery["attempts"]
    delivered_events = [body["id"] for body in receiver.bodies]
    assert {d["event_id"] for d in failed} <= set(delivered_events)
    approved = [e for e in second.get("/_sandbox/events").json()["data"] if e["object_id"] == big["id"]]
    assert [e["type"] for e in approved] == ["purchase_intent.created", "purchase_intent.needs_approval", "purchase_intent.authorized"]


def test_a_second_server_on_the_same_directory_refuses_to_start(servers, tmp_path):
    data = str(tmp_path / "data")
    servers.append(Server("--data-dir", data))
    with pytest.raises(AssertionError) as refused:
        Server("--data-dir", data)
    assert f"--data-dir {data} is in use by process" in str(refused.value)


def test_a_reset_is_durable_too(servers, tmp_path):
    data = str(tmp_path / "data")
    first = Server(*START, "--data-dir", data)
    servers.append(first)
    first.create_intent()
    assert first.post("/_sandbox/reset", {"provider": "dino"}).status_code == 200
    first.kill()
    second = Server(*START, "--data-dir", data)
    servers.append(second)
    assert second.get("/v1/purchase-intents", headers=DINO).json()["data"] == []
    assert second.get("/_sandbox/events").json()["data"] == []


def _intent() -> dict:
    from tests.conftest import SEED_INTENT

    return dict(SEED_INTENT)
