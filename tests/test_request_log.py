"""`GET /_sandbox/requests`: the last requests, newest first, filtered, bounded and redacted;
access lines for `sandbox serve --log-level info`."""

from __future__ import annotations

import json
import logging

import jwt
import pytest
from sandbox.core.requests import JsonLogFormatter, redact_json, redact_text
from sandbox.core.runtime import RUNTIME

from tests.bt import Bt
from tests.cm import Cm
from tests.conftest import KEY, OTHER_KEY, START, free_port, intent_body

SECRET = "whsec_" + "c2FuZGJveC1saXN0ZW4tdGVzdC1zZWNyZXQ="
PLATFORM = {"BT-API-KEY": "key_test_logged"}


async def logged(api, **query) -> list[dict]:
    status, body = await api.control("GET", "/_sandbox/requests?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert status == 200, body
    return body["data"]


async def test_requests_newest_first_with_what_was_asked_and_answered(api):
    made = await api.create()
    status, _, _ = await api.request("GET", f"/v1/purchase-intents/{made['id']}?expand=x")
    assert status == 200
    read, created = await logged(api)
    assert [read["method"], read["path"], read["query"], read["status"]] == ["GET", f"/v1/purchase-intents/{made['id']}", "expand=x", 200]
    assert (read["provider"], read["tenant"], read["time"]) == ("dino", KEY, START)
    assert read["seq"] == created["seq"] + 1 and read["duration_ms"] >= 0 and read["hint"] is None
    assert read["request"]["body"] is None and read["response"]["body"] == made
    assert created["request"]["body"] == intent_body() and created["status"] == 201
    assert created["request"]["body_bytes"] > 0 and created["request"]["truncated"] is False
    assert created["response"]["headers"]["Content-Type"] == "application/json"


async def test_the_sandbox_clock_stamps_entries(api):
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 90})
    await api.create()
    assert (await logged(api, limit=1))[0]["time"] == "2026-01-01T00:01:30.000Z"


async def test_reading_the_log_is_not_logged_but_the_control_plane_is(api):
    await api.control("GET", "/_sandbox/requests")
    await api.control("GET", "/_sandbox/requests?limit=0")  # even a refused read
    await api.control("GET", "/_sandbox/health")
    (health,) = await logged(api)
    assert (health["path"], health["provider"], health["tenant"], health["status"]) == ("/_sandbox/health", None, None, 200)
    assert [e["path"] for e in await logged(api, provider="_sandbox")] == ["/_sandbox/health"]


async def test_filters(api):
    bob = api.as_key(OTHER_KEY)
    await api.create()
    await bob.create()
    await api.request("GET", "/v1/purchase-intents/pi_nope")
    await Cm(api.client).agent()
    await api.control("GET", "/_sandbox/health")

    assert {e["provider"] for e in await logged(api)} == {"dino", "crossmint", None}
    assert [e["tenant"] for e in await logged(api, provider="dino")] == [KEY, OTHER_KEY, KEY]
    assert [e["path"] for e in await logged(api, tenant=OTHER_KEY)] == ["/v1/purchase-intents"]
    assert [e["status"] for e in await logged(api, status="404")] == [404]
    assert [e["status"] for e in await logged(api, status="2xx", provider="dino")] == [201, 201]
    assert [e["method"] for e in await logged(api, method="post", provider="dino")] == ["POST", "POST"]
    # A path starting with / is a prefix; anything else a substring.
    assert [e["path"] for e in await logged(api, path="/v1/purchase-intents/")] == ["/v1/purchase-intents/pi_nope"]
    assert {e["path"] for e in await logged(api, path="agents")} == {"/api/unstable/agents"}
    assert await logged(api, path="/agents") == []
    newest = await logged(api, limit=2)
    assert len(newest) == 2 and newest[0]["seq"] > newest[1]["seq"]
    since = (await logged(api, provider="dino"))[0]["seq"]
    assert [e["path"] for e in await logged(api, since=since)] == ["/_sandbox/health", "/api/unstable/agents"]


@pytest.mark.parametrize("query", ["status=4x", "status=600", "limit=0", "limit=10001", "since=-1"])
async def test_bad_filters_are_400(api, query):
    status, body = await api.control("GET", f"/_sandbox/requests?{query}")
    assert status == 400 and body["error"]["code"] == "invalid_request"


async def test_the_log_is_bounded(make_api):
    api = await make_api(request_log_size=3)
    for _ in range(5):
        await api.control("GET", "/_sandbox/health")
    status, body = await api.control("GET", "/_sandbox/requests")
    assert [e["seq"] for e in body["data"]] == [5, 4, 3] and (body["capacity"], body["held"]) == (3, 3)
    assert api.client.app[RUNTIME].sizes()["logged_requests"] == 3


async def test_size_zero_turns_it_off(make_api):
    api = await make_api(request_log_size=0)
    await api.create()
    status, body = await api.control("GET", "/_sandbox/requests")
    assert (status, body["data"], body["capacity"]) == (200, [], 0)
    assert api.client.app[RUNTIME].sizes()["logged_requests"] == 0


async def test_bodies_are_cut_to_a_bound_and_shown_as_text(make_api):
    api = await make_api(request_log_body_bytes=40)
    made = await api.create()
    (entry,) = await logged(api)
    request, response = entry["request"], entry["response"]
    assert request["truncated"] and request["body_bytes"] > 40
    assert len(request["body"]) == 40 and request["body"].startswith('{"product_url"')
    assert response["truncated"] and isinstance(response["body"], str) and response["body"].startswith('{"id":"' + made["id"][:20])


async def test_a_body_that_is_not_json_is_text(api):
    status, _, _ = await api.request("POST", "/v1/purchase-intents", data=b"quantity=1", headers={"Content-Type": "text/plain"})
    assert status == 415
    (entry,) = await logged(api)
    assert entry["request"]["body"] == "quantity=1" and entry["response"]["body"]["error"]["code"] == "invalid_request"


# -- redaction --------------------------------------------------------------------------


async def test_credential_headers_are_redacted_for_every_provider(api):
    await api.create()
    user = jwt.encode({"sub": "alice", "exp": 4102444800}, "k" * 32, algorithm="HS256")
    await Cm(api.client, jwt=user).agent()
    bt = Bt(api.client)
    await bt.request("GET", "/payment-methods")
    async with api.client.get("/tokens", headers=PLATFORM) as resp:
        assert resp.status in (200, 404, 405)
    entries = await logged(api)
    headers = json.dumps([e["request"]["headers"] for e in entries])
    for secret in (KEY, "sk_staging_demo", "key_test_logged", bt.jwt, user):
        assert secret not in headers
    platform, ai, cm, dino = entries
    assert dino["request"]["headers"]["Authorization"] == "Bearer [redacted]"
    assert cm["request"]["headers"]["X-API-KEY"] == "[redacted]"
    # A JWT keeps its header and claims (who it speaks for), never its signature.
    header, claims, _ = user.split(".")
    assert cm["request"]["headers"]["Authorization"] == f"Bearer {header}.{claims}.[redacted]"
    shown = ai["request"]["headers"]["Authorization"]
    assert shown.startswith("Bearer eyJ") and shown.endswith(".[redacted]") and shown == f"Bearer {bt.jwt.rsplit('.', 1)[0]}.[redacted]"
    assert platform["request"]["headers"]["BT-API-KEY"] == "[redacted]"
    # The tenant stays (for Dino and the platform API it is the test key): the log is filtered by it.
    assert (dino["tenant"], platform["tenant"], cm["tenant"]) == (KEY, "key_test_logged", "demo")


async def test_card_numbers_and_cvcs_are_masked_in_bodies(api):
    bt = Bt(api.client)
    method = await bt.payment_method("4242424242424242", cvc="987")
    (entry,) = await logged(api)
    sent = entry["request"]["body"]["card"]
    assert (sent["number"], sent["cvc"], sent["expirationMonth"]) == ("424242******4242", "***", "12")
    assert "4242424242424242" not in json.dumps(entry) and "987" not in json.dumps(entry["request"]["body"])
    assert entry["response"]["body"]["id"] == method["id"]


async def test_webhook_secrets_are_redacted(api):
    status, endpoint = await api.control(
        "POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://x.test/h", "secret": SECRET}
    )
    assert status == 201 and endpoint["secret"] == SECRET
    (entry,) = await logged(api)
    assert SECRET not in json.dumps(entry)
    assert entry["request"]["body"]["secret"] == "whsec_[redacted]" == entry["response"]["body"]["secret"]


def test_text_redaction():
    token = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")
    text = f"pan=4242424242424242 other=4242424242424241 short=424242424242 {SECRET} tok={token} ts=1767225600000"
    shown = redact_text(text)
    assert "pan=424242******4242 " in shown and "other=4242424242424241" in shown and "short=424242424242" in shown
    assert SECRET not in shown and "whsec_[redacted]" in shown
    assert token not in shown and token.rsplit(".", 1)[0] + ".[redacted]" in shown
    assert "ts=1767225600000" in shown  # 13 digits, not Luhn-valid: left alone
    pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    assert redact_text(f"key: {pem}") == "key: [private key redacted]"


def test_json_redaction_by_field_name():
    body = {
        "card": {"Number": "4000 0000 0000 0002", "CVV": 123, "security_code": "1234", "expiry": "12/30"},
        "pan": 4242424242424242, "number": "7", "order": {"number": "A-1001"},
        "created_ms": 1767225604242, "password": "hunter2", "cryptogram": "AAEBAwQjSQAAXXXXXXXJYe0BbQA=",
        "notes": ["card 5555555555554444 on file"], "flag": True,
    }
    assert redact_json(body) == {
        "card": {"Number": "400000******0002", "CVV": "***", "security_code": "***", "expiry": "12/30"},
        "pan": "424242******4242", "number": "7", "order": {"number": "A-1001"},
        "created_ms": 1767225604242, "password": "[redacted]", "cryptogram": "[redacted]",
        "notes": ["card 555555******4444 on file"], "flag": True,
    }


# -- reset ------------------------------------------------------------------------------


async def test_a_scoped_reset_forgets_that_tenants_requests(api):
    await api.create()
    await api.as_key(OTHER_KEY).create()
    await Cm(api.client).agent()
    await api.control("GET", "/_sandbox/health")
    status, _ = await api.control("POST", "/_sandbox/reset", {"tenant": KEY})
    assert status == 200
    assert [(e["provider"], e["tenant"], e["path"]) for e in await logged(api)] == [
        (None, None, "/_sandbox/reset"), (None, None, "/_sandbox/health"), ("crossmint", "demo", "/api/unstable/agents"),
        ("dino", OTHER_KEY, "/v1/purchase-intents"),
    ]
    await api.control("POST", "/_sandbox/reset", {"provider": "crossmint"})
    assert [e["provider"] for e in await logged(api)] == [None, None, None, "dino"]


async def test_a_full_reset_forgets_everything_but_itself(api):
    await api.create()
    await api.control("GET", "/_sandbox/health")
    await api.control("POST", "/_sandbox/reset", {})
    assert [e["path"] for e in await logged(api)] == ["/_sandbox/reset"]
    assert api.client.app[RUNTIME].sizes()["logged_requests"] == 1


async def test_delete_empties_the_log(api):
    await api.create()
    status, _ = await api.control("DELETE", "/_sandbox/requests")
    assert status == 204
    assert [e["path"] for e in await logged(api)] == ["/_sandbox/requests"]  # the DELETE itself, not a read


# -- access lines -----------------------------------------------------------------------


async def test_info_logs_one_line_per_request(make_api, caplog):
    caplog.set_level(logging.INFO, logger="sandbox.requests")
    api = await make_api(request_log_size=0)  # access lines do not need the log
    await api.create()
    await api.control("GET", "/_sandbox/health")
    lines = [r for r in caplog.records if r.name == "sandbox.requests"]
    assert [r.getMessage().rsplit(" ", 2)[0] for r in lines] == ["POST /v1/purchase-intents 201", "GET /_sandbox/health 200"]
    assert lines[0].getMessage().endswith(f"ms {KEY}") and lines[1].getMessage().endswith("ms -")
    line = json.loads(JsonLogFormatter().format(lines[0]))
    assert {k: line[k] for k in ("level", "logger", "method", "path", "status", "provider", "tenant")} == {
        "level": "info", "logger": "sandbox.requests", "method": "POST", "path": "/v1/purchase-intents", "status": 201,
        "provider": "dino", "tenant": KEY,
    }
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("Z")


async def test_an_access_line_carries_the_near_miss(make_api, caplog):
    caplog.set_level(logging.INFO, logger="sandbox.requests")
    api = await make_api(request_log_size=0)
    status, _, _ = await api.request("POST", "/v1/purchase-intent", intent_body())
    assert status == 404
    (record,) = [r for r in caplog.records if r.name == "sandbox.requests"]
    assert record.getMessage().endswith(f"ms {KEY} (did you mean POST /v1/purchase-intents?)")
    line = json.loads(JsonLogFormatter().format(record))
    assert (line["status"], line["hint"]) == (404, "did you mean POST /v1/purchase-intents?")


def test_serve_logs_json_lines_and_names_scenarios_at_start(serve, tmp_path):
    import urllib.request

    scenario = tmp_path / "decline.yaml"
    scenario.write_text("name: decline-all\nrules:\n  - {provider: dino, on: authorize, then: {status: declined}}\n")
    port = free_port()
    proc = serve(
        "--port", str(port), "--log-level", "info", "--log-format", "json", "--scenario", str(scenario),
        "--webhook", "dino=http://127.0.0.1:9/h",
    )
    first, second, third = proc.stdout.readline(), proc.stdout.readline(), proc.stdout.readline()
    assert "listening on" in first
    assert second.startswith("scenario scn_") and "decline-all (1 rules)" in second
    assert third.startswith("webhook ep_") and "dino -> http://127.0.0.1:9/h" in third
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5) as resp:
        assert resp.status == 200
    while True:
        line = json.loads(proc.stderr.readline())
        if line["logger"] == "sandbox.requests":
            break
    assert (line["method"], line["path"], line["status"], line["tenant"]) == ("GET", "/_sandbox/health", 200, None)
