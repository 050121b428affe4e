"""Every validation path of the request schema returns its error."""
from __future__ import annotations

import dataclasses
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


# -- one declaration ------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from bodies import OriginalData, original_core_message, original_ml_bodies  # noqa: E402

from antinex.utils import doctables  # noqa: E402
from antinex.utils.request import MLRequest  # noqa: E402
from antinex.utils.request_fields import BY_NAME, FIELDS, Context  # noqa: E402


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    root = tmp_path_factory.mktemp("original")
    data = OriginalData(root)
    return data, original_ml_bodies(data, path=lambda name: str(root / name))


def test_every_original_body_is_accepted(original):
    """The request files of the original repositories parse as they are (only their data paths are ours)."""
    data, bodies = original
    assert len(bodies) >= 13
    for name, body in bodies.items():
        req = parse_request(body)
        assert req.label == body.get("label", "no-label-set"), name
        if "training_data" not in body:
            for field in ("epochs", "seed", "ml_type", "predict_feature"):
                if field in body:
                    assert getattr(req, field) == body[field], (name, field)
        # a field of the original without effect here is said so, never dropped silently
        assert req.ignored == ({"image_file": BY_NAME["image_file"].meaning} if "image_file" in body else {}), name
    legacy = parse_request(bodies["django-antinex.json"])
    assert legacy.csv_file == data.root / "v1_django_cleaned.csv" and legacy.meta_data["label_rules"]["labels"]
    assert legacy.label_rules["set_if_above"] == 85 and legacy.num_splits == 5


def test_original_core_messages_are_accepted(original):
    """What the original API published to the core: manifest, predict_rows as DataFrame JSON, empty model fields."""
    _, bodies = original
    for name in ("predict-rows-scaler-django-simple.json", "only-publish-predict-rows-simple.json"):
        body = original_core_message(bodies[name])
        req = parse_request(body)
        sent = bodies[name]["predict_rows"]
        assert [{k: r[k] for k in sent[0]} for r in req.predict_rows] == sent
        assert req.manifest["job_id"] == 34
        assert set(req.ignored) == {"created"}  # model_json/weights_json null, show_model_json "0": nothing to say


def test_generate_ai_request_bodies_are_accepted(original):
    from antinex.client.generate import generate_ai_request

    data, bodies = original
    template = {**bodies["scaler-full-django-antinex-simple.json"], "publish_to_core": True}
    made = generate_ai_request(data.rows(list(data.django.columns), n=3), req_dict=template)
    assert made["status"] == 0, made["error"]
    req = parse_request(made["data"])
    assert req.publish_to_core and len(req.predict_rows) == 3 and req.dataset is None


@pytest.mark.parametrize("body,field,closest", [
    ({"epoch": 3}, "epoch", "epochs"),
    ({"features_to_proces": ["a"]}, "features_to_proces", "features_to_process"),
    ({"predict_featur": "label_value"}, "predict_featur", "predict_feature"),
    ({"Epochs": 3}, "Epochs", "epochs"),
    ({"training_data": json.dumps({"batchsize": 8})}, "training_data.batchsize", "batch_size"),
    ({"model_desc": {"layers": [{"num_neuron": 4}]}}, "model_desc.layers[0].num_neuron", "num_neurons"),
    ({"model_desc": {"layers": [{"layer_type": "dropout", "rates": 0.1}, {"num_neurons": 1}]}},
     "model_desc.layers[0].rates", "rate"),
    ({"model_desc": {"layer": [{"num_neurons": 1}]}}, "model_desc.layer", "layers"),
])
def test_misspelt_fields_are_refused_naming_the_closest(body, field, closest):
    with pytest.raises(RequestError) as exc:
        parse_request(body)
    assert exc.value.field == field
    assert f"did you mean {closest!r}?" in exc.value.reason


def test_an_unknown_field_with_nothing_close_is_refused():
    with pytest.raises(RequestError) as exc:
        parse_request({"label": "x", "zzzz": 1})
    assert exc.value.field == "zzzz" and "unknown field" in exc.value.reason and "did you mean" not in exc.value.reason


def test_every_declared_field_is_accepted_and_becomes_an_attribute():
    """Adding a field is one declaration: the request class and the parser follow from it."""
    stored = [f.name for f in FIELDS if f.stored]
    assert [f.name for f in dataclasses.fields(MLRequest)] == stored + ["extra", "ignored"]
    for f in FIELDS:
        if f.name != "label":
            parse_request({f.name: None})  # null means "the default", for every field but label
    with pytest.raises(RequestError):
        parse_request({"label": None})


def test_declared_defaults_read_back_as_themselves():
    """Each default is a value its own reader accepts unchanged: the declaration is consistent."""
    ctx = Context()
    for f in FIELDS:
        if f.stored and f.default not in (None, "", [], {}):
            assert f.parse(f.default, ctx) == f.default, f.name
    req = MLRequest()
    assert req.histories == ["val_loss", "val_acc", "loss", "acc"] and req.histories is not MLRequest().histories


def test_to_body_reads_back_to_the_same_request(original):
    """The core's message is the parsed request written back: parse(to_body()) trains with the same values."""
    _, bodies = original
    for name, body in bodies.items():
        req = parse_request(body)
        again = parse_request(json.loads(json.dumps(req.to_body())))
        for f in FIELDS:
            if f.stored and not (f.role == "record" and f.type is dict):
                assert getattr(again, f.name) == getattr(req, f.name), (name, f.name)
    merged = parse_request(dict(bodies["scaler-full-django-antinex-simple.json"],
                                training_data=json.dumps({"epochs": 2, "optimizer": "SGD"})))
    body = merged.to_body()
    assert body["epochs"] == 2 and body["optimizer"] == "sgd" and "training_data" not in body
    assert isinstance(body["dataset"], str) and Path(body["dataset"]).is_absolute()


def test_the_docs_tables_are_made_from_the_declarations():
    """docs/request-schema.md, docs/api.md, docs/settings.md and docs/users-and-limits.md hold the tables the
    declarations make (python -m antinex.utils.doctables rewrites them)."""
    assert doctables.drifted() == []
    text = (doctables.DOCS / "request-schema.md").read_text()
    for f in FIELDS:
        assert f"| `{f.name}` |" in text, f.name
