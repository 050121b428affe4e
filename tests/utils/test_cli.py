"""The offline CLI end to end."""
from __future__ import annotations

import json
import subprocess
import sys

from utils import cli
from utils.export import neutralise

from .conftest import separable


def test_train_writes_outputs_and_predict_reuses_model(tmp_path, base_request):
    req = tmp_path / "req.json"
    req.write_text(json.dumps(dict(base_request, epochs=2)))
    out = tmp_path / "out"
    store = tmp_path / "models"
    assert cli.main(["train", "-f", str(req), "-o", str(out), "--store", str(store), "--no-progress"]) == 0
    for name in ("metrics.json", "predictions.csv", "confusion_matrix.png", "training_curves.png"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["evaluated_on"] == "held-out"
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"label": base_request["label"],
                                "predict_rows": separable(5).drop(columns=["label_name"]).to_dict("records")}))
    assert cli.main(["predict", "-f", str(rows), "--store", str(store), "-o", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "predictions.csv").exists()


def test_user_errors_exit_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "utils.cli", "train", "-f", str(tmp_path / "none.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "request file not found" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": str(tmp_path / "nope.csv")}))
    assert cli.main(["train", "-f", str(bad)]) == 2


def test_quickstart_reports_missing_data(monkeypatch, tmp_path, capsys):
    import utils.data as data

    monkeypatch.setattr(data, "DEFAULT_TRAIN", tmp_path / "absent.csv.gz")
    monkeypatch.setattr(data, "DEFAULT_REQUEST", tmp_path / "absent.json")
    assert cli.main(["quickstart"]) == 2
    assert "shipped dataset is missing" in capsys.readouterr().err


def test_csv_cells_are_neutralised():
    assert neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise("@SUM") == "'@SUM"
    assert neutralise("-1.5") == "-1.5"
    assert neutralise("+3") == "+3"
    assert neutralise(-1) == -1
    assert neutralise("plain") == "plain"
