"""Every validation path of the request schema returns its error."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from antinex.utils.request import RequestError, parse_request


def field_of(body, **kw) -> str:
    with pytest.raises(RequestError) as exc:
        parse_request(body, **kw)
    assert exc.value.reason
    assert exc.value.as_dict()["field"] == exc.value.field
    return exc.value.field


def test_original_body_is_accepted(base_request):
    body = dict(base_request, apply_scaler="true", epochs="3", training_data=json.dumps({"epochs": 2}))
    req = parse_request(body)
    assert req.apply_scaler is True
    assert req.epochs == 2  # training_data overrides, as in the original
    assert req.histories == ["val_loss", "val_acc", "loss", "acc"]
    assert req.model_key == "unit-test-dnn"


def test_predict_rows_as_dataframe_json_string():
    df = pd.DataFrame([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    req = parse_request({"predict_rows": df.to_json()})
    assert req.predict_rows == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


@pytest.mark.parametrize("body,field", [
    ("not a dict", "body"),
    ({"ml_type": "xgb"}, "ml_type"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": "many"}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"batch_size": True}, "batch_size"),
    ({"test_size": 1.5}, "test_size"),
    ({"apply_scaler": "maybe"}, "apply_scaler"),
    ({"features_to_process": "a,b", "ignore_features": [1]}, "ignore_features"),
    ({"training_data": "{not json"}, "training_data"),
    ({"predict_rows": []}, "predict_rows"),
    ({"predict_rows": [1, 2]}, "predict_rows"),
    ({"predict_rows": "[oops"}, "predict_rows"),
    ({"model_desc": {"layers": []}}, "model_desc.layers"),
    ({"model_desc": {"layers": [{"num_neurons": 0}]}}, "model_desc.layers[0].num_neurons"),
    ({"model_desc": {"layers": [{"layer_type": "conv"}]}}, "model_desc.layers[0]"),
    ({"model_desc": {"layers": [{"num_neurons": 4}, {"layer_type": "dropout", "rate": 2}]}},
     "model_desc.layers[1].rate"),
    ({"label_rules": {"labels": ["a"], "label_values": [0, 1]}}, "label_rules"),
    ({"label": ""}, "label"),
    ({"dataset": "/nonexistent/file.csv"}, "dataset"),
    ({"ignore_features": ["label_value"]}, "ignore_features"),
])
def test_bad_fields(body, field):
    assert field_of(body) == field


def test_dataset_confined_to_datasets_dirs(tmp_path, csv_dataset):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    assert field_of({"dataset": str(csv_dataset)}, datasets_dirs=[allowed]) == "dataset"
    assert field_of({"dataset": "../separable.csv"}, datasets_dirs=[allowed]) == "dataset"
    inside = allowed / "ok.csv"
    inside.write_text("a,label_value\n1,0\n")
    assert parse_request({"dataset": "ok.csv"}, datasets_dirs=[allowed]).dataset == inside.resolve()
