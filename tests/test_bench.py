"""`python -m bench` still runs: a smoke run with tiny sizes (it proves the bench works, it measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_benchmark_runs_and_writes_every_figure(db_kind: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--db", db_kind, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())[db_kind]
    assert result["machine"]["cores"] and result["machine"]["python"] and result["date"]
    for level in ("slash c1", "slash c10", "slash c50", "press c1", "press c10"):
        figures = result["acknowledgements"][level]
        assert figures["bot"]["failed"] == 0 and figures["floor"]["failed"] == 0
        assert figures["bot"]["p99_ms"] > 0 and figures["floor"]["p99_ms"] > 0
    assert result["burst"]["bot"]["failed"] == 0
    assert result["burst"]["last_room_complete_worst_s"] < 60  # every war room of the burst was completed
    assert result["war_room_ready"]["samples"] > 0 and result["press_to_update"]["samples"] > 0
    assert result["footprint"]["export"]["json_bytes"] > 0
    assert {"docx", "eml", "jinja2"} <= set(result["mail_merge"])
    assert result["slack_api"]["errors"] == {}, result["slack_api"]["errors"]
    assert result["bot_log"]["warnings_and_errors"] == 0, result["bot_log"]["first"]
    assert all(isinstance(t["held"], bool) for t in result["targets"]) and len(result["targets"]) >= 15
    assert "| Acknowledgement |" in done.stdout and "| Target |" in done.stdout
