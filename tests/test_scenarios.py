"""Scenario files: the shipped library replays green, bad files get line-numbered errors."""

import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sandbox.app import catalog
from sandbox.core.scenarios.loader import ScenarioError, load, parse
from sandbox.replay import replay_files, run, validate_files

SHIPPED = sorted(Path(__file__).parent.parent.joinpath("scenarios").glob("*.yaml"))


def test_the_library_is_not_empty():
    assert len(SHIPPED) >= 4


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
async def test_every_shipped_scenario_replays_green(path):
    results = await run(load(path, catalog()))
    assert all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]
    assert results


BAD = """name: broken
steps:
  - name: create
    request:
      methd: POST
      path: /v1/purchase-intents
  - advance_clock: {seconds: -1}
  - expect_webhook: {provider: stripe, type: x}
  - wait: 3
"""


def test_invalid_files_name_file_line_and_a_suggestion():
    with pytest.raises(ScenarioError) as caught:
        parse(BAD, catalog(), "broken.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert lines == [
        "broken.yaml:5: steps.0.request.methd: unknown field; did you mean 'method'?",
        "broken.yaml:7: steps.1.advance_clock.seconds: input should be greater than 0",
        "broken.yaml:8: steps.2.expect_webhook.provider: input should be 'dino', 'crossmint', 'basistheory' or 'btplatform'",
        "broken.yaml:9: steps.3: a step has exactly one of: request, advance_clock, expect_webhook",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: [\n", "x.yaml:2: yaml:"),
        ("- 1\n", "x.yaml:1: scenario: must be a mapping"),
        ("steps: []\n", "x.yaml:1: name: is required"),
        ("name: a\nstep: []\n", "x.yaml:2: step: unknown field; did you mean 'steps'?"),
        ("name: a\nrules: [{on: authorize, then: {}}]\n", "x.yaml:2: rules.0: no rules for (no provider)/authorize yet"),
        (
            "name: a\nrules:\n  - {provider: dino, on: authorize, then: {status: maybe}}\n",
            "x.yaml:3: rules.0: then.status: input should be 'approved', 'declined' or 'needs_approval'",
        ),
        (
            "name: a\nrules:\n  - {on: request, when: {path: {like: x}}, then: {fault: {status: 503}}}\n",
            "x.yaml:3: rules.0: when.path: unknown operator 'like'",
        ),
    ],
)
def test_more_invalid_files(text, expected):
    with pytest.raises(ScenarioError) as caught:
        parse(text, catalog(), "x.yaml")
    assert str(caught.value.problems[0]).startswith(expected)


FAILING = """name: wrong-expectation
seed: 3
steps:
  - name: create
    request:
      method: POST
      path: /v1/purchase-intents
      headers: {Authorization: "Bearer din_test_qa"}
      body: {product_url: "https://example.com/p", quantity: 1, currency: usd, max_total_cents: 900,
             buyer: {first_name: A, last_name: B, email: a@example.com, address1: x, city: y, postal_code: "1", country: US}}
    expect: {status: 201}
  - name: authorize
    request:
      method: POST
      path: /v1/purchase-intents/${create.id}/authorize
      headers: {Authorization: "Bearer din_test_qa"}
      body: {expected_total_cents: 1000}
    expect: {status: 200, body: {status: approved, reason: null}}
  - name: missing
    request: {path: "/v1/purchase-intents/${create.nothing}"}
"""


def test_a_failing_expectation_fails_with_a_diff(tmp_path):
    path = tmp_path / "failing.yaml"
    path.write_text(FAILING)
    out = io.StringIO()
    junit = tmp_path / "report.xml"
    assert replay_files([str(path)], None, str(junit), out) == 1
    report = out.getvalue()
    assert "FAIL wrong-expectation" in report
    assert "body.status: expected 'approved', got 'declined'" in report
    assert "${create.nothing}: the answer of 'create' has no 'nothing'" in report
    assert "1 passed, 2 failed" in report
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert [c.find("failure") is not None for c in suite.findall("testcase")] == [False, True, True]


async def test_replay_against_a_running_sandbox(make_api):
    api = await make_api(seed=42)
    base = str(api.client.make_url("/"))
    results = await run(load(SHIPPED[0], catalog()), against=base)
    assert all(r.passed for r in results)


def test_validate_and_replay_from_the_command_line(tmp_path):
    good = subprocess.run(
        [sys.executable, "-m", "sandbox", "scenarios", "validate", *map(str, SHIPPED)], capture_output=True, text=True, timeout=60
    )
    assert good.returncode == 0 and good.stdout.count("ok ") == len(SHIPPED)
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(BAD)
    bad = subprocess.run(
        [sys.executable, "-m", "sandbox", "scenarios", "validate", str(bad_file)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and f"{bad_file}:5:" in bad.stdout
    replay = subprocess.run([sys.executable, "-m", "sandbox", "replay", str(SHIPPED[0])], capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0 and replay.stdout.startswith("PASS")


def test_validate_reports_missing_files(tmp_path):
    out = io.StringIO()
    assert validate_files([str(tmp_path / "nope.yaml")], out) == 1
    assert "FAIL" in out.getvalue()


async def test_record_then_replay_round_trips(make_api, tmp_path):
    from tests.bt import Bt
    from tests.cm import Cm

    api = await make_api(seed=8)
    status, _ = await api.control("POST", "/_sandbox/recording", {"enabled": True})
    assert status == 200
    intent = await api.issued_intent()
    await api.control("POST", f"/_sandbox/dino/purchase-intents/{intent['id']}/execute")
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 30})
    bt_intent = await Bt(api.client).intent("4000056655665556")
    await Bt(api.client).verify(bt_intent["id"], "START")
    await Cm(api.client).active_intent()
    await api.control("GET", "/_sandbox/events")  # reads are not recorded
    async with api.client.get("/_sandbox/recording") as resp:
        assert resp.status == 200
        text = await resp.text()
    assert intent["id"] not in text  # ids became references
    assert "${s1.id}" in text and "advance_clock" in text and "/_sandbox/events" not in text
    path = tmp_path / "recorded.yaml"
    path.write_text(text)
    results = await run(load(path, catalog()))
    assert results and all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]


async def test_a_recording_across_a_reset_refers_to_the_new_objects(make_api, tmp_path):
    api = await make_api(seed=8)
    await api.control("POST", "/_sandbox/recording", {"enabled": True})
    await api.create()
    await api.control("POST", "/_sandbox/reset", {})  # ids repeat from here
    second = await api.create(max_total_cents=100)
    status, body, _ = await api.authorize(second["id"], expected_total_cents=100)
    assert body["status"] == "approved"
    async with api.client.get("/_sandbox/recording") as resp:
        text = await resp.text()
    assert "${s2.id}/authorize" in text
    path = tmp_path / "recorded.yaml"
    path.write_text(text)
    results = await run(load(path, catalog()))
    assert results and all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]


async def test_recording_is_off_until_asked(api):
    status, body = await api.control("GET", "/_sandbox/recording")
    assert status == 404


def test_a_bad_regex_or_a_misspelled_step_is_a_message_not_a_crash():
    text = "name: r\nrules:\n  - {on: request, when: {path: {regex: '(unclosed'}}, then: {fault: {status: 503}}}\n"
    with pytest.raises(ScenarioError) as caught:
        parse(text, catalog(), "r.yaml")
    assert "invalid regex" in str(caught.value.problems[0]) and caught.value.problems[0].line == 3
    with pytest.raises(ScenarioError) as caught:
        parse("name: s\nsteps:\n  - reqest: {path: /x}\n", catalog(), "s.yaml")
    assert "did you mean 'request'?" in str(caught.value.problems[0])


async def test_references_work_in_expectations(tmp_path):
    path = tmp_path / "refs.yaml"
    path.write_text(FAILING.split("  - name: authorize")[0].replace("expect: {status: 201}", "expect: {status: 201}")
                    + "  - name: read\n"
                    + "    request: {path: \"/v1/purchase-intents/${create.id}\", headers: {Authorization: \"Bearer din_test_qa\"}}\n"
                    + "    expect: {status: 200, body: {id: \"${create.id}\"}}\n")
    results = await run(load(path, catalog()))
    assert all(r.passed for r in results), [(r.name, r.problems) for r in results]


RULES = {"name": "qa-rules", "rules": [
    {"provider": "dino", "on": "authorize", "when": {"request.expected_total_cents": {"gte": 50000}},
     "then": {"status": "needs_approval", "after": {"seconds": 300, "status": "approved"}}},
    {"on": "request", "when": {"method": "POST", "path": "/v1/purchase-intents"}, "then": {"fault": {"status": 503}}, "times": 1},
]}


async def recorded(api, tmp_path):
    import yaml

    async with api.client.get("/_sandbox/recording") as resp:
        text = await resp.text()
    path = tmp_path / "recorded.yaml"
    path.write_text(text)
    return text, yaml.safe_load(text), load(path, catalog())


async def test_rules_loaded_at_run_time_go_into_the_recording(make_api, tmp_path):
    from tests.conftest import intent_body

    api = await make_api(seed=8)
    await api.control("POST", "/_sandbox/recording", {"enabled": True})
    assert (await api.control("POST", "/_sandbox/scenarios", RULES))[0] == 201
    assert (await api.request("POST", "/v1/purchase-intents", intent_body(max_total_cents=90000)))[0] == 503
    intent = await api.create(max_total_cents=90000)
    assert (await api.authorize(intent["id"], expected_total_cents=60000))[1]["status"] == "needs_approval"
    await api.control("POST", "/_sandbox/clock/advance", {"seconds": 300})
    assert (await api.get(intent["id"]))[1]["status"] == "approved"
    text, document, loaded = await recorded(api, tmp_path)
    assert [rule["on"] for rule in document["rules"]] == ["authorize", "request"] and "tenant" not in document
    assert "/_sandbox/scenarios" not in text
    results = await run(loaded)
    assert results and all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]


async def test_rules_loaded_before_the_recording_keep_only_the_uses_left(make_api, tmp_path):
    from tests.conftest import intent_body

    api = await make_api(seed=8)
    fault = {"on": "request", "when": {"method": "POST", "path": "/v1/purchase-intents"}, "then": {"fault": {"status": 503}}, "times": 2}
    await api.control("POST", "/_sandbox/scenarios", {"name": "faults", "rules": [fault, {**fault, "times": 1}]})
    assert (await api.request("POST", "/v1/purchase-intents", intent_body()))[0] == 503  # one use gone
    await api.control("POST", "/_sandbox/recording", {"enabled": True})
    for expected in (503, 503, 201):
        assert (await api.request("POST", "/v1/purchase-intents", intent_body()))[0] == expected
    _, document, loaded = await recorded(api, tmp_path)
    assert document["rules"] == [{**fault, "times": 1}, {**fault, "times": 1}]
    results = await run(loaded)
    assert [r.passed for r in results] == [True, True, True], [r.problems for r in results]


async def test_rules_loaded_part_way_or_for_a_tenant_are_a_step_where_they_were_loaded(make_api, tmp_path):
    from tests.conftest import KEY, OTHER_KEY

    api = await make_api(seed=8)
    await api.control("POST", "/_sandbox/recording", {"enabled": True})
    first = await api.create()
    assert (await api.authorize(first["id"]))[1]["status"] == "approved"  # before the rules: the magic values decide
    declines = {"name": "declines", "rules": [{"provider": "dino", "on": "authorize", "then": {"status": "declined"}}]}
    async with api.client.post(f"/_sandbox/scenarios?tenant={KEY}", json=declines) as resp:
        set_id = (await resp.json())["id"]
    second = await api.create()
    assert (await api.authorize(second["id"]))[1]["status"] == "declined"
    other = await api.as_key(OTHER_KEY).create()
    assert (await api.as_key(OTHER_KEY).authorize(other["id"]))[1]["status"] == "approved"  # another tenant
    assert (await api.control("DELETE", f"/_sandbox/scenarios/{set_id}"))[0] == 204
    third = await api.create()
    assert (await api.authorize(third["id"]))[1]["status"] == "approved"
    text, document, loaded = await recorded(api, tmp_path)
    assert "rules" not in document
    assert f"path: /_sandbox/scenarios?tenant={KEY}" in text and "path: /_sandbox/scenarios/${s3.id}" in text
    results = await run(loaded)
    assert results and all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]
    shared = await make_api(seed=9)
    results = await run(loaded, against=str(shared.client.make_url("/")))
    assert all(r.passed for r in results), [(r.name, r.problems) for r in results if not r.passed]
    assert (await shared.control("GET", "/_sandbox/scenarios"))[1]["data"] == []


async def test_a_rule_validate_refuses_is_refused_by_the_server_with_the_same_message(api):
    text = "name: a\nrules:\n  - {provider: dino, on: authorize, then: {status: maybe}}\n"
    with pytest.raises(ScenarioError) as caught:
        parse(text, catalog(), "scenario")
    async with api.client.post("/_sandbox/scenarios", data=text, headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 400
        assert caught.value.problems[0].message in await resp.text()
