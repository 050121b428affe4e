"""The published antinex-client 1.3.6, unmodified, against our API.

It is installed from PyPI into its own virtualenv (cached under
~/.cache/antinex-client-1.3.6) and its own scripts are run as a user would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import job_body

pytestmark = pytest.mark.stack

VENV = Path(os.environ.get("ANTINEX_COMPAT_VENV", Path.home() / ".cache" / "antinex-client-1.3.6"))


@pytest.fixture(scope="module")
def client_bin() -> Path:
    py = VENV / "bin" / "python"
    if not (VENV / "bin" / "ai_train_dnn.py").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "antinex-client==1.3.6"],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"installing antinex-client==1.3.6 failed:\n{proc.stderr[-3000:]}"
    return VENV / "bin"


def run(client_bin: Path, script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "ANTINEX_"))}
    proc = subprocess.run([str(client_bin / "python"), str(client_bin / script), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)
    return proc


def test_published_client_trains_and_reads_results(stack, client_bin, tmp_path):
    stack.create_user("compat", "compat-pass-1", "compat@example.com")
    req = tmp_path / "scaler-django-antinex-simple.json"
    req.write_text(json.dumps(job_body(str(stack.datasets_dir / "train.csv"), label="Compat-DNN", epochs=5)))
    train = run(client_bin, "ai_train_dnn.py", "-u", "compat", "-p", "compat-pass-1", "-a", stack.url,
                "-f", str(req))
    out = train.stdout + train.stderr
    assert train.returncode == 0, out[-4000:]
    assert "job started with response" in out
    assert "label_name" in out and "240 rows" in out  # it prints the predictions DataFrame

    session = stack.client("compat", "compat-pass-1")
    result = session.get(f"{stack.url}/mlresults/").json()["results"][0]
    assert result["status"] == "finished"
    got = run(client_bin, "ai_get_results.py", "-u", "compat", "-p", "compat-pass-1", "-a", stack.url,
              "-i", str(result["id"]))
    out = got.stdout + got.stderr
    assert got.returncode == 0, out[-4000:]
    # the published script logs "accuracy={} num_results={}" for a finished result
    full = session.get(f"{stack.url}/mlresults/{result['id']}/").json()
    assert f"accuracy={full['acc_data']['accuracy']} num_results={len(full['predictions_json']['predictions'])}" \
        in out, out[-4000:]
    job = run(client_bin, "ai_get_job.py", "-u", "compat", "-p", "compat-pass-1", "-a", stack.url,
              "-i", str(result["job_id"]))
    assert job.returncode == 0, (job.stdout + job.stderr)[-4000:]


def test_published_client_reports_bad_credentials(stack, client_bin, tmp_path):
    req = tmp_path / "r.json"
    req.write_text(json.dumps(job_body("train.csv")))
    proc = run(client_bin, "ai_train_dnn.py", "-u", "nobody", "-p", "wrong-pass", "-a", stack.url, "-f", str(req),
               timeout=120)
    assert proc.returncode != 0
