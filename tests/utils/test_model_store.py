"""Save/load round trip, checksum, confinement, fast forward pass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from antinex.utils.make_predictions import make_predictions
from antinex.utils.model_store import DamagedModelError, ModelStore, ModelStoreError

from .conftest import separable


@pytest.fixture(scope="module")
def trained_and_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    data = root / "d.csv"
    separable(300, seed=9).to_csv(data, index=False)
    store = ModelStore(root / "models")
    res = make_predictions({
        "label": "Round-Trip", "dataset": str(data), "epochs": 3, "seed": 4,
        "features_to_process": ["tcp_dport", "ip_len", "ratio"],
        "model_desc": {"layers": [{"num_neurons": 12, "activation": "relu"},
                                  {"layer_type": "dropout", "rate": 0.1},
                                  {"num_neurons": 1, "activation": "sigmoid"}]},
    }, store=store)
    assert res["status"] == 0, res["err"]
    return res, store


def test_round_trip_gives_identical_predictions(trained_and_store):
    res, store = trained_and_store
    trained = res["model"]
    loaded = store.load("round-trip ")  # the key is the stripped, lower-cased label
    df = separable(500, seed=11)
    assert np.array_equal(loaded.predict_raw(df), trained.predict_raw(df))
    assert loaded.features == trained.features
    assert loaded.metrics["accuracy"] == trained.metrics["accuracy"]
    assert res["data"]["model_ref"]["checksum"] == loaded.model_ref["checksum"]


def test_fast_path_matches_keras(trained_and_store):
    trained = trained_and_store[0]["model"]
    x = trained.transform(separable(1000, seed=12))
    keras_out = trained.model.predict(x, verbose=0)
    assert np.abs(trained.forward(x) - keras_out).max() < 1e-5


def test_folded_scaling_matches_keras_across_blocks(trained_and_store, monkeypatch):
    """predict_raw folds the input scaling into the first layer and runs in row blocks: same outputs."""
    from antinex.utils import trained_model

    trained = trained_and_store[0]["model"]
    df = separable(1000, seed=13)
    keras_out = trained.model.predict(trained.transform(df), verbose=0)
    monkeypatch.setattr(trained_model, "FORWARD_BLOCK_ROWS", 96)  # 1000 rows: 10 full blocks and a partial one
    out = trained.predict_raw(df)
    assert out.shape == keras_out.shape and out.dtype == np.float32
    assert np.abs(out - keras_out).max() < 1e-5
    assert np.abs(trained.predict_raw(df.iloc[:1]) - keras_out[:1]).max() < 1e-5


def test_list_and_delete(trained_and_store, tmp_path):
    _, store = trained_and_store
    listed = store.list()
    assert [m["key"] for m in listed] == ["round-trip"]
    assert listed[0]["bytes"] > 0
    other = ModelStore(tmp_path / "s")
    assert other.delete("nothing") is False


def test_tampered_model_is_refused(trained_and_store, tmp_path):
    res, store = trained_and_store
    copy = ModelStore(tmp_path / "copy")
    copy.save(res["model"], "tamper")
    meta = copy.path("tamper") / "meta.json"
    meta.write_text(meta.read_text().replace('"ml_type": "classification"', '"ml_type": "regression"'))
    with pytest.raises(ModelStoreError, match="checksum"):
        copy.load("tamper")


@pytest.mark.parametrize("name", ["../evil", "..", "/"])
def test_names_cannot_escape(tmp_path, name):
    store = ModelStore(tmp_path)
    try:
        path = store.path(name)
    except ModelStoreError:
        return
    assert path.parent == store.root


def test_missing_model(tmp_path):
    with pytest.raises(ModelStoreError, match="no stored model"):
        ModelStore(tmp_path).load("absent")


def test_a_model_file_carrying_code_is_refused_without_running_it(trained_and_store, tmp_path):
    """A .keras with a Lambda layer (Python bytecode inside), even with a valid checksum."""
    import keras

    from antinex.utils.model_store import _digest

    res, _ = trained_and_store
    store = ModelStore(tmp_path / "evil")
    store.save(res["model"], "evil")
    marker = tmp_path / "pwned"
    n = len(res["model"].features)
    inputs = keras.Input((n,))
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').write('x'), x)[1]")  # noqa: S307 (the test's own code)
    evil = keras.layers.Lambda(payload)(inputs)
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(evil)).save(
        store.path("evil") / "model.keras")
    digest = _digest(store.path("evil") / "model.keras", store.path("evil") / "meta.json")
    (store.path("evil") / "checksum.sha256").write_text(digest + "\n")
    marker.unlink(missing_ok=True)  # building the model above called the lambda once
    with pytest.raises(ModelStoreError, match="refused") as err:
        store.load("evil")
    assert "safe_mode" in str(err.value) or "Lambda" in str(err.value), err.value
    assert not marker.exists()


@pytest.fixture
def entry(trained_and_store, tmp_path) -> tuple[ModelStore, Path]:
    """A healthy copy of the trained model in a store of its own, to damage."""
    res, _ = trained_and_store
    store = ModelStore(tmp_path / "damaged")
    store.save(res["model"], "Damaged-Model")
    return store, store.path("Damaged-Model")


def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _assert_damaged(err, store: ModelStore, *problems: str) -> None:
    text = str(err.value)
    assert isinstance(err.value, DamagedModelError), text
    assert "no stored model" not in text and "File not found" not in text, text
    assert f"the model store entry 'Damaged-Model' ({store.path('Damaged-Model')}) is damaged" in text
    assert "Retrain the model" in text and f"delete {store.path('Damaged-Model')}" in text
    for problem in problems:
        assert problem in text, text


def test_healthy_entry_is_unchanged(entry):
    store, path = entry
    checksum = (path / "checksum.sha256").read_text().strip()
    assert store.exists("Damaged-Model") and store.version("Damaged-Model") == checksum
    assert store.load("damaged-model").model_ref["checksum"] == checksum
    assert not store.exists("absent") and store.version("absent") is None


def test_an_entry_without_its_checksum_is_damaged_not_missing(entry, caplog):
    store, path = entry
    (path / "checksum.sha256").unlink()
    assert store.exists("Damaged-Model")  # so a caller loads it and hears what is wrong
    with caplog.at_level("WARNING", logger="antinex.utils.model_store"):
        assert store.version("Damaged-Model") is None  # nothing to compare: callers retrain
    assert "checksum.sha256 is missing" in caplog.text and "is damaged" in caplog.text
    with pytest.raises(ModelStoreError) as err:
        store.load("Damaged-Model")
    _assert_damaged(err, store, "checksum.sha256 is missing")


def test_a_truncated_model_file_is_damaged(entry):
    store, path = entry
    _truncate(path / "model.keras")
    with pytest.raises(ModelStoreError) as err:
        store.load("Damaged-Model")
    _assert_damaged(err, store, "model.keras is truncated or corrupt", "do not match checksum.sha256")


def test_a_truncated_model_file_whose_checksum_matches_is_damaged(entry):
    """Truncated before its checksum was written: Keras alone said "File not found"."""
    from antinex.utils.model_store import _digest

    store, path = entry
    _truncate(path / "model.keras")
    (path / "checksum.sha256").write_text(_digest(path / "model.keras", path / "meta.json") + "\n")
    with pytest.raises(ModelStoreError) as err:
        store.load("Damaged-Model")
    _assert_damaged(err, store, "model.keras is truncated or corrupt")


def test_a_deleted_file_is_named(entry):
    store, path = entry
    (path / "model.keras").unlink()
    with pytest.raises(ModelStoreError) as err:
        store.load("Damaged-Model")
    _assert_damaged(err, store, "model.keras is missing")


def test_a_new_save_replaces_a_damaged_entry(entry, trained_and_store):
    store, path = entry
    (path / "checksum.sha256").unlink()
    _truncate(path / "model.keras")
    store.save(trained_and_store[0]["model"], "Damaged-Model")
    assert store.load("Damaged-Model").features == trained_and_store[0]["model"].features


def test_artifacts_round_trip_under_the_checksum(trained_and_store, tmp_path):
    """Fitted preprocessing beside the network: saved as JSON, covered by the checksum, never pickle."""
    import dataclasses
    import json

    res, _ = trained_and_store
    store = ModelStore(tmp_path / "models")
    trained = dataclasses.replace(res["model"], artifacts={"content": {"vocab": ["a", "b"], "idf": [1.5, 0.25]},
                                                            "flow-profile": {"max_head_seconds": 2.5}})
    store.save(trained, "with-artifacts")
    loaded = store.load("with-artifacts")
    assert loaded.artifacts == trained.artifacts
    entry = store.path("with-artifacts")
    assert json.loads((entry / "meta.json").read_text())["artifacts"] == ["content", "flow-profile"]
    # changed after the save: the checksum says so, and the store names the file
    (entry / "artifact-content.json").write_text(json.dumps({"vocab": ["evil"], "idf": [9.0]}))
    with pytest.raises(DamagedModelError, match="checksum"):
        store.load("with-artifacts")
    (entry / "artifact-content.json").write_text('{"vocab": [')  # truncated
    with pytest.raises(DamagedModelError, match="artifact-content.json is unreadable"):
        store.load("with-artifacts")
    (entry / "artifact-content.json").unlink()
    with pytest.raises(DamagedModelError, match="artifact-content.json is missing"):
        store.load("with-artifacts")
    with pytest.raises(ModelStoreError, match="not allowed"):
        store.save(dataclasses.replace(trained, artifacts={"../x": {}}), "bad-artifact")
