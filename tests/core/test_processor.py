"""The core's cache and processor in-process, with real Keras and a real store."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bodies import ml_body
from antinex.core.model_cache import ModelCache
from antinex.core.processor import Processor, result_node


def body(dataset, label, **over):
    return ml_body(label, dataset, hidden=4, **{"seed": 1, **over})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    df = pd.DataFrame({"f1": y * 2 + rng.normal(0, 0.2, 120), "f2": rng.normal(size=120), "label_value": y})
    path = tmp_path_factory.mktemp("core") / "d.csv"
    df.to_csv(path, index=False)
    return path


def test_lru_cache_evicts_least_recently_used():
    cache = ModelCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    assert cache.put("c", "C") == ["b"]
    assert cache.keys() == ["a", "c"] and cache.evictions == 1
    with pytest.raises(ValueError):
        ModelCache(0)


def test_processor_trains_reuses_evicts_and_reloads(tmp_path, dataset):
    proc = Processor(tmp_path / "store", max_models=2)
    for label in ("A", "B", "C"):
        data = proc.handle(body(dataset, label), "train")
        assert data["status"] == 0 and data["model_source"] == "trained", data.get("err")
    assert proc.cache.keys() == ["b", "c"]
    again = proc.handle(body(dataset, "c"), "predict")
    assert again["model_source"] == "memory" and again["trained"] is False
    back = proc.handle(body(dataset, "A"), "predict")
    assert back["model_source"] == "store"  # evicted from memory, served from the store
    assert proc.trained_count == 3
    first = proc.handle(body(dataset, "brand-new"), "predict")
    assert first["model_source"] == "trained"  # exists nowhere: trained on the request


def test_processor_reports_bad_requests(tmp_path, dataset):
    proc = Processor(tmp_path / "store", max_models=2)
    assert proc.handle("garbage", "train")["status"] != 0
    bad = proc.handle(body(dataset, "x", features_to_process=["nope"]), "train")
    assert bad["status"] != 0 and "nope" in bad["err"]
    assert proc.handle({"label": "x"}, "predict")["status"] != 0
    assert len(proc.cache) == 0


def test_result_node_lookup():
    node = {"task_name": "t", "auth_url": "redis://x/1"}
    assert result_node({"manifest": {"worker_result_node": node}}) == node
    assert result_node({"worker_result_node": node}) == node
    assert result_node({"manifest": "bad"}) is None and result_node([1]) is None


def test_a_model_retrained_elsewhere_is_reloaded(tmp_path, dataset):
    """Two processes share a store: the one holding the model in memory notices a newer save."""
    predictor, trainer = Processor(tmp_path / "store"), Processor(tmp_path / "store")
    first = trainer.handle(body(dataset, "Shared"), "train")
    assert first["status"] == 0, first.get("err")
    assert predictor.store.version("Shared") == first["model_ref"]["checksum"]
    assert predictor.handle(body(dataset, "shared"), "predict")["model_source"] == "store"
    assert predictor.handle(body(dataset, "shared"), "predict")["model_source"] == "memory"
    second = trainer.handle(body(dataset, "Shared", seed=2), "train")
    assert second["model_ref"]["checksum"] != first["model_ref"]["checksum"]
    again = predictor.handle(body(dataset, "shared"), "predict")
    assert again["model_source"] == "store" and again["model_ref"]["checksum"] == second["model_ref"]["checksum"]
    assert predictor.handle(body(dataset, "shared"), "predict")["model_source"] == "memory"
    assert predictor.store.version("never-saved") is None


def test_a_predict_only_processor_never_trains(tmp_path, dataset):
    from antinex.core.processor import NeedsTraining

    proc = Processor(tmp_path / "store")
    with pytest.raises(NeedsTraining):
        proc.handle(body(dataset, "nowhere"), "predict", train_missing=False)
    assert proc.trained_count == 0 and not proc.store.exists("nowhere")
