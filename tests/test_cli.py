"""`sandbox serve` as a user runs it: a real process on a real port."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

from tests.conftest import free_port


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, json.loads(resp.read())


def test_serve_prints_its_url_and_answers(serve):
    port = free_port()
    proc = serve("--port", str(port), "--seed", "3")
    line = proc.stdout.readline()  # printed only once the socket listens
    assert f"listening on http://127.0.0.1:{port}" in line and "seed 3" in line
    status, body = get_json(f"http://127.0.0.1:{port}/_sandbox/health")
    assert status == 200 and body["status"] == "ok" and body["seed"] == 3


def test_environment_variables_configure_the_server(serve):
    port = free_port()
    proc = serve(env={"SANDBOX_PORT": str(port), "SANDBOX_CLOCK": "2026-02-03T04:05:06Z"})
    assert f":{port}" in proc.stdout.readline()
    _, body = get_json(f"http://127.0.0.1:{port}/_sandbox/clock")
    assert body == {"now": "2026-02-03T04:05:06.000Z", "frozen": True, "offset_seconds": body["offset_seconds"]}


def test_a_misspelled_variable_is_reported_at_start(serve):
    proc = serve("--port", str(free_port()), env={"SANDBOX_SEEED": "3"})
    assert "listening on" in proc.stdout.readline()
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "unknown setting SANDBOX_SEEED is ignored; did you mean SANDBOX_SEED?" in err


def test_sigterm_stops_the_server_cleanly(serve):
    proc = serve("--port", str(free_port()))
    proc.stdout.readline()
    proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_invalid_settings_exit_2_with_a_message():
    result = subprocess.run([sys.executable, "-m", "sandbox", "serve", "--port", "99999"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "port" in result.stderr


def test_a_taken_port_is_a_clear_error(serve):
    port = free_port()
    serve("--port", str(port)).stdout.readline()
    result = subprocess.run([sys.executable, "-m", "sandbox", "serve", "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_log_level_exits_2():
    result = subprocess.run([sys.executable, "-m", "sandbox", "serve", "--log-level", "loud"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "log_level" in result.stderr and "Traceback" not in result.stderr


def test_an_unreadable_jwks_exits_2(tmp_path):
    missing = tmp_path / "nope.json"
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--bt-jwks", str(missing)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "cannot load" in result.stderr and "Traceback" not in result.stderr


def test_serve_answers_basis_theory_routes(serve):
    port = free_port()
    serve("--port", str(port)).stdout.readline()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/projects/p/purchase-intents")
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401 and json.loads(exc.read())["error"]["type"] == "unauthorized"
    else:
        raise AssertionError("expected 401")


def test_a_pem_file_without_a_key_exits_2(tmp_path):
    bogus = tmp_path / "key.pem"
    bogus.write_text("not a key")
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--bt-jwt-public-key", str(bogus)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "cannot load" in result.stderr and "Traceback" not in result.stderr


def test_record_writes_a_scenario_at_shutdown(serve, tmp_path):
    out = tmp_path / "recorded.yaml"
    port = free_port()
    proc = serve("--port", str(port), "--seed", "4", "--record", str(out))
    proc.stdout.readline()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/purchase-intents", headers={"Authorization": "Bearer din_test_rec"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    text = out.read_text()
    assert "name: recorded" in text and "path: /v1/purchase-intents" in text and "din_test_rec" in text
