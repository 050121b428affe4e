from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from bodies import ml_body

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# the columns of ``separable`` a network learns from (idx and the label columns are not features)
FEATURES = ("tcp_dport", "ip_len", "ratio")
LAYERS = [
    {"num_neurons": 16, "init": "uniform", "activation": "relu"},
    {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"},
]


def separable(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "idx": np.arange(n),
        "tcp_dport": np.where(y == 1, rng.integers(8000, 8100, n), rng.integers(80, 90, n)),
        "ip_len": rng.integers(40, 1500, n),
        "ratio": np.where(y == 1, rng.normal(3, 0.3, n), rng.normal(-3, 0.3, n)),
    })
    df["label_value"] = y
    df["label_name"] = np.where(y == 1, "attack", "not_attack")
    return df


@pytest.fixture
def csv_dataset(tmp_path):
    path = tmp_path / "separable.csv"
    separable().to_csv(path, index=False)
    return path


@pytest.fixture
def base_request(csv_dataset):
    return ml_body("Unit-Test-DNN", csv_dataset, features=FEATURES, ml_type="classification", apply_scaler=True,
                   seed=42, test_size=0.25, batch_size=32, epochs=8, model_desc={"layers": LAYERS})
