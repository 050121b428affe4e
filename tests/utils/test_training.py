"""Model building, scaling on training rows, training, evaluation, prediction merge."""
from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from antinex.utils.consts import ERR, SUCCESS
from antinex.utils.dataset import load_frame
from antinex.utils.make_predictions import make_predictions
from antinex.utils.model_builder import build_model
from antinex.utils.request import parse_request
from antinex.utils.train import train

from .conftest import separable


@pytest.mark.parametrize("layers,kinds", [
    (None, ["Dense", "Dense", "Dense"]),
    ([{"num_neurons": 5, "init": "normal", "activation": "relu"},
      {"layer_type": "dropout", "rate": 0.2},
      {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"}], ["Dense", "Dropout", "Dense"]),
    ([{"num_neurons": 3, "init": "glorot_normal", "activation": "tanh"},
      {"num_neurons": 1, "activation": None}], ["Dense", "Dense"]),
])
def test_build_model_layer_kinds(layers, kinds):
    body = {"model_desc": {"layers": layers}} if layers else {}
    model = build_model(4, parse_request(body))
    assert [type(layer).__name__ for layer in model.layers] == kinds
    assert model.input_shape == (None, 4)
    assert model.loss == "binary_crossentropy"
    if layers and layers[0].get("init") == "normal":
        assert isinstance(model.layers[0].kernel_initializer, keras.initializers.RandomNormal)


def test_default_regression_model_is_linear():
    model = build_model(3, parse_request({"ml_type": "regression"}))
    assert model.layers[-1].activation.__name__ == "linear"
    assert model.loss == "mse"


def test_scaler_fitted_on_training_rows_only(tmp_path, base_request):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    df = separable(200)
    # an outlier: wherever the split puts it, only the training rows may shape the scaler
    df.loc[len(df)] = {"idx": 999, "tcp_dport": 80, "ip_len": 10**6, "ratio": -3, "label_value": 0,
                       "label_name": "not_attack"}
    path = tmp_path / "outlier.csv"
    df.to_csv(path, index=False)
    for seed in (1, 2, 3, 4):
        req = parse_request(dict(base_request, dataset=str(path), epochs=1, test_size=0.5, seed=seed))
        trained = train(req, load_frame(req))
        x = df[trained.features].to_numpy(dtype=np.float32)
        y = df["label_value"].to_numpy(dtype=float)
        x_tr, x_te, _, _ = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
        expected = MinMaxScaler(feature_range=(-1, 1)).fit(x_tr)
        assert np.allclose(trained.x_scaling.scale, expected.scale_)
        assert np.allclose(trained.x_scaling.offset, expected.min_)
        if 10**6 in x_te[:, trained.features.index("ip_len")]:
            everything = MinMaxScaler(feature_range=(-1, 1)).fit(x)
            assert not np.allclose(trained.x_scaling.scale, everything.scale_)
            break
    else:
        pytest.fail("the outlier never fell into the test split")


def test_classification_on_separable_set(base_request):
    res = make_predictions(base_request)
    assert res["status"] == SUCCESS, res["err"]
    m = res["data"]["metrics"]
    assert m["evaluated_on"] == "held-out"
    assert m["accuracy"] >= 0.95
    assert m["precision"] >= 0.9 and m["recall"] >= 0.9 and m["f1"] >= 0.9
    assert m["roc_auc"] >= 0.95
    assert np.asarray(m["confusion_matrix"]).sum() == m["test_rows"] == 100
    assert res["data"]["acc"]["accuracy"] == pytest.approx(m["accuracy"] * 100)
    assert len(res["data"]["history"]["loss"]) == base_request["epochs"]
    assert "val_acc" in res["data"]["history"]
    json.dumps(res["data"], allow_nan=False)


def test_prediction_rows_have_original_shape(base_request):
    res = make_predictions(dict(base_request, epochs=2, max_records=7))
    rows = res["data"]["sample_predictions"]
    assert len(rows) == 7 and res["data"]["num_predictions"] == 400
    row = rows[3]
    for key in ("_original_label_value", "label_value", "label_name", "_row_idx", "_count", "tcp_dport"):
        assert key in row
    assert row["_row_idx"] == 3
    assert isinstance(row["label_value"], int)
    assert row["label_name"] in ("attack", "not_attack")


def test_leaking_columns_are_not_features(base_request):
    body = dict(base_request)
    body.pop("features_to_process")
    res = make_predictions(dict(body, epochs=1))
    assert res["status"] == SUCCESS
    assert sorted(res["data"]["features"]) == ["ip_len", "ratio", "tcp_dport"]


def test_predict_rows_without_target_are_marked_missing(base_request):
    trained = make_predictions(dict(base_request, epochs=3))["model"]
    rows = [{"tcp_dport": 8050, "ip_len": 500, "ratio": 3.1}]
    res = make_predictions({"label": "Unit-Test-DNN", "predict_rows": rows}, trained=trained)
    assert res["status"] == SUCCESS, res["err"]
    row = res["data"]["sample_predictions"][0]
    assert row["_original_label_value"] == "missing-from-dataset"
    assert res["data"]["trained"] is False


def test_single_row_uses_training_scaler(base_request):
    """The original refitted a scaler on the incoming rows: one row collapsed to -1."""
    trained = make_predictions(dict(base_request, epochs=8))["model"]
    attack = {"tcp_dport": 8050, "ip_len": 500, "ratio": 3.0}
    normal = {"tcp_dport": 85, "ip_len": 500, "ratio": -3.0}
    got = [make_predictions({"predict_rows": [r]}, trained=trained)["data"]["sample_predictions"][0]["label_value"]
           for r in (attack, normal)]
    assert got == [1, 0]


def test_regression_on_linear_relation(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, (500, 2))
    df = pd.DataFrame({"u": x[:, 0], "v": x[:, 1], "target": 3 * x[:, 0] - 2 * x[:, 1] + 5})
    path = tmp_path / "lin.csv"
    df.to_csv(path, index=False)
    res = make_predictions({
        "label": "lin", "dataset": str(path), "ml_type": "regression", "predict_feature": "target",
        "features_to_process": ["u", "v"], "epochs": 40, "batch_size": 16, "seed": 1,
        "model_desc": {"layers": [{"num_neurons": 16, "activation": "relu"}, {"num_neurons": 1}]},
    })
    assert res["status"] == SUCCESS, res["err"]
    assert res["data"]["metrics"]["r2"] > 0.9
    pred = res["data"]["sample_predictions"][0]
    assert isinstance(pred["target"], float)


def test_stock_close_regression_like_the_original(tmp_path):
    """The original's scaler-regression.json: label Scaler-Close-Regression on stock.csv."""
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 300))
    df = pd.DataFrame({
        "date": pd.date_range("2018-01-01", periods=300).strftime("%Y-%m-%d"),
        "open": close + rng.normal(0, 0.5, 300),
        "high": close + np.abs(rng.normal(1, 0.3, 300)),
        "low": close - np.abs(rng.normal(1, 0.3, 300)),
        "close": close,
        "volume": rng.integers(10**6, 10**7, 300),
    })
    path = tmp_path / "stock.csv"
    df.to_csv(path, index=False)
    body = {
        "label": "Scaler-Close-Regression", "dataset": str(path), "apply_scaler": True,
        "ml_type": "regression", "predict_feature": "close",
        "features_to_process": ["high", "low", "open", "volume"], "ignore_features": [],
        "sort_values": [], "seed": 7, "test_size": 0.2, "batch_size": 32, "epochs": 30,
        "num_splits": 2, "loss": "mse", "optimizer": "adam", "metrics": ["accuracy"],
        "histories": ["val_loss", "val_acc", "loss", "acc"],
        "model_desc": {"layers": [{"activation": "relu", "init": "uniform", "num_neurons": 200},
                                  {"activation": None, "init": "uniform", "num_neurons": 1}]},
        "label_rules": {}, "version": 1,
    }
    res = make_predictions(body)
    assert res["status"] == SUCCESS, res["err"]
    assert res["data"]["metrics"]["r2"] > 0.8
    row = res["data"]["sample_predictions"][0]
    assert abs(row["close"] - row["_original_close"]) < 10  # inverse-scaled to price units
    json.dumps(res["data"], allow_nan=False)


def test_cross_validation_when_asked(base_request):
    res = make_predictions(dict(base_request, epochs=2, cross_validate=True, num_splits=2))
    cv = res["data"]["metrics"]["cross_validation"]
    assert cv["num_splits"] == 2 and len(cv["scores"]) == 2


def test_multiclass_target(tmp_path):
    rng = np.random.default_rng(5)
    y = rng.integers(-1, 2, 450)
    df = pd.DataFrame({"f": y * 4 + rng.normal(0, 0.3, 450), "g": rng.normal(size=450), "label_value": y})
    path = tmp_path / "three.csv"
    df.to_csv(path, index=False)
    res = make_predictions({"dataset": str(path), "epochs": 40, "seed": 2, "batch_size": 16,
                            "model_desc": {"layers": [{"num_neurons": 16, "activation": "relu"},
                                                      {"num_neurons": 1, "activation": "sigmoid"}]},
                            "label_rules": {"labels": ["not_attack", "not_attack", "attack"],
                                            "label_values": [-1, 0, 1]}})
    assert res["status"] == SUCCESS, res["err"]
    assert len(res["data"]["metrics"]["confusion_matrix"]) == 3
    assert res["data"]["metrics"]["accuracy"] > 0.9


@pytest.mark.parametrize("change,needle", [
    ({"features_to_process": ["tcp_dport", "nope"]}, "unknown columns: nope"),
    ({"predict_feature": "missing_col"}, "missing_col"),
    ({"features_to_process": ["label_name"]}, "non-numeric"),
    ({"sort_values": ["zzz"]}, "sort_values"),
])
def test_bad_input_returns_error_not_exception(base_request, change, needle):
    res = make_predictions(dict(base_request, **change))
    assert res["status"] == ERR
    assert needle in res["err"]
    assert res["model"] is None


def test_empty_and_single_class_data(tmp_path, base_request):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    res = make_predictions(dict(base_request, dataset=str(empty)))
    assert res["status"] == ERR and res["err"].startswith("dataset:") and "no columns" in res["err"].lower()
    one = tmp_path / "one.csv"
    pd.DataFrame({"tcp_dport": range(10), "ip_len": 1, "ratio": 0.0, "label_value": 1}).to_csv(one, index=False)
    res = make_predictions(dict(base_request, dataset=str(one)))
    assert res["status"] == ERR and "two classes" in res["err"]
    assert make_predictions({"label": "x"})["status"] == ERR  # no data at all


def test_placeholder_targets_do_not_fail_predictions(base_request):
    """Pipeline rows carry the target as -1 (missing): predict, but score nothing."""
    trained = make_predictions(dict(base_request, epochs=2))["model"]
    rows = [{"tcp_dport": 8050, "ip_len": 500, "ratio": 3.0, "label_value": -1}]
    res = make_predictions({"predict_rows": rows}, trained=trained)
    assert res["status"] == SUCCESS, res["err"]
    assert "on_request_rows" not in res["data"]["metrics"]
