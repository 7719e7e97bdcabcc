"""The official Basis Theory Node clients, unmodified, against `sandbox serve`: `@basis-theory/node-sdk` 5.7.0
and `@basis-theory/basis-theory-js` 4.30.2 (tests/node/package.json, pinned by tests/node/package-lock.json).

One server for the module and one Node process per client: each script (tests/node/*.js) runs all its steps
and prints one JSON document, `{step: {"ok": true, "value": …} | {"ok": false, "error": {class, status, body}}}`.
The tests assert on those results and on what the clients put on the wire, read back from the server's request
log (`GET /_sandbox/requests`). Without node and npm on PATH the module is skipped; the first run installs the
clients with `npm ci` (as .ci/run does), which needs the npm registry once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _without_backend, free_port

NODE_DIR = Path(__file__).resolve().parent / "node"
LOCK = NODE_DIR / "package-lock.json"
STAMP = NODE_DIR / "node_modules" / ".installed-package-lock.json"  # .ci/run writes the same stamp
SDK_KEY = "key_test_node_sdk"
JS_KEY = "key_test_node_js"
START = "2026-01-01T00:00:00.000Z"


def install_node_clients(npm: str) -> None:
    """`npm ci` into tests/node unless node_modules matches package-lock.json; one process at a time."""
    if STAMP.exists() and STAMP.read_bytes() == LOCK.read_bytes():
        return
    with open(NODE_DIR / "package.json", "rb") as held:
        try:
            import fcntl
        except ImportError:  # Windows: no parallel workers to guard against here
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_bytes() == LOCK.read_bytes():
            return
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm ci in {NODE_DIR} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        shutil.copyfile(LOCK, STAMP)


@pytest.fixture(scope="module")
def node() -> str:
    if os.environ.get("SANDBOX_SKIP_NODE"):
        pytest.skip("SANDBOX_SKIP_NODE is set: the Node client tests are skipped")
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the official Node clients need `node` and `npm` on PATH (Node 18 or newer); not found, so not run")
    install_node_clients(npm)
    return node


class Runs:
    """What each client's script answered, and every request the server logged while they ran."""

    def __init__(self, results: dict[str, dict[str, Any]], log: list[dict[str, Any]]) -> None:
        self.results = results
        self.log = log

    def ok(self, client: str, name: str) -> Any:
        entry = self.results[client][name]
        assert entry["ok"], f"{client} {name} failed: {json.dumps(entry['error'])[:1500]}"
        return entry["value"]

    def error(self, client: str, name: str) -> dict[str, Any]:
        entry = self.results[client][name]
        assert not entry["ok"], f"{client} {name} should have failed, answered {json.dumps(entry['value'])[:1500]}"
        return entry["error"]

    def sent(self, key: str, method: str, path: str) -> list[dict[str, Any]]:
        """The requests made with `key` to `method path`, oldest first (the log lists the newest first)."""
        found = [e for e in reversed(self.log) if (e["tenant"], e["method"], e["path"]) == (key, method, path)]
        made = [(e["method"], e["path"]) for e in self.log if e["tenant"] == key]
        assert found, f"no {method} {path} with {key} in the request log: {made}"
        return found


def header(entry: dict[str, Any], name: str) -> str | None:
    """A request header from the log, whatever case the client sent it in (undici lowercases every name)."""
    return next((v for k, v in entry["request"]["headers"].items() if k.lower() == name.lower()), None)


def run_script(node: str, script: str, base_url: str, key: str) -> subprocess.Popen[str]:
    # ipv4first: `localhost` must reach the server on 127.0.0.1 even where it resolves to ::1 first (Node 18).
    return subprocess.Popen(
        [node, "--dns-result-order=ipv4first", script, base_url, key],
        cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def runs(node: str) -> Runs:
    port = free_port()
    with tempfile.TemporaryFile("w+") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--seed", "16", "--clock", START],
            stdout=subprocess.PIPE, stderr=server_log, text=True, env=_without_backend(os.environ),
        )
        scripts: dict[str, subprocess.Popen[str]] = {}
        try:
            if not server.stdout or "listening" not in server.stdout.readline():
                server_log.seek(0)
                pytest.fail(f"sandbox serve did not start: {server_log.read()[-3000:]}")
            # The two clients run at once, each with a key (a tenant) of its own. basis-theory-js turns every host
            # but `localhost` into https (BasisTheory.js, init).
            scripts["sdk"] = run_script(node, "node_sdk.js", f"http://127.0.0.1:{port}", SDK_KEY)
            scripts["js"] = run_script(node, "basis_theory_js.js", f"http://localhost:{port}", JS_KEY)
            results = {}
            for name, proc in scripts.items():
                out, err = proc.communicate(timeout=60)
                assert proc.returncode == 0 and out, f"{name} script exited {proc.returncode}: {err[-3000:]}"
                results[name] = json.loads(out)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/requests?limit=10000", timeout=10) as resp:
                log = json.loads(resp.read())["data"]
        finally:
            for proc in scripts.values():  # still running only when something above failed
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            server.terminate()
            server.wait(timeout=10)
    return Runs(results, log)


# @basis-theory/node-sdk 5.7.0 ------------------------------------------------------------------------------


def test_sdk_creates_and_reads_masked_card_tokens(runs):
    visa = runs.ok("sdk", "create_visa")
    assert (visa["type"], visa["data"], visa["metadata"]) == (
        "card", {"number": "XXXXXXXXXXXX4242", "expiration_month": 12, "expiration_year": 2030}, {"owner": "node", "n": "1"},
    )
    assert (visa["card"]["last4"], visa["card"]["brand"], visa["card"]["bin"]) == ("4242", "visa", "424242")
    assert visa["fingerprint"] and visa["tenantId"] and visa["createdAt"] == START
    assert runs.ok("sdk", "get_visa")["id"] == visa["id"] and runs.ok("sdk", "get_visa")["fingerprint"] == visa["fingerprint"]
    assert runs.ok("sdk", "create_mastercard")["card"]["brand"] == "mastercard"
    amex = runs.ok("sdk", "get_amex")
    assert (amex["card"]["brand"], amex["data"]["number"]) == ("american-express", "XXXXXXXXXXX0005")

    create = runs.sent(SDK_KEY, "POST", "/tokens")[0]
    assert header(create, "BT-API-KEY") and header(create, "X-Fern-SDK-Name") == "@basis-theory/node-sdk"
    assert header(create, "Content-Type") == "application/json" and header(create, "BT-IDEMPOTENCY-KEY") == "sdk-visa"
    assert create["request"]["body"]["data"]["expiration_month"] == 12 and create["status"] == 201


def test_sdk_replays_a_create_with_the_same_idempotency_key_and_refuses_another_body(runs):
    assert runs.ok("sdk", "create_visa_replay")["id"] == runs.ok("sdk", "create_visa")["id"]
    conflict = runs.error("sdk", "error_idempotency_conflict")
    assert (conflict["class"], conflict["status"], conflict["body"]["status"]) == ("ConflictError", 409, 409)


def test_sdk_update_is_a_merge_patch(runs):
    visa = runs.ok("sdk", "create_visa")
    updated = runs.ok("sdk", "update_visa")
    assert updated["id"] == visa["id"] and updated["metadata"] == {"owner": "node", "n": "1", "note": "patched"}
    assert updated["data"]["number"] == "XXXXXXXXXXXX4242" and updated["fingerprint"] == visa["fingerprint"]
    assert runs.ok("sdk", "get_visa_after_update")["metadata"] == updated["metadata"]

    patch = runs.sent(SDK_KEY, "PATCH", f"/tokens/{visa['id']}")[0]
    assert header(patch, "Content-Type") == "application/merge-patch+json" and header(patch, "BT-IDEMPOTENCY-KEY") == "sdk-patch"
    assert patch["request"]["body"] == {"metadata": {"note": "patched"}} and patch["status"] == 200


def test_sdk_v2_list_follows_the_cursor_to_the_end(runs):
    live = {runs.ok("sdk", name)["id"] for name in ("create_visa", "create_mastercard", "create_amex")}
    first, *rest = pages = runs.ok("sdk", "list_v2_pages")
    assert len(first["ids"]) == 2 and first["pagination"]["next"] and first["pagination"]["pageSize"] == 2
    assert len(pages) == 2 and not pages[-1]["pagination"].get("next")
    seen = [token for page in pages for token in page["ids"]]
    assert len(seen) == len(set(seen)) and set(seen) == live
    assert sorted(runs.ok("sdk", "list_v2_all")) == sorted(live)
    assert runs.ok("sdk", "list_v2_fingerprint")[0]["ids"] == [runs.ok("sdk", "create_visa")["id"]]
    assert runs.ok("sdk", "list_v2_metadata")[0]["ids"] == [runs.ok("sdk", "create_amex")["id"]]

    first_call, second_call = runs.sent(SDK_KEY, "GET", "/v2/tokens")[:2]
    assert first_call["query"] == "type=card&size=2"
    assert second_call["query"] == f"type=card&start={first['pagination']['next']}&size=2"


def test_sdk_v2_search_by_the_query_language(runs):
    visa, mastercard, amex = (runs.ok("sdk", name)["id"] for name in ("create_visa", "create_mastercard", "create_amex"))
    pages = runs.ok("sdk", "search_v2_metadata")
    assert [len(page["ids"]) for page in pages] == [1, 1] and {p["ids"][0] for p in pages} == {visa, mastercard}
    assert runs.ok("sdk", "search_v2_and")[0]["ids"] == [amex]
    assert sorted(runs.ok("sdk", "search_v2_or")[0]["ids"]) == sorted([visa, amex])
    assert runs.ok("sdk", "search_v2_after_delete") == [visa]

    first_call, second_call = runs.sent(SDK_KEY, "POST", "/v2/tokens/search")[:2]
    assert first_call["request"]["body"] == {"query": "metadata.owner:node", "size": 1}
    assert second_call["request"]["body"] == {"query": "metadata.owner:node", "size": 1, "start": pages[0]["pagination"]["next"]}
    assert header(first_call, "Content-Type") == "application/json"


def test_sdk_delete_then_not_found(runs):
    assert runs.ok("sdk", "delete_mastercard") is None
    gone = runs.error("sdk", "get_deleted_mastercard")
    assert (gone["class"], gone["status"]) == ("NotFoundError", 404)
    assert runs.sent(SDK_KEY, "DELETE", f"/tokens/{runs.ok('sdk', 'create_mastercard')['id']}")[0]["status"] == 204


def test_sdk_maps_errors_to_its_typed_exceptions(runs):
    missing = runs.error("sdk", "error_not_found")
    assert (missing["class"], missing["status"], missing["body"]["status"], missing["body"]["title"]) == (
        "NotFoundError", 404, 404, "Not Found",
    )
    bad = runs.error("sdk", "error_bad_request")
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400)
    assert isinstance(bad["body"]["errors"]["data.number"], list) and bad["body"]["errors"]["data.number"][0]
    wrong_key = runs.error("sdk", "error_unauthorized")
    assert (wrong_key["class"], wrong_key["status"], wrong_key["body"]["status"]) == ("UnauthorizedError", 401, 401)
    # A platform API the sandbox does not emulate (POST /tokenize) still answers a problem document.
    other = runs.error("sdk", "error_unemulated")
    assert (other["class"], other["status"]) == ("BasisTheoryError", 404)
    assert other["body"]["status"] == 404 and other["body"]["title"] and "error" not in other["body"]


def test_sdk_3ds_session_create_get_authenticate(runs):
    visa = runs.ok("sdk", "create_visa")
    session = runs.ok("sdk", "threeds_create")
    assert session["id"] and (session["type"], session["cardBrand"]) == ("customer", "Visa")
    read = runs.ok("sdk", "threeds_get")
    assert (read["id"], read["tokenId"], read["device"]) == (session["id"], visa["id"], "browser")
    assert runs.ok("sdk", "threeds_authenticate")["authenticationStatus"] == "successful"
    missing = runs.error("sdk", "threeds_get_missing")
    assert (missing["class"], missing["status"]) == ("NotFoundError", 404)
    create = runs.sent(SDK_KEY, "POST", "/3ds/sessions")[0]
    assert create["request"]["body"] == {"token_id": visa["id"], "type": "customer", "device": "browser"}


def test_sdk_agentic_enrollment_agent_instruction_and_credentials(runs):
    enrollment = runs.ok("sdk", "enrollment_create")
    assert enrollment["status"] == "pending_verification" and enrollment["card"]["last4"] == "5556"
    assert runs.ok("sdk", "enrollment_verify")["status"] == "approved"
    assert runs.ok("sdk", "enrollment_get")["status"] == "active"
    listed = runs.ok("sdk", "enrollment_list")
    assert [len(page["ids"]) for page in listed] == [1, 1] and listed[0]["pagination"]["nextCursor"]
    assert {page["ids"][0] for page in listed} == {enrollment["id"], runs.ok("sdk", "enrollment_create_second")["id"]}

    agent = runs.ok("sdk", "agent_create")
    assert (agent["name"], agent["status"], agent["enrollmentIds"]) == ("Node shopper", "active", [enrollment["id"]])
    assert runs.ok("sdk", "agent_update")["name"] == runs.ok("sdk", "agent_get")["name"] == "Node buyer"
    instruction = runs.ok("sdk", "instruction_create")
    assert (instruction["status"], instruction["amount"], instruction["expiresAt"]) == (
        "pending_verification", {"value": "25.00", "currency": "USD"}, "2026-01-02T00:00:00.000Z",
    )
    assert runs.ok("sdk", "instruction_get")["id"] == instruction["id"]
    assert runs.ok("sdk", "instruction_list")[0]["ids"] == [instruction["id"]]
    assert runs.ok("sdk", "instruction_verify")["status"] == "verified"
    assert runs.ok("sdk", "instruction_get_verified")["status"] == "approved"
    assert re.fullmatch(r"400000100000\d{4}", runs.ok("sdk", "credentials")["card"]["number"])
    assert runs.ok("sdk", "credentials")["card"]["number"].endswith("5556")

    bad = runs.error("sdk", "agent_bad_request")
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400) and "name" in bad["body"]["errors"]
    assert runs.ok("sdk", "agent_delete") is None
    assert runs.error("sdk", "agent_get_deleted")["class"] == "NotFoundError"
    sent = runs.sent(SDK_KEY, "POST", f"/agentic/agents/{agent['id']}/instructions")[0]["request"]["body"]
    assert sent["enrollment_id"] == enrollment["id"] and sent["expires_at"] == "2026-01-02T00:00:00.000Z"


def test_sdk_webhooks_crud(runs):
    assert "token.created" in runs.ok("sdk", "webhook_event_types")
    hook = runs.ok("sdk", "webhook_create")
    assert (hook["status"], hook["name"], hook["url"], hook["events"]) == (
        "enabled", "node hook", "https://hooks.example.com/node-sdk", ["token.created"],
    )
    assert hook["tenantId"] and hook["createdBy"] and hook["createdAt"] == START
    assert [w["id"] for w in runs.ok("sdk", "webhook_list")["data"]] == [hook["id"]]
    assert runs.ok("sdk", "webhook_get") == hook
    updated = runs.ok("sdk", "webhook_update")
    assert (updated["id"], updated["name"], updated["url"], updated["events"]) == (
        hook["id"], "node hook renamed", "https://hooks.example.com/node-sdk/v2", ["token.created", "token.deleted"],
    )
    bad = runs.error("sdk", "webhook_bad_request")
    assert (bad["class"], bad["status"]) == ("BadRequestError", 400) and "url" in bad["body"]["errors"]
    assert runs.ok("sdk", "webhook_delete") is None
    assert runs.error("sdk", "webhook_get_deleted")["class"] == "NotFoundError"
    assert runs.sent(SDK_KEY, "PUT", f"/webhooks/{hook['id']}")[0]["status"] == 200


# @basis-theory/basis-theory-js 4.30.2 -----------------------------------------------------------------------


def test_js_creates_and_retrieves_tokens_at_trailing_slash_paths(runs):
    visa = runs.ok("js", "create_visa")
    assert (visa["type"], visa["data"]["number"], visa["metadata"]) == ("card", "XXXXXXXXXXXX4242", {"owner": "node", "n": "1"})
    assert visa["card"]["brand"] == "visa" and visa["createdAt"] == START and visa["tenantId"]
    assert runs.ok("js", "create_visa_replay")["id"] == visa["id"]
    assert runs.ok("js", "retrieve_visa")["id"] == visa["id"]
    diners = runs.ok("js", "retrieve_diners")
    assert (diners["card"]["brand"], diners["card"]["last4"]) == ("diners-club", "1667")

    create = runs.sent(JS_KEY, "POST", "/tokens/")[0]
    assert header(create, "bt-idempotency-key") == "js-visa" and header(create, "BT-API-KEY")
    assert header(create, "Content-Type") == "application/json" and "BasisTheoryJS" in header(create, "BT-CLIENT-USER-AGENT")
    assert create["status"] == 201
    assert runs.sent(JS_KEY, "GET", f"/tokens/{visa['id']}")[0]["status"] == 200


def test_js_update_is_a_merge_patch_that_removes_a_null_key(runs):
    visa = runs.ok("js", "create_visa")
    updated = runs.ok("js", "update_visa")
    assert updated["id"] == visa["id"] and updated["metadata"] == {"owner": "node", "note": "patched"}
    assert runs.ok("js", "retrieve_visa_after_update")["metadata"] == {"owner": "node", "note": "patched"}
    patch = runs.sent(JS_KEY, "PATCH", f"/tokens/{visa['id']}")[0]
    assert header(patch, "Content-Type") == "application/merge-patch+json" and header(patch, "bt-idempotency-key") == "js-patch"
    assert patch["request"]["body"] == {"metadata": {"note": "patched", "n": None}}


def test_js_v1_list_pages_by_number(runs):
    live = {runs.ok("js", name)["id"] for name in ("create_visa", "create_mastercard", "create_diners")}
    pages = runs.ok("js", "list_pages")
    assert [len(page["ids"]) for page in pages] == [2, 1]
    assert pages[0]["pagination"].items() >= {"totalItems": 3, "pageNumber": 1, "pageSize": 2, "totalPages": 2}.items()
    seen = [token for page in pages for token in page["ids"]]
    assert len(seen) == len(set(seen)) and set(seen) == live
    visa, diners = runs.ok("js", "create_visa")["id"], runs.ok("js", "create_diners")["id"]
    assert sorted(t["id"] for t in runs.ok("js", "list_by_id")["data"]) == sorted([visa, diners])
    assert [t["id"] for t in runs.ok("js", "list_by_metadata")["data"]] == [diners]

    queries = [entry["query"] for entry in runs.sent(JS_KEY, "GET", "/tokens/")]
    assert queries[:2] == ["type=card&size=2&page=1", "type=card&size=2&page=2"]
    assert f"id={visa}&id={diners}" in queries and "metadata.owner=other" in queries


def test_js_v1_search(runs):
    visa, mastercard, diners = (runs.ok("js", name)["id"] for name in ("create_visa", "create_mastercard", "create_diners"))
    first, second = runs.ok("js", "search_metadata"), runs.ok("js", "search_metadata_page_2")
    assert first["pagination"].items() >= {"totalItems": 2, "pageNumber": 1, "pageSize": 1, "totalPages": 2}.items()
    assert {t["id"] for t in first["data"] + second["data"]} == {visa, mastercard} and len(first["data"]) == 1
    assert sorted(t["id"] for t in runs.ok("js", "search_or")["data"]) == sorted([mastercard, diners])
    assert [t["id"] for t in runs.ok("js", "search_after_delete")["data"]] == [visa]
    search = runs.sent(JS_KEY, "POST", "/tokens/search")[0]
    assert search["request"]["body"] == {"query": "metadata.owner:node", "page": 1, "size": 1} and search["status"] == 200


def test_js_delete_then_not_found(runs):
    assert runs.ok("js", "delete_mastercard") is None
    gone = runs.error("js", "retrieve_deleted_mastercard")
    assert (gone["class"], gone["status"], gone["body"]["status"]) == ("BasisTheoryApiError", 404, 404)


def test_js_errors_carry_the_status_and_the_problem_document(runs):
    missing = runs.error("js", "error_not_found")
    assert (missing["class"], missing["status"], missing["body"]["title"]) == ("BasisTheoryApiError", 404, "Not Found")
    bad = runs.error("js", "error_bad_request")
    # The client camel-cases every key of an error body too, so the field `data.number` reaches the caller as
    # `dataNumber` (common/utils.js transformTokenResponseCamelCase); on the wire it is `data.number`.
    assert (bad["status"], bad["body"]["status"], list(bad["body"]["errors"])) == (400, 400, ["dataNumber"])
    refused = [e for e in runs.sent(JS_KEY, "POST", "/tokens/") if e["status"] == 400]
    assert refused and list(refused[0]["response"]["body"]["errors"]) == ["data.number"]
    assert runs.error("js", "error_unauthorized")["status"] == 401
    assert runs.error("js", "error_idempotency_conflict")["status"] == 409
    other = runs.error("js", "error_unemulated")  # POST /sessions/: not emulated, still a problem document
    assert other["status"] == 404 and other["body"]["status"] == 404 and "error" not in other["body"]


def test_js_3ds_session_create_get_authenticate(runs):
    visa = runs.ok("js", "create_visa")
    session = runs.ok("js", "threeds_create")
    assert session["id"] and session["cardBrand"] == "Visa"
    read = runs.ok("js", "threeds_get")
    assert (read["id"], read["tokenId"]) == (session["id"], visa["id"])
    assert runs.ok("js", "threeds_authenticate")["authenticationStatus"] == "successful"
    create = runs.sent(JS_KEY, "POST", "/3ds/sessions")[0]  # no trailing slash here: axios joins "/3ds" and "/sessions"
    assert create["request"]["body"] == {"token_id": visa["id"], "type": "customer", "device": "browser"}
