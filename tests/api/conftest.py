from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import redis_url


def write_dataset(path, n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({"idx": np.arange(n), "tcp_dport": np.where(y == 1, 8080, 80) + rng.integers(0, 3, n),
                       "ip_len": rng.integers(40, 1500, n),
                       "payload_n_quote": np.where(y == 1, rng.integers(2, 9, n), 0),
                       "label_value": y})
    df.to_csv(path, index=False)
    return path


def job_body(dataset: str, label: str = "Api-Test-DNN", **over) -> dict:
    body = {
        "label": label, "dataset": dataset, "ml_type": "classification", "predict_feature": "label_value",
        "features_to_process": ["tcp_dport", "ip_len", "payload_n_quote"], "ignore_features": [],
        "sort_values": [], "seed": 42, "test_size": 0.25, "batch_size": 32, "epochs": 3, "num_splits": 2,
        "loss": "binary_crossentropy", "optimizer": "adam", "metrics": ["accuracy"],
        "histories": ["val_loss", "val_acc", "loss", "acc"],
        "model_desc": {"layers": [{"num_neurons": 8, "init": "uniform", "activation": "relu"},
                                  {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"}]},
        "label_rules": {"labels": ["not_attack", "attack"], "label_values": [0, 1]}, "version": 1,
    }
    body.update(over)
    return body


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("api"), core_redis=redis_url("api_core"), with_core=False,
                   tmp_path=tmp_path_factory.mktemp("api-stack"),
                   extra_env={"ANTINEX_MAX_BODY_BYTES": "2000000"}) as s:
        write_dataset(s.datasets_dir / "train.csv")
        yield s
