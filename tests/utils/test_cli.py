"""The offline CLI end to end."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from antinex.utils import cli
from antinex.utils.dataset import dropped_columns, load_frame
from antinex.utils.export import neutralise
from antinex.utils.request import parse_request

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
    proc = subprocess.run([sys.executable, "-m", "antinex.utils.cli", "train", "-f", str(tmp_path / "none.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "request file not found" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": str(tmp_path / "nope.csv")}))
    assert cli.main(["train", "-f", str(bad)]) == 2


def test_quickstart_reports_missing_data(monkeypatch, tmp_path, capsys):
    import antinex.utils.data as data

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


def _train(tmp_path, body: dict, *extra: str) -> int:
    req = tmp_path / "train.json"
    req.write_text(json.dumps(body))
    return cli.main(["train", "-f", str(req), "--no-progress", *extra])


@pytest.fixture
def stored(tmp_path, base_request):
    """A model trained on the separable rows, in a store of its own."""
    store = tmp_path / "models"
    assert _train(tmp_path, dict(base_request, epochs=2), "--store", str(store)) == 0
    return store


def test_predict_prints_the_predictions_not_the_training_table(tmp_path, base_request, stored, capsys):
    rows = separable(30, seed=5)
    req = tmp_path / "rows.json"
    req.write_text(json.dumps({"label": base_request["label"], "predict_rows": rows.to_dict("records")}))
    capsys.readouterr()
    out = tmp_path / "p"
    assert cli.main(["predict", "-f", str(req), "--store", str(stored), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    written = pd.read_csv(out / "predictions.csv")
    assert len(written) == 30
    assert "Predictions with stored model Unit-Test-DNN" in printed
    assert "rows predicted: 30" in printed
    for name, n in written["label_name"].value_counts().items():
        assert re.search(rf"{name}\s*│\s*{n}\s*│", printed), (name, n, printed)
    checksum = (stored / "unit-test-dnn" / "checksum.sha256").read_text().strip()
    assert "model: Unit-Test-DNN (saved" in printed and checksum[:12] in printed
    assert "First 5 of 30 rows" in printed and "label_name" in printed
    assert f"wrote {out / 'predictions.csv'}" in printed and "predictions.csv holds all 30 predictions" in printed
    # the training evaluation is not what predict answers
    assert "Held-out evaluation" not in printed and "train_seconds" not in printed
    assert "pass -o DIR" not in printed
    assert cli.main(["predict", "-f", str(req), "--store", str(stored)]) == 0
    assert "pass -o DIR to write all 30 predictions to DIR/predictions.csv" in capsys.readouterr().out


def test_predictions_csv_holds_every_row_unless_max_records_is_given(tmp_path, base_request, capsys):
    body = dict(base_request, epochs=1, max_records=7)  # the request's max_records bounds the API's answer only
    assert _train(tmp_path, body, "-o", str(tmp_path / "all"), "--store", "") == 0
    assert len(pd.read_csv(tmp_path / "all" / "predictions.csv")) == 400
    assert "predictions.csv holds all 400 predictions" in capsys.readouterr().out
    assert _train(tmp_path, body, "-o", str(tmp_path / "some"), "--store", "", "--max-records", "50") == 0
    assert len(pd.read_csv(tmp_path / "some" / "predictions.csv")) == 50
    printed = " ".join(capsys.readouterr().out.split())
    assert "predictions.csv holds the first 50 of 400 predictions (--max-records 50): 350 rows left out" in printed
    metrics = json.loads((tmp_path / "some" / "metrics.json").read_text())
    assert metrics["num_predictions"] == 400


def test_max_records_must_be_positive(tmp_path, base_request, capsys):
    with pytest.raises(SystemExit) as exit_:
        _train(tmp_path, base_request, "--max-records", "0")
    assert exit_.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_text_columns_left_out_are_reported(tmp_path, base_request, capsys):
    rows = separable(200, seed=3)
    rows["user_agent"] = ["curl/8.5" if v else "Mozilla/5.0" for v in rows["label_value"]]
    rows["port_text"] = rows["tcp_dport"].astype(str)  # numbers that arrive as JSON strings
    body = {k: v for k, v in base_request.items() if k not in ("dataset", "features_to_process")}
    body.update(epochs=1, predict_rows=rows.to_dict("records"))
    assert _train(tmp_path, body, "-o", str(tmp_path / "out"), "--store", "") == 0
    err = capsys.readouterr().err
    assert "antinex: warning: 2 text columns not used as features" in err
    assert "user_agent (text, not numbers" in err and "port_text (numbers stored as text" in err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    dropped = {d["column"]: d["reason"] for d in metrics["metrics"]["dropped_columns"]}
    assert set(dropped) == {"user_agent", "port_text"}
    assert "features_to_process" in dropped["port_text"] and "ignore_features" in dropped["user_agent"]
    assert metrics["features"] == ["tcp_dport", "ip_len", "ratio"]
    req = parse_request(body)
    assert dropped_columns(req, load_frame(req)) == metrics["metrics"]["dropped_columns"]
    # ignoring them, or naming the features, is a choice: nothing to report
    body["ignore_features"] = ["user_agent", "port_text"]
    assert _train(tmp_path, body, "-o", str(tmp_path / "quiet"), "--store", "") == 0
    assert "warning" not in capsys.readouterr().err
    assert "dropped_columns" not in json.loads((tmp_path / "quiet" / "metrics.json").read_text())["metrics"]


def test_a_damaged_store_entry_is_named(tmp_path, base_request, stored, capsys):
    (stored / "unit-test-dnn" / "checksum.sha256").unlink()
    req = tmp_path / "rows.json"
    req.write_text(json.dumps({"label": base_request["label"], "predict_rows": separable(5).to_dict("records")}))
    capsys.readouterr()
    assert cli.main(["predict", "-f", str(req), "--store", str(stored)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no stored model" not in err
    assert f"the model store entry 'Unit-Test-DNN' ({stored.resolve() / 'unit-test-dnn'}) is damaged" in err
    assert "checksum.sha256 is missing" in err and "Retrain" in err and "antinex train -f" in err


def _png_title(path) -> str:
    from PIL import Image

    with Image.open(path) as img:
        return img.info.get("Title", "")


def test_regression_curves_say_they_are_on_the_scaled_target(tmp_path):
    from antinex.utils.plots import training_curves_figure

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, (200, 2))
    data = tmp_path / "lin.csv"
    pd.DataFrame({"u": x[:, 0], "v": x[:, 1], "target": 3 * x[:, 0] - 2 * x[:, 1] + 5}).to_csv(data, index=False)
    body = {"label": "lin", "dataset": str(data), "ml_type": "regression", "predict_feature": "target",
            "features_to_process": ["u", "v"], "epochs": 2, "metrics": ["mae"],
            "model_desc": {"layers": [{"num_neurons": 8, "activation": "relu"}, {"num_neurons": 1}]}}
    assert _train(tmp_path, body, "-o", str(tmp_path / "scaled"), "--store", "") == 0
    assert "scaled target" in _png_title(tmp_path / "scaled" / "training_curves.png")
    assert _train(tmp_path, dict(body, apply_scaler=False), "-o", str(tmp_path / "raw"), "--store", "") == 0
    assert "scaled" not in _png_title(tmp_path / "raw" / "training_curves.png")

    history = json.loads((tmp_path / "scaled" / "metrics.json").read_text())["history"]
    fig = training_curves_figure(history, scaled_target=True)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss (scaled target)", "metric (scaled target)"]
    assert "scaled target" in fig.get_suptitle()
    fig = training_curves_figure(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "metric"]


def test_attack_rows_left_out_of_training_are_reported(tmp_path, capsys):
    """``content.conflicts: drop``: the summary says how many attack rows repeated a normal request."""
    from tests.utils.http_samples import request_frame

    df = request_frame(120, seed=3)
    copies = df[df["label_value"] == 0].head(30).assign(label_value=1)  # a tool's untouched requests
    data = tmp_path / "requests.csv"
    pd.concat([df, copies], ignore_index=True).to_csv(data, index=False)
    req = tmp_path / "req.json"
    req.write_text(json.dumps({
        "label": "Conflicts-CLI", "predict_feature": "label_value", "dataset": str(data), "epochs": 1,
        "content": {"column": "http_request", "hash_dims": 256, "conflicts": "drop"},
        "model_desc": {"layers": [{"num_neurons": 8, "activation": "relu"},
                                  {"num_neurons": 1, "activation": "sigmoid"}]},
        "label_rules": {"labels": ["not_attack", "attack"], "label_values": [0, 1]}}))
    assert cli.main(["train", "-f", str(req), "-o", str(tmp_path / "out"), "--store", "", "--no-progress"]) == 0
    n = json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]["dropped_conflicts"]
    assert n > 0
    assert f"{n:,} attack rows of the training split repeat a normal request's content" in \
        " ".join(capsys.readouterr().out.split())
