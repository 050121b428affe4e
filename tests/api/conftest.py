from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bodies import original_body
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
    return original_body(dataset, label, **over)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("api"), core_redis=redis_url("api_core"), with_core=False,
                   tmp_path=tmp_path_factory.mktemp("api-stack"),
                   extra_env={"ANTINEX_MAX_BODY_BYTES": "2000000"}) as s:
        write_dataset(s.datasets_dir / "train.csv")
        yield s
