"""bandit over the product's code: no finding of medium or high severity."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_finds_nothing_of_medium_or_high_severity():
    proc = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", "api", "core", "pipeline", "utils", "client",
                           "-ll", "-f", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    found = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert not found, "\n".join(found)
    assert report["metrics"]["_totals"]["loc"] > 3000  # it really scanned the code
