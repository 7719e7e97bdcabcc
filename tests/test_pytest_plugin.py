"""The pytest plugin (docs/pytest.md), run by pytester in fresh projects that import nothing of ours: the
plugin loads through its `pytest11` entry point, and each run starts its own sandbox (or uses ours)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "pytest.md"
FENCE = re.compile(r"^```(?:python|yaml)\n# (\S+\.(?:py|yaml))\n(.*?)^```", re.MULTILINE | re.DOTALL)

# The project's own helpers: a conftest of the fresh project, not an import of the sandbox's.
CONFTEST = '''
import pytest

BUYER = {"first_name": "J", "last_name": "D", "email": "j@example.com", "address1": "1 Main St",
         "city": "New York", "postal_code": "10001", "country": "US"}


def intent(sandbox, key=None, **changes):
    body = {"product_url": "https://example.com/p", "quantity": 1, "currency": "usd", "max_total_cents": 5000, "buyer": BUYER}
    resp = sandbox.request("POST", "/v1/purchase-intents", {**body, **changes},
                           headers={"Authorization": f"Bearer {key or sandbox.dino_key}"})
    assert resp.status == 201, resp.text
    return resp.json()


def authorize(sandbox, intent_id, key=None, cents=4599):
    resp = sandbox.request("POST", f"/v1/purchase-intents/{intent_id}/authorize",
                           {"expected_total_cents": cents, "merchant_name": "example.com"},
                           headers={"Authorization": f"Bearer {key or sandbox.dino_key}"})
    assert resp.status == 200, resp.text
    return resp.json()


@pytest.fixture
def dino():
    return intent, authorize
'''


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # `-p no:faker`: Faker's plugin, when installed, takes most of a second to import in every run; not ours.
    return pytester.runpytest_subprocess("-v", "-s", "-p", "no:faker", *args, timeout=120)


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k not in ("warnings", "warning")}


def test_the_documented_example_runs_as_written(pytester: pytest.Pytester):
    files = {path: text for path, text in FENCE.findall(DOCS.read_text())}
    assert {"test_checkout.py", "test_providers.py", "scenarios/decline-everything.yaml"} <= set(files)
    for path, text in files.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# {path}\n{text}")
    result = run(pytester)
    assert outcomes(result) == {"passed": 5}, result.stdout.str()
    result.stdout.re_match_lines([r"sandbox: http://127\.0\.0\.1:\d+ \(started by the plugin\), seed \d+; .*--sandbox-seed \d+"])


ISOLATION = '''
import asyncio
import sys

import pytest

DECLINE = {"name": "decline", "rules": [{"provider": "dino", "on": "authorize", "then": {"status": "declined"}}]}
APPROVE = {"name": "approve", "rules": [
    {"provider": "dino", "on": "authorize", "then": {"status": "approved", "decision_reason": "by the test's own rule"}}]}


def test_1_leaves_a_mess(sandbox, dino):
    intent, _ = dino
    sandbox.freeze("2030-01-01T00:00:00Z")
    sandbox.advance_clock(60)
    assert sandbox.clock()["now"] == "2030-01-01T00:01:00.000Z"
    # Behind the helpers' back: the plugin notices these too.
    made = sandbox.request("POST", "/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://127.0.0.1:9/h"})
    loaded = sandbox.request("POST", "/_sandbox/scenarios", DECLINE)
    assert (made.status, loaded.status) == (201, 201)
    intent(sandbox, key="din_test_shared")


def test_2_finds_none_of_it(sandbox):
    clock = sandbox.clock()
    assert clock["frozen"] is False and abs(clock["offset_seconds"]) < 0.01, clock
    assert sandbox.endpoints() == [] and sandbox.scenarios() == []
    listed = sandbox.request("GET", "/v1/purchase-intents", headers={"Authorization": "Bearer din_test_shared"}).json()
    assert listed["data"] == []
    assert sandbox.events() == []


@pytest.mark.sandbox_scenario(DECLINE)
class TestMarker:
    def test_the_class_rule_applies(self, sandbox, dino):
        intent, authorize = dino
        assert authorize(sandbox, intent(sandbox)["id"])["status"] == "declined"

    @pytest.mark.sandbox_scenario(APPROVE)
    def test_the_test_own_rule_wins(self, sandbox, dino):
        intent, authorize = dino
        decided = authorize(sandbox, intent(sandbox)["id"], cents=60000)
        assert (decided["status"], decided["decision_reason"]) == ("approved", "by the test's own rule")


@pytest.mark.sandbox_scenario("rules/needs-approval.yaml")
def test_a_file_scenario_without_asking_for_the_fixture(sandbox_server):
    assert [s["name"] for s in sandbox_server.scenarios()] == ["needs-approval"]


def test_scenarios_are_unloaded_after_their_test(sandbox, dino):
    intent, authorize = dino
    assert sandbox.scenarios() == []
    assert authorize(sandbox, intent(sandbox)["id"])["status"] == "approved"


def test_helpers(sandbox, dino):
    intent, authorize = dino
    first = intent(sandbox)
    authorize(sandbox, first["id"])
    assert [e["type"] for e in sandbox.events(object_id=first["id"])] == ["purchase_intent.created", "purchase_intent.authorized"]
    assert sandbox.events(provider="dino", tenant=sandbox.dino_key, type="purchase_intent.authorized")[0]["object_id"] == first["id"]
    assert sandbox.flush_webhooks() == {"flushed": True, "pending": 0}
    sandbox.reset(provider="dino")
    assert sandbox.events() == []
    loaded = sandbox.load_scenario("name: inline\\nrules: []\\n")
    sandbox.unload_scenario(loaded["id"])
    assert sandbox.health()["status"] == "ok" and sandbox.seed == sandbox.server.seed


def test_every_provider_webhook_is_verified(sandbox, sandbox_webhooks, dino):
    intent, _ = dino
    made = intent(sandbox)
    dino_hook = sandbox_webhooks.wait_for("purchase_intent.created", provider="dino")
    assert dino_hook.object_id == made["id"] and dino_hook.headers["dino-event-id"] == dino_hook.id

    auth = {"Authorization": f"Bearer {sandbox.bt_token()}"}
    card = {"number": "4000056655665556", "expirationMonth": "12", "expirationYear": "2030", "cvc": "123"}
    pm = sandbox.request("POST", f"/projects/{sandbox.bt_project}/payment-methods", {"entityId": "user-12345", "card": card},
                         headers=auth).json()
    bt = sandbox.request("POST", f"/projects/{sandbox.bt_project}/purchase-intents",
                         {"entityId": "user-12345", "credentialType": "virtual-card", "paymentMethodId": pm["id"]}, headers=auth)
    assert bt.status == 201, bt.text
    assert sandbox_webhooks.wait_for("purchase_intent.created", provider="basistheory").object_id == bt.json()["id"]

    key = {"X-API-KEY": sandbox.crossmint_key}
    agent = sandbox.request("POST", "/api/unstable/agents", {"metadata": {"name": "A"}}, headers=key).json()
    assert sandbox_webhooks.of_type("order-intents.created") == []
    sandbox.request("POST", "/api/unstable/order-intents",
                    {"agentId": agent["agentId"], "payment": {"paymentMethodId": "pm_x"}, "mandates": []}, headers=key)
    assert sandbox_webhooks.wait_for("order-intents.created").provider == "crossmint"

    token = sandbox.request("POST", "/tokens", {"type": "card", "data": {"number": "4242424242424242", "expiration_month": 12,
                            "expiration_year": 2030, "cvc": "123"}}, headers={"BT-API-KEY": sandbox.bt_api_key}).json()
    platform = sandbox_webhooks.wait_for("token.created", provider="btplatform")
    assert platform.object_id == token["id"] and platform.data["token"]["id"] == token["id"]
    assert sorted({e.provider for e in sandbox_webhooks.events}) == ["basistheory", "btplatform", "crossmint", "dino"]
    assert sandbox_webhooks.rejected == [] and len(sandbox_webhooks.endpoints) == 4


def test_a_retry_arrives_when_the_clock_reaches_it(sandbox, sandbox_webhooks, dino):
    intent, _ = dino
    sandbox.load_scenario({"name": "flaky", "rules": [
        {"provider": "dino", "on": "deliver", "then": {"delivery": {"status": 500}}, "times": 1}]})
    made = intent(sandbox)
    sandbox.flush_webhooks()
    assert sandbox_webhooks.events == []
    sandbox.advance_clock(5)  # Svix's first retry
    assert sandbox_webhooks.wait_for("purchase_intent.created", object_id=made["id"], timeout=5)
    (delivery,) = sandbox.deliveries(object_id=made["id"])
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 204]


def test_wait_for_explains_a_timeout(sandbox, sandbox_webhooks):
    with pytest.raises(TimeoutError, match="recorded 0 such event"):
        sandbox_webhooks.wait_for("purchase_intent.completed", timeout=0.2)


def test_a_bad_signature_fails_the_test(sandbox, sandbox_webhooks, dino):
    intent, _ = dino
    endpoint = sandbox_webhooks.endpoints["dino"]
    sandbox.control("POST", f"/_sandbox/webhook-endpoints/{endpoint['id']}/rotate-secret", {"overlap_seconds": 0})
    intent(sandbox)
    sandbox.flush_webhooks()
    assert len(sandbox_webhooks.rejected) == 1


def test_a_missing_library_is_named(sandbox, monkeypatch, request):
    monkeypatch.setitem(sys.modules, "svix.webhooks", None)  # as if svix were not installed
    hooks = request.getfixturevalue("sandbox_webhooks")
    assert sorted(hooks.endpoints) == ["basistheory", "btplatform", "dino"]
    with pytest.raises(TimeoutError, match="pip install svix"):
        hooks.wait_for("order-intents.created", timeout=0.1)


@pytest.mark.asyncio
async def test_helpers_in_an_async_test(sandbox, sandbox_webhooks, dino):
    intent, _ = dino
    made = intent(sandbox)
    hook = await asyncio.to_thread(sandbox_webhooks.wait_for, "purchase_intent.created")
    assert hook.object_id == made["id"]
'''


def test_isolation_marker_and_webhooks(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_isolation=ISOLATION)
    (pytester.path / "rules").mkdir()
    (pytester.path / "rules" / "needs-approval.yaml").write_text(
        "name: needs-approval\nrules:\n  - {provider: dino, on: authorize, then: {status: needs_approval}}\n"
    )
    result = run(pytester, "-p", "no:randomly")
    assert outcomes(result) == {"passed": 13, "errors": 1}, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*test_a_bad_signature_fails_the_test PASSED*",
        "*ERROR at teardown of test_a_bad_signature_fails_the_test*",
        "*webhooks whose signature did not verify:*",
        "*dino: VerificationError: no v1 signature in Dino-Signature matches*",
    ])


SEEDED = '''
import json


def test_first(sandbox, dino):
    intent, authorize = dino
    authorize(sandbox, intent(sandbox)["id"])


def test_second(sandbox, dino):
    intent, _ = dino
    made = intent(sandbox)
    agent = sandbox.request("POST", "/api/unstable/agents", {"metadata": {"name": "A"}},
                            headers={"X-API-KEY": sandbox.crossmint_key}).json()
    events = [e["id"] for e in sandbox.events()]
    print("IDS " + json.dumps([sandbox.seed, made["id"], agent["agentId"], events]))
'''


def ids(result: pytest.RunResult) -> list:
    (line,) = [line for line in result.outlines if "IDS " in line]
    return json.loads(line.split("IDS ", 1)[1])


def test_a_seed_gives_each_test_the_same_ids_on_every_run(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_seeded=SEEDED)
    everything = run(pytester, "--sandbox-seed", "42")
    alone = run(pytester, "--sandbox-seed", "42", "-k", "second")  # whatever ran before it
    other = run(pytester, "--sandbox-seed", "43", "-k", "second")
    assert outcomes(everything) == {"passed": 2} and outcomes(alone) == outcomes(other) == {"passed": 1, "deselected": 1}
    assert ids(everything) == ids(alone)
    seed, intent, agent, events = ids(everything)
    assert seed == 42 and intent.startswith("pi_") and len(events) == 1
    assert ids(other)[0] == 43 and set(ids(other)[1:3]).isdisjoint({intent, agent})
    everything.stdout.fnmatch_lines(["sandbox: http://127.0.0.1:* (started by the plugin), seed 42; *"])


SHARED = '''
def test_uses_the_running_server(sandbox, sandbox_webhooks, dino):
    intent, _ = dino
    assert sandbox.url == "{url}" and sandbox.server.owned is False and sandbox.seed == 42
    assert {{e["tenant"] for e in sandbox.endpoints() if e["description"] == "pytest sandbox_webhooks"}} == set(sandbox.tenants.values())
    made = intent(sandbox)
    assert sandbox_webhooks.wait_for("purchase_intent.created").object_id == made["id"]
    sandbox.load_scenario({{"name": "mine", "rules": []}})
    sandbox.freeze("2030-01-01T00:00:00Z")


def test_tenant_reset_spares_other_tenants(sandbox):
    assert sandbox.request("GET", "/v1/purchase-intents/{outsider}", headers={{"Authorization": "Bearer din_test_outsider"}}).status == 200
    sandbox.reset()
    assert sandbox.request("GET", "/v1/purchase-intents/{outsider}", headers={{"Authorization": "Bearer din_test_outsider"}}).status == 200
'''


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def test_a_running_server_shared_by_tenant(pytester: pytest.Pytester, serve):
    proc = serve("--port", "0", "--seed", "42")
    url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    body = {"product_url": "https://example.com/p", "quantity": 1, "currency": "usd", "max_total_cents": 5000,
            "buyer": {"first_name": "J", "last_name": "D", "email": "j@example.com", "address1": "1 Main St",
                      "city": "New York", "postal_code": "10001", "country": "US"}}
    _, outsider = call("POST", f"{url}/v1/purchase-intents", body, {"Authorization": "Bearer din_test_outsider"})
    call("POST", f"{url}/_sandbox/webhook-endpoints", {"provider": "dino", "url": "http://127.0.0.1:9/theirs"})
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shared=SHARED.format(url=url, outsider=outsider["id"]))
    result = run(pytester, "--sandbox-url", url, "--sandbox-reset", "tenant", "--sandbox-seed", "42")
    assert outcomes(result) == {"passed": 2}, result.stdout.str()
    result.stdout.fnmatch_lines([f"sandbox: {url} (--sandbox-url), seed 42"])
    # What the tests added is gone; what others had is kept; the clock runs again.
    assert [e["url"] for e in call("GET", f"{url}/_sandbox/webhook-endpoints")[1]["data"]] == ["http://127.0.0.1:9/theirs"]
    assert call("GET", f"{url}/_sandbox/scenarios")[1]["data"] == []
    assert call("GET", f"{url}/_sandbox/clock")[1]["frozen"] is False
    assert call("GET", f"{url}/v1/purchase-intents/{outsider['id']}", headers={"Authorization": "Bearer din_test_outsider"})[0] == 200

    wrong = run(pytester, "--sandbox-url", url, "--sandbox-seed", "7", "-k", "spares")
    assert outcomes(wrong) == {"errors": 1, "deselected": 1}
    wrong.stdout.fnmatch_lines([f"*the sandbox at {url} runs with seed 42, not --sandbox-seed 7*"])
