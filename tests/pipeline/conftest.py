"""Fixtures of the pipeline tests: a stored request model, trained for real (small and quick)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from antinex.utils.cli import default_model_name


@pytest.fixture(scope="session")
def request_model_store(tmp_path_factory) -> Path:
    """A model store holding the quick start's detector under its default name, trained on a sample
    of the shipped dataset (the same request, fewer rows and epochs: seconds, not a minute)."""
    from antinex.utils.data import DEFAULT_REQUEST, DEFAULT_TRAIN
    from antinex.utils.make_predictions import make_predictions
    from antinex.utils.model_store import ModelStore

    root = tmp_path_factory.mktemp("models")
    sample = root.parent / "sample.csv"
    df = pd.read_csv(DEFAULT_TRAIN)
    parts = [g.sample(min(len(g), 4000), random_state=1) for _, g in df.groupby("label_value")]
    pd.concat(parts).to_csv(sample, index=False)
    body = json.loads(DEFAULT_REQUEST.read_text())
    body.update(dataset=str(sample), epochs=4)
    res = make_predictions(body, store=ModelStore(root))
    assert res["status"] == 0, res["err"]
    assert ModelStore(root).exists(default_model_name())
    return root
