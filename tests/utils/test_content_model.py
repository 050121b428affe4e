"""Content and sequence networks end to end: make_predictions on a few hundred requests, the model store."""
from __future__ import annotations

import json

import numpy as np
import pytest

from antinex.utils.consts import SUCCESS
from antinex.utils.make_predictions import make_predictions
from antinex.utils.model_store import DamagedModelError, ModelStore, ModelStoreError, _digest, _meta_files
from tests.utils.http_samples import BENIGN, request_frame

LABELS = {"labels": ["not_attack", "attack"], "label_values": [0, 1]}
CONTENT = {
    "label": "Content-Test", "predict_feature": "label_value", "seed": 5, "epochs": 6, "batch_size": 32,
    "content": {"column": "http_request", "hash_dims": 512}, "scaler": "log-minmax", "class_weight": "balanced",
    "model_desc": {"layers": [{"num_neurons": 32, "activation": "relu"}, {"num_neurons": 1, "activation": "sigmoid"}]},
    "label_rules": LABELS,
}
SEQUENCE = {
    "label": "Sequence-Test", "predict_feature": "label_value", "seed": 5, "epochs": 4, "batch_size": 32,
    "content": {"column": "http_request", "encoding": "bytes", "max_len": 128},
    "model_desc": {"layers": [
        {"layer_type": "embedding", "output_dim": 8},
        {"layer_type": "conv1d", "filters": 16, "kernel_size": 5, "activation": "relu"},
        {"layer_type": "maxpooling1d", "pool_size": 2},
        {"layer_type": "globalmaxpooling1d"},
        {"layer_type": "dropout", "rate": 0.1},
        {"num_neurons": 1, "activation": "sigmoid"}]},
    "label_rules": LABELS,
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("requests") / "requests.csv"
    request_frame(300, seed=11).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ModelStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def content_model(dataset, store):
    res = make_predictions({**CONTENT, "dataset": str(dataset)}, store=store)
    assert res["status"] == SUCCESS, res["err"]
    return res


@pytest.fixture(scope="module")
def sequence_model(dataset, store):
    res = make_predictions({**SEQUENCE, "dataset": str(dataset)}, store=store)
    assert res["status"] == SUCCESS, res["err"]
    return res


def rows(*names) -> list[dict]:
    from antinex.pipeline.http_message import request_to_text

    return [{"http_request": request_to_text(BENIGN[n]), "label_value": -1} for n in names]


def test_content_model_learns_the_requests(content_model):
    m = content_model["data"]["metrics"]
    assert m["evaluated_on"] == "held-out" and m["test_rows"] == 60
    assert m["accuracy"] >= 0.9, m
    assert content_model["data"]["features"] == []  # no named columns: the content only
    assert "request-content" in content_model["model"].artifacts


def test_content_model_reloads_with_identical_predictions(content_model, store, dataset):
    import pandas as pd

    df = pd.read_csv(dataset)
    before = content_model["model"].predict_raw(df)
    again = store.load("Content-Test")
    np.testing.assert_array_equal(again.predict_raw(df), before)
    assert again.content.spec.hash_dims == 512 and again.x_scaling is None


def test_content_fast_path_matches_keras(content_model, dataset):
    import pandas as pd

    trained = content_model["model"]
    x = trained.transform(pd.read_csv(dataset))
    assert trained._dense_layers() is not None  # a Dense net on sparse content columns: numpy, not Keras
    np.testing.assert_allclose(trained.forward(x), trained.model.predict(x, verbose=0), atol=1e-5)


def test_predict_rows_with_a_stored_content_model(content_model, store):
    body = {**CONTENT, "predict_rows": rows("curl", "wget", "chromium-navigate")}
    res = make_predictions(body, trained=store.load("Content-Test"))
    assert res["status"] == SUCCESS, res["err"]
    assert res["data"]["num_predictions"] == 3
    assert {r["label_name"] for r in res["data"]["sample_predictions"]} <= {"attack", "not_attack"}


def test_rows_without_the_text_column_are_refused(content_model):
    res = make_predictions({**CONTENT, "predict_rows": [{"other": 1}]}, trained=content_model["model"])
    assert res["status"] != SUCCESS and "http_request" in res["err"]


def test_a_tampered_content_artifact_is_refused(content_model, tmp_path):
    store = ModelStore(tmp_path / "s")
    store.save(content_model["model"], "tamper")
    artifact = store.path("tamper") / "artifact-request-content.json"
    data = json.loads(artifact.read_text())
    data["idf"][0] = 99.0
    artifact.write_text(json.dumps(data))
    with pytest.raises(DamagedModelError, match="do not match"):
        store.load("tamper")


def test_a_content_artifact_that_is_no_encoder_is_a_clear_error(content_model):
    import dataclasses

    broken = dataclasses.replace(content_model["model"], artifacts={"request-content": {"format": 9}})
    res = make_predictions({**CONTENT, "predict_rows": rows("curl")}, trained=broken)
    assert res["status"] != SUCCESS and "request-content" in res["err"], res["err"]


def test_sequence_model_trains_and_reloads_identically(sequence_model, store, dataset):
    import pandas as pd

    trained = sequence_model["model"]
    assert trained.sequence and trained._dense_layers() is None  # through Keras
    kinds = [type(layer).__name__ for layer in trained.model.layers]
    assert kinds[:2] == ["Embedding", "Conv1D"] and "GlobalMaxPooling1D" in kinds
    df = pd.read_csv(dataset)
    before = trained.predict_raw(df)
    again = store.load("Sequence-Test")
    np.testing.assert_allclose(again.predict_raw(df), before, atol=1e-6)
    assert again.content.spec.max_len == 128
    assert sequence_model["data"]["metrics"]["test_rows"] == 60


def test_recurrent_sequence_model(tmp_path):
    # recurrent layers are slow on a CPU: a few rows of a few bytes say that they build, train and store
    body = {**SEQUENCE, "label": "GRU-Test", "epochs": 1, "content": {"encoding": "bytes", "max_len": 24},
            "predict_rows": request_frame(60, seed=2).to_dict("records"),
            "model_desc": {"layers": [{"layer_type": "embedding", "output_dim": 4},
                                      {"layer_type": "bidirectional", "layer": {"layer_type": "gru", "units": 4}},
                                      {"num_neurons": 1, "activation": "sigmoid"}]}}
    store = ModelStore(tmp_path)
    res = make_predictions(body, store=store)
    assert res["status"] == SUCCESS, res["err"]
    assert [type(layer).__name__ for layer in store.load("GRU-Test").model.layers][1] == "Bidirectional"


def test_a_lambda_layer_in_a_stored_sequence_model_is_refused(sequence_model, tmp_path):
    import keras

    store = ModelStore(tmp_path / "evil")
    store.save(sequence_model["model"], "evil")
    marker = tmp_path / "pwned"
    inputs = keras.Input((128,), dtype="int32")
    embedded = keras.layers.Embedding(257, 4)(inputs)
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').write('x'), x)[1]")  # noqa: S307 (the test's own code)
    evil = keras.layers.Lambda(payload)(embedded)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalMaxPooling1D()(evil))
    path = store.path("evil")
    keras.Model(inputs, out).save(path / "model.keras")
    meta = json.loads((path / "meta.json").read_text())
    (path / "checksum.sha256").write_text(_digest(*_meta_files(path, meta)) + "\n")
    marker.unlink(missing_ok=True)  # building the model above called the lambda once
    with pytest.raises(ModelStoreError, match="refused"):
        store.load("evil")
    assert not marker.exists()


def test_threshold_is_stored_and_used(dataset, tmp_path):
    import pandas as pd

    store = ModelStore(tmp_path)
    res = make_predictions({**CONTENT, "label": "Threshold-Test", "threshold": 0.9, "epochs": 2,
                            "dataset": str(dataset)}, store=store)
    assert res["status"] == SUCCESS, res["err"]
    again = store.load("Threshold-Test")
    assert again.threshold == 0.9
    df = pd.read_csv(dataset)
    out = again.predict_raw(df)
    np.testing.assert_array_equal(again.decode(out), (out[:, 0] >= 0.9).astype(float))


def test_conflicting_attack_rows_are_left_out_of_training(dataset, tmp_path):
    """``content.conflicts: drop``: an attack row that repeats a normal request (other headers) is not trained
    on, the metrics say how many, and a class made only of such rows is refused naming the field."""
    import pandas as pd

    from antinex.utils.request import RequestError, parse_request
    from antinex.utils.train import train

    df = pd.read_csv(dataset)
    normal = df[df["label_value"] == 0].head(20).copy()
    normal["label_value"] = 1  # the same requests, labelled attacks: every one conflicts
    mixed = pd.concat([df, normal], ignore_index=True)
    body = {**CONTENT, "epochs": 1, "content": {**CONTENT["content"], "conflicts": "drop"}}
    kept = train(parse_request({**body, "content": CONTENT["content"]}), mixed)
    dropped = train(parse_request(body), mixed)
    assert "dropped_conflicts" not in kept.metrics
    # those of them whose normal twin is in the training split too
    assert 5 <= dropped.metrics["dropped_conflicts"] <= 20
    assert dropped.metrics["train_rows"] == kept.metrics["train_rows"] - dropped.metrics["dropped_conflicts"]
    assert dropped.metrics["test_rows"] == kept.metrics["test_rows"]  # the held-out rows keep them
    with pytest.raises(RequestError) as err:
        one = df[df["label_value"] == 0].head(1)  # attacks that all repeat one request normal rows send too
        attacks = pd.concat([one] * 10).assign(label_value=1)
        train(parse_request(body), pd.concat([df[df["label_value"] == 0], pd.concat([one] * 10), attacks],
                                             ignore_index=True))
    assert err.value.field == "content.conflicts"
