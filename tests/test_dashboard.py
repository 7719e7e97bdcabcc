"""The dashboard at /_sandbox/ (issue 15): the page and its files, the objects it lists with their
history, the numbers it polls, the signed headers of each webhook attempt, and the demo fill."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from sandbox.app import create_app
from sandbox.config import Settings

from tests.bt import Bt
from tests.cm import Cm
from tests.conftest import KEY, OTHER_KEY, free_port
from tests.test_security_admin import TOKEN

CLOCK = "2026-01-01T00:00:00.000Z"


async def get(client, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    async with client.get(path, headers=headers or {}, allow_redirects=False) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body, resp.headers


async def post(client, path: str, json: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with client.post(path, json=json, headers=headers or {}) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())


# -- the page -------------------------------------------------------------------------------------


async def test_the_page_is_html_with_its_own_script_and_styles_and_a_strict_policy(api):
    status, page, headers = await get(api.client, "/_sandbox/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<script src="/_sandbox/static/dashboard.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/_sandbox/static/dashboard.css">' in page
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert "<script>" not in page and "style=" not in page  # nothing inline the policy would block
    for provider in ("dino", "crossmint", "basistheory", "btplatform"):
        assert f'<option value="{provider}">' in page
    for section in ("objects", "events", "webhooks", "requests", "scenarios", "tenants"):
        assert f'<section id="{section}"' in page and f'href="#{section}"' in page
    labelled = re.findall(r'<(?:input|select)[^>]*id="([^"]+)"', page)
    for control in labelled:  # every control has a label a screen reader reads
        assert f'for="{control}"' in page or re.search(rf'<label><input[^>]*id="{control}"', page), control


async def test_the_files_come_from_the_sandbox_and_nothing_from_the_network(api):
    status, script, headers = await get(api.client, "/_sandbox/static/dashboard.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, styles, headers = await get(api.client, "/_sandbox/static/dashboard.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    _, page, _ = await get(api.client, "/_sandbox/")
    for text in (page, script, styles):
        assert not re.search(r"https?://", text) and "@import" not in text and "@font-face" not in text and "url(" not in text
    assert ".innerHTML =" not in script and "insertAdjacentHTML" not in script  # every value is set as text
    assert "/_sandbox/activity" in script and "/_sandbox/objects" in script


async def test_the_address_without_its_slash_leads_to_the_page(api):
    status, _, headers = await get(api.client, "/_sandbox")
    assert status == 308 and headers["Location"] == "/_sandbox/"


# -- objects --------------------------------------------------------------------------------------


async def test_objects_are_listed_per_provider_and_tenant_and_searchable_by_id(api):
    mine = [(await api.create())["id"] for _ in range(3)]
    theirs = (await api.as_key(OTHER_KEY).create())["id"]
    status, listing, _ = await get(api.client, f"/_sandbox/objects?provider=dino&tenant={KEY}&kind=purchase_intent")
    assert status == 200 and listing["object"] == "list" and not listing["has_more"]
    assert [item["id"] for item in listing["data"]] == mine[::-1]  # newest first
    first = listing["data"][-1]
    assert (first["provider"], first["tenant"], first["kind"], first["state"]) == ("dino", KEY, "purchase_intent", "intent_created")
    assert first["object"]["id"] == mine[0] and first["object"]["status"] == "intent_created" and not first["internal"]
    assert {"provider": "dino", "tenant": OTHER_KEY, "kind": "purchase_intent", "count": 1, "internal": False} not in listing["collections"]

    _, everything, _ = await get(api.client, "/_sandbox/objects?provider=dino")
    assert {item["id"] for item in everything["data"]} >= {*mine, theirs}
    part = theirs[5:14].upper()  # any part of an id, in any case
    _, found, _ = await get(api.client, f"/_sandbox/objects?q={part}")
    assert [item["id"] for item in found["data"]] == [theirs] and found["data"][0]["tenant"] == OTHER_KEY
    _, limited, _ = await get(api.client, "/_sandbox/objects?provider=dino&kind=purchase_intent&limit=2")
    assert len(limited["data"]) == 2 and limited["has_more"]


async def test_a_providers_own_records_show_only_when_asked_and_as_their_repr(cm: Cm):
    await cm.agent("Shopper")
    _, listing, _ = await get(cm.client, "/_sandbox/objects?provider=crossmint")
    assert listing["data"] and all(not item["internal"] for item in listing["data"])
    _, everything, _ = await get(cm.client, "/_sandbox/objects?provider=crossmint&internal=true")
    records = [item for item in everything["data"] if item["internal"]]
    assert records and all(item["object"] is None and isinstance(item["repr"], str) for item in records)


@pytest.mark.parametrize("query", ["provider=stripe", "limit=0", "limit=ten", "q=", "internal=maybe"])
async def test_a_bad_query_is_a_400_in_the_control_planes_shape(api, query):
    status, body, _ = await get(api.client, f"/_sandbox/objects?{query}")
    assert status == 400 and body["error"]["code"] == "invalid_request", body


async def test_an_unknown_id_is_a_404_in_the_control_planes_shape(api):
    status, body, _ = await get(api.client, "/_sandbox/objects/pi_nothing_here")
    assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["details"]["id"] == "pi_nothing_here"


async def test_an_objects_history_is_its_events_newest_first_with_their_causes(api):
    intent = await api.create(max_total_cents=90_000)
    await api.authorize(intent["id"], expected_total_cents=90_000)
    async with api.client.post(f"/_sandbox/dino/purchase-intents/{intent['id']}/approve", json={"reason": "ok"}) as resp:
        assert resp.status == 200
    status, found, _ = await get(api.client, f"/_sandbox/objects/{intent['id']}")
    assert status == 200 and found["id"] == intent["id"]
    assert [(item["kind"], item["state"]) for item in found["data"]] == [("purchase_intent", "approved")]
    history = found["events"]
    assert [event["type"] for event in history] == [
        "purchase_intent.authorized", "purchase_intent.needs_approval", "purchase_intent.created",
    ]
    # The clock is frozen: all three requests were answered at one moment, and each event carries the answer of one.
    causes = [(event["cause"]["kind"], event["cause"]["request"]["method"], event["cause"]["request"]["path"]) for event in history]
    assert causes == [
        ("operator", "POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/approve"),
        ("request", "POST", f"/v1/purchase-intents/{intent['id']}/authorize"),
        ("request", "POST", "/v1/purchase-intents"),
    ]
    assert all(len(event["cause"]["candidates"]) == 3 for event in history)


async def test_what_a_clock_advance_makes_fall_due_is_caused_by_the_clock(bt: Bt):
    intent = await bt.intent("378282246310005")  # pending, active 60 s later on the sandbox clock
    async with bt.client.post("/_sandbox/clock/advance", json={"seconds": 61}) as resp:
        assert resp.status == 200
    _, found, _ = await get(bt.client, f"/_sandbox/objects/{intent['id']}")
    newest = found["events"][0]
    assert newest["type"] == "purchase_intent.activated" and found["data"][0]["state"] == "active"
    assert newest["cause"]["kind"] == "clock" and newest["cause"]["request"]["path"] == "/_sandbox/clock/advance"
    assert found["events"][-1]["cause"]["kind"] == "request"


async def test_with_the_request_log_off_a_cause_is_not_known(make_api):
    api = await make_api(request_log_size=0)
    intent = await api.create()
    _, found, _ = await get(api.client, f"/_sandbox/objects/{intent['id']}")
    assert found["events"][0]["cause"]["kind"] == "unknown" and "off" in found["events"][0]["cause"]["text"]


# -- what the page polls ----------------------------------------------------------------------------


async def test_activity_changes_with_the_api_not_with_the_control_planes_reads(api):
    _, before, _ = await get(api.client, "/_sandbox/activity")
    for path in ("/_sandbox/events", "/_sandbox/objects", "/_sandbox/webhook-deliveries", "/_sandbox/activity"):
        await get(api.client, path)
    _, same, _ = await get(api.client, "/_sandbox/activity")
    assert same == before
    intent = await api.create()
    _, after, _ = await get(api.client, "/_sandbox/activity")
    assert after["events"] == {"count": before["events"]["count"] + 1, "last": (await api.events(object_id=intent["id"]))[-1]["id"]}
    assert after["objects"] > before["objects"] and after["requests"] != before["requests"]
    _, logged, _ = await get(api.client, "/_sandbox/requests?path=/_sandbox/activity")
    assert logged["data"] == []  # polling stays out of the request log


# -- webhooks: the signed headers as sent -----------------------------------------------------------


async def test_each_attempt_keeps_the_headers_it_was_sent_with_and_no_secret(api, receiver):
    status, endpoint = await post(api.client, "/_sandbox/webhook-endpoints", {"provider": "dino", "url": receiver.url})
    assert status == 201
    receiver.script = [500]  # the first attempt fails, the second (a resend) succeeds
    intent = await api.create()
    await post(api.client, "/_sandbox/webhooks/flush")
    _, deliveries, _ = await get(api.client, f"/_sandbox/webhook-deliveries?object_id={intent['id']}")
    delivery = deliveries["data"][0]
    status, _ = await post(api.client, f"/_sandbox/webhook-deliveries/{delivery['id']}/resend")
    assert status == 202
    await post(api.client, "/_sandbox/webhooks/flush")
    _, delivery, _ = await get(api.client, f"/_sandbox/webhook-deliveries/{delivery['id']}")
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 200]
    for attempt, (received, body) in zip(delivery["attempts"], receiver.requests, strict=True):
        sent = attempt["request_headers"]
        assert sent["Dino-Signature"] == received["Dino-Signature"] and sent["Dino-Event-Id"] == received["Dino-Event-Id"]
        assert sent == {name: received[name] for name in sent}  # every header recorded is one the receiver got, as it got it
        assert sent["Dino-Delivery-Attempt"] == str(attempt["attempt"])
        assert endpoint["secret"] not in str(sent) and "whsec_" not in str(sent)
        assert body == orjson.dumps(delivery["payload"])  # the body as sent is the payload shown


async def test_a_scripted_attempt_sent_nothing_and_a_410_disables_the_endpoint(api):
    scenario = b"name: gone\nrules:\n  - {provider: dino, on: deliver, then: {delivery: {status: 410}}}\n"
    async with api.client.post("/_sandbox/scenarios", data=scenario, headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 201
    status, endpoint = await post(api.client, "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://127.0.0.1:9/hook"})
    await api.create()
    await post(api.client, "/_sandbox/webhooks/flush")
    _, deliveries, _ = await get(api.client, "/_sandbox/webhook-deliveries")
    attempt = deliveries["data"][0]["attempts"][0]
    assert (attempt["status_code"], attempt["request_headers"]) == (410, None)  # a scenario answered: nothing went out
    _, endpoint, _ = await get(api.client, f"/_sandbox/webhook-endpoints/{endpoint['id']}")
    assert not endpoint["enabled"] and "410" in endpoint["disabled_reason"]
    _, activity, _ = await get(api.client, "/_sandbox/activity")
    assert activity["deliveries"]["failed"] == 1 and activity["endpoints"][0][1] is False and activity["scenarios"][0][1] == 1


# -- the demo fill ----------------------------------------------------------------------------------


async def objects_of(client) -> list[tuple[str, str, str, str, Any]]:
    """Every object, its links with the test server's address taken out (each app listens on a port of its own)."""
    _, listing, _ = await get(client, "/_sandbox/objects?limit=10000")
    base = str(client.make_url("/")).rstrip("/")
    return orjson.loads(orjson.dumps([
        (item["provider"], item["tenant"], item["kind"], item["id"], item["object"]) for item in listing["data"]
    ]).replace(base.encode(), b"BASE"))


async def test_the_demo_fills_every_provider_through_its_api(make_api):
    api = await make_api(seed=11, clock=CLOCK)
    status, filled = await post(api.client, "/_sandbox/demo")
    assert status == 200 and filled["complete"] and filled["failures"] == [], filled
    assert filled["seed"] == 11 and filled["requests"] > 40
    providers = {tenant["provider"] for tenant in filled["tenants"]}
    assert providers == {"dino", "crossmint", "basistheory", "btplatform"}
    objects = await objects_of(api.client)
    states = {(provider, obj.get("status") or obj.get("phase")) for provider, _, _, _, obj in objects if isinstance(obj, dict)}
    for wanted in [("dino", "needs_approval"), ("dino", "approved"), ("dino", "declined"), ("dino", "completed"),
                   ("crossmint", "active"), ("crossmint", "requires-verification"), ("basistheory", "verify"), ("basistheory", "active")]:
        assert wanted in states, wanted
    # Through the real APIs: its requests are in the request log, and its webhooks were attempted.
    _, logged, _ = await get(api.client, "/_sandbox/requests?path=/v1/purchase-intents&limit=1000")
    assert len(logged["data"]) >= 10
    _, endpoints, _ = await get(api.client, "/_sandbox/webhook-endpoints")
    assert {endpoint["provider"] for endpoint in endpoints["data"]} == {"dino", "btplatform"}


async def test_the_demo_is_the_same_for_the_same_seed_and_another_for_another(make_api):
    fills = []
    for seed in (5, 5, 6):
        api = await make_api(seed=seed, clock=CLOCK)
        status, filled = await post(api.client, "/_sandbox/demo")
        assert status == 200 and filled["complete"], filled
        fills.append(([[t["provider"], t["tenant"], t["objects"]] for t in filled["tenants"]], await objects_of(api.client)))
    assert fills[0] == fills[1]
    assert fills[0][0] != fills[2][0]
    status, again = await post(api.client, "/_sandbox/demo")  # a second fill adds tenants of other names
    assert status == 200 and again["fill"] == 1 and not {t["tenant"] for t in again["tenants"]} & {t[1] for t in fills[2][0]}


@pytest.mark.parametrize("body", [[], {"locale": "xx_XX"}, {"locale": "nope"}, {"tenants": 3}])
async def test_a_bad_demo_body_is_a_400(api, body):
    status, answer = await post(api.client, "/_sandbox/demo", body)
    assert status == 400 and answer["error"]["code"] == "invalid_request"


async def test_the_demo_in_another_locale(make_api):
    api = await make_api(seed=3, clock=CLOCK)
    status, filled = await post(api.client, "/_sandbox/demo", {"locale": "de_DE"})
    assert status == 200 and filled["complete"], filled


# -- the admin token ----------------------------------------------------------------------------------


async def test_with_an_admin_token_the_dashboard_needs_it_like_every_control_route(make_api):
    guarded = await make_api(admin_token=TOKEN, seed=2, clock=CLOCK)
    status, _, headers = await get(guarded.client, "/_sandbox/", {"Accept": "text/html"})
    assert status == 303 and headers["Location"].startswith("/_sandbox/login?next=/_sandbox/")
    for path in ("/_sandbox/", "/_sandbox/static/dashboard.js", "/_sandbox/objects", "/_sandbox/activity"):
        assert (await get(guarded.client, path))[0] == 401, path
        assert (await get(guarded.client, path, {"X-Sandbox-Admin-Token": TOKEN}))[0] == 200, path
    assert (await post(guarded.client, "/_sandbox/demo"))[0] == 401
    # The fill passes the caller's token on to the operator's routes it uses.
    status, filled = await post(guarded.client, "/_sandbox/demo", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and filled["complete"], filled["failures"]


async def test_the_login_cookie_opens_the_dashboard(make_api):
    guarded = await make_api(admin_token=TOKEN)
    async with guarded.client.post("/_sandbox/login", data={"token": TOKEN, "next": "/_sandbox/"}, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/_sandbox/"
    for path in ("/_sandbox/", "/_sandbox/static/dashboard.css", "/_sandbox/objects"):
        assert (await get(guarded.client, path))[0] == 200, path


# -- `sandbox serve --demo` ---------------------------------------------------------------------------


def test_serve_with_demo_fills_itself_once_listening(serve):
    import json
    import urllib.request

    port = free_port()
    proc = serve("--port", str(port), "--seed", "4", "--clock", CLOCK, "--demo")
    assert "listening" in proc.stdout.readline()
    line = proc.stdout.readline()
    assert line.startswith("demo: ") and "tenants" in line and f"http://127.0.0.1:{port}/_sandbox/" in line
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/objects?provider=btplatform", timeout=5) as resp:
        assert json.loads(resp.read())["data"]
    assert Settings(demo=True).demo and not Settings().demo


def test_every_dashboard_route_is_documented():
    app = create_app(Settings(seed=1))
    served = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource is not None}
    for route in [("GET", "/_sandbox/"), ("GET", "/_sandbox"), ("GET", "/_sandbox/objects"), ("GET", "/_sandbox/objects/{id}"),
                  ("GET", "/_sandbox/activity"), ("POST", "/_sandbox/demo"), ("GET", "/_sandbox/static/dashboard.js")]:
        assert route in served, route
