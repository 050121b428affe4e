"""A model trained with ``novelty``: novel rows predicted as attacks, stored and reloaded without pickle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bodies import ml_body
from antinex.utils.make_predictions import make_predictions
from antinex.utils.model_store import ModelStore, ModelStoreError
from antinex.utils.request import RequestError, parse_request

from .conftest import FEATURES, LAYERS, separable


def body(df: pd.DataFrame, **over) -> dict:
    return ml_body("novelty-test", features=FEATURES, **{
        "model_desc": {"layers": LAYERS}, "epochs": 8, "batch_size": 32, "novelty": 0.02,
        "predict_rows": df.to_dict("records"), **over})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    df = separable(800, seed=21)
    path = tmp_path_factory.mktemp("nov") / "d.csv"
    df.to_csv(path, index=False)
    store = ModelStore(tmp_path_factory.mktemp("store"))
    res = make_predictions(body(df, dataset=str(path), predict_rows=None), store=store)
    assert res["status"] == 0, res["err"]
    return res, store


def test_novel_rows_become_attacks_and_are_marked(trained):
    res, store = trained
    model = res["model"]
    nov = res["data"]["metrics"]["novelty"]
    assert nov["contamination"] == 0.02 and nov["normal_flagged"] < 0.1 and "combined" in nov
    # a typical normal row, and one at the far corner of every normal feature at once
    odd = pd.DataFrame({"tcp_dport": [85, 89], "ip_len": [700, 1499], "ratio": [-3.0, -1.9], "label_value": [0, 0]})
    assert model.decode(model.predict_raw(odd)).tolist() == [0.0, 0.0]  # the network alone: both normal
    out = make_predictions(body(odd), trained=model)
    rows = out["data"]["sample_predictions"]
    assert [r["_novel"] for r in rows] == [0, 1]
    assert rows[1]["label_value"] == 1 and rows[1]["label_name"] == "attack"
    assert out["data"]["metrics"]["novel_rows"] == 1
    assert model.predict(odd.drop(columns="label_value")).tolist() == [0.0, 1.0]


def test_stored_with_its_checksum_and_reloaded_identically(trained):
    res, store = trained
    path = store.path("novelty-test")
    assert (path / "novelty.npz").is_file()
    loaded = store.load("novelty-test")
    probe = separable(300, seed=22).assign(ip_len=lambda d: d["ip_len"] * np.where(d.index % 7 == 0, 50, 1))
    assert np.array_equal(loaded.novel(probe), res["model"].novel(probe))
    assert np.array_equal(loaded.predict(probe), res["model"].predict(probe))
    (path / "novelty.npz").write_bytes((path / "novelty.npz").read_bytes() + b"x")  # tampered
    with pytest.raises(ModelStoreError, match="checksum"):
        store.load("novelty-test")


@pytest.mark.parametrize("value,reason", [("lots", "must be a number"), (0.9, "between 0 and 0.5"),
                                          (-0.1, "between 0 and 0.5"), (True, "must be a number")])
def test_bad_novelty_values_are_refused(value, reason):
    with pytest.raises(RequestError, match=reason) as exc:
        parse_request({"label": "x", "novelty": value})
    assert exc.value.field == "novelty"


def test_novelty_needs_two_class_classification():
    with pytest.raises(RequestError, match="classification"):
        parse_request({"label": "x", "ml_type": "regression", "novelty": 0.01})
    three = separable(300, seed=4).assign(label_value=lambda d: d.index % 3)
    res = make_predictions(body(three))
    assert res["status"] != 0 and "novelty: needs exactly two classes" in res["err"]
    assert parse_request({"label": "x", "novelty": 0}).novelty is None  # 0 / false: off
