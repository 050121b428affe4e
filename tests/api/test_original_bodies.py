"""Every request body of the original AntiNex, sent to the live API as a user would send it.

The bodies are the request files of the original repositories (tests/bodies.py
rebuilds them field for field); only their data paths name our files. Each is
accepted (201), runs to its end, and the job records what was asked. A
misspelt field is a 400 naming the closest known field, and the Swagger
document lists the declared fields.
"""
from __future__ import annotations

import json
import time

import pytest
import requests

from bodies import OriginalData, original_ml_bodies, original_prepare_bodies

from antinex.utils.request_fields import BY_NAME, FIELDS, PREPARE_FIELDS

pytestmark = pytest.mark.stack

# the one original body the rebuilt API cannot run to a model: three rows leave nothing to evaluate on
TOO_FEW_ROWS = {"readme-predict-demo-1.json": "needs at least 4 rows"}


@pytest.fixture(scope="module")
def olga(stack):
    stack.create_user("olga", "olga-pass-1", "olga@example.com")
    return stack.client("olga", "olga-pass-1")


@pytest.fixture(scope="module")
def data(stack):
    return OriginalData(stack.datasets_dir)


@pytest.mark.timeout(1500)
def test_every_original_ml_body_is_accepted_and_runs(stack, olga, data):
    bodies = original_ml_bodies(data, path=str)  # plain file names: found in the shared datasets
    models = {}
    for name, body in bodies.items():
        r = olga.post(f"{stack.url}/ml/", json=body)
        assert r.status_code == 201, (name, r.text)
        answer = r.json()
        expected = {"image_file": BY_NAME["image_file"].meaning} if "image_file" in body else None
        assert answer.get("ignored_fields") == expected, name
        manifest = answer["job"]["predict_manifest"]
        assert manifest["job_id"] == answer["job"]["id"] and manifest["use_model_name"] == body.get("label",
                                                                                                   "no-label-set")
        result = stack.wait_for_result(olga, answer["results"]["id"], timeout=300)
        if name in TOO_FEW_ROWS:
            assert result["status"] == "error" and TOO_FEW_ROWS[name] in result["error_data"]["error"], result
            continue
        assert result["status"] == "finished", (name, result["error_data"])
        label = body.get("label", "no-label-set").lower()
        predictions = result["predictions_json"]
        assert predictions["num_predictions"] > 0, name
        if "predict_rows" in body or body.get("publish_to_core"):
            if label in models:  # a label trained before: its stored model answers, nothing is retrained
                assert predictions["model_source"] == "store", (name, predictions)
        else:
            models[label] = result["id"]
        job = olga.get(f"{stack.url}/ml/{answer['job']['id']}/").json()
        for field in ("title", "ds_name", "algo_name"):
            if body.get(field):
                assert job[field] == body[field], (name, field)
        if body.get("epochs") and "history" in result and result["history"].get("loss"):
            assert len(result["history"]["loss"]) == body["epochs"], name
        if isinstance(body.get("meta_data"), str) and body["meta_data"] != "{}":
            assert job["meta_data"] == json.loads(body["meta_data"]), name
    assert {"full-django-antinex-simple-scaler-dnn", "django-antinex-simple-scaler-dnn",
            "scaler-close-regression"} <= set(models)


def test_every_original_prepare_body_is_accepted_and_runs(stack, olga, data):
    for name, body in original_prepare_bodies().items():
        r = olga.post(f"{stack.url}/mlprepare/", json=body)
        assert r.status_code == 201, (name, r.text)
        prep_id = r.json()["id"]
        deadline = time.time() + 90
        while time.time() < deadline:
            prep = olga.get(f"{stack.url}/mlprepare/{prep_id}/").json()
            if prep["status"] in ("finished", "error"):
                break
            time.sleep(0.3)
        assert prep["status"] == "finished", (name, prep["error_data"])
        assert prep["clean_file"] == body["clean_file"] and prep["title"] == body["title"]
        assert sorted(prep["pipeline_files"]["files"]) == ["original-recordings/attack/attack.csv",
                                                          "original-recordings/normal/normal.csv"], prep


@pytest.mark.parametrize("endpoint,body,field,closest", [
    ("ml", {"label": "typo", "dataset": "stock.csv", "epoch": 3}, "epoch", "epochs"),
    ("ml", {"label": "typo", "dataset": "stock.csv", "features_to_proces": ["high"]}, "features_to_proces",
     "features_to_process"),
    ("ml", {"label": "typo", "dataset": "stock.csv", "predict_featur": "close"}, "predict_featur", "predict_feature"),
    ("ml", {"label": "typo", "dataset": "stock.csv", "training_data": '{"epoch": 3}'}, "training_data.epoch",
     "epochs"),
    ("ml", {"label": "typo", "dataset": "stock.csv", "model_desc": {"layers": [{"num_neuron": 1}]}},
     "model_desc.layers[0].num_neuron", "num_neurons"),
    ("mlprepare", {"ds_glob_path": "original-recordings/*/*.csv", "output_dirs": "x"}, "output_dirs", "output_dir"),
])
def test_misspelt_fields_are_refused_naming_the_closest(stack, olga, data, endpoint, body, field, closest):
    before = olga.get(f"{stack.url}/{endpoint}/").json()["count"]
    r = olga.post(f"{stack.url}/{endpoint}/", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field and f"did you mean {closest!r}?" in r.json()["reason"], r.text
    assert olga.get(f"{stack.url}/{endpoint}/").json()["count"] == before  # nothing recorded


def test_swagger_lists_the_declared_fields(stack):
    schema = requests.get(f"{stack.url}/swagger.json", timeout=10).json()
    post = schema["paths"]["/ml/"]["post"]
    body = next(p for p in post["parameters"] if p["in"] == "body")["schema"]
    body = schema["definitions"][body["$ref"].split("/")[-1]] if "$ref" in body else body
    sent = {f.name for f in FIELDS if f.role in ("request", "record")}
    assert set(body["properties"]) == sent
    assert "required" not in body  # every field has a default (label too)
    assert "cross_validate" in body["properties"] and "missing_value" in body["properties"]
    assert body["properties"]["epochs"]["minimum"] == 1
    prepare = next(p for p in schema["paths"]["/mlprepare/"]["post"]["parameters"] if p["in"] == "body")["schema"]
    prepare = schema["definitions"][prepare["$ref"].split("/")[-1]] if "$ref" in prepare else prepare
    assert set(prepare["properties"]) == {f.name for f in PREPARE_FIELDS if f.role != "legacy"}
    assert prepare["required"] == ["ds_glob_path"]
