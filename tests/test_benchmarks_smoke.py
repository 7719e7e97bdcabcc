"""The benchmark harness keeps working: `python benchmarks/run.py --quick --json` exits 0 and
reports every figure with a number. Its smoke version judges nothing, and neither does this test:
no figure is compared with a threshold."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATES = ("get", "create", "lifecycle", "bt_create_verify")


def test_quick_run_reports_every_figure_with_a_number(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    env = report["environment"]
    assert env["quick"] is True
    assert env["client_name"] == ("wrk" if shutil.which("wrk") else "aiohttp")
    assert env["client"].startswith("wrk" if shutil.which("wrk") else "aiohttp")
    low, high = env["connections"]
    levels = env["levels"]
    expected = (
        [f"{rate}_c{n}" for rate in RATES for n in (low, high)] + [f"get_p99_c{high}", "webhook_deliveries_per_s", "startup_ms"]
        + [f"get_at_{level}" for level in levels] + ["rss_per_intent_bytes"]
    )
    figures = {figure["key"]: figure for figure in report["figures"]}
    assert sorted(figures) == sorted(expected)

    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0

    for key, figure in figures.items():
        assert number(figure["sandbox"]), (key, figure)
        assert figure["bare"] is None if key == "rss_per_intent_bytes" else number(figure["bare"]), (key, figure)
        assert figure["met"] is None, (key, figure)  # --quick judges nothing
        assert figure["target"] is not None and figure["figure"] and figure["unit"]
    # every run sent requests and got the answers it expected (errors would have made the exit status 1)
    assert report["runs"]
    for run in report["runs"]:
        assert run["requests"] > 0 and run["iterations"] > 0 and run["errors"] == 0 == run["warmup_errors"], run
    # the webhook figure counted deliveries that reached the receiver, from both servers
    hooks = figures["webhook_deliveries_per_s"]["details"]
    assert hooks["sandbox"]["received"] > 0 and hooks["bare"]["received"] > 0

    # the same report as the table a person reads: a row per figure, and the client named
    saved = tmp_path / "report.json"
    saved.write_text(done.stdout)
    shown = subprocess.run([sys.executable, "benchmarks/run.py", "--show", str(saved)], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"client: {env['client']}\n")
    for figure in report["figures"]:
        assert any(line.startswith(figure["figure"]) for line in shown.stdout.splitlines()), figure["figure"]
