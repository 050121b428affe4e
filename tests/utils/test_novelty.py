"""The novelty detector: fitted on normal rows only, it flags rows unlike them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from utils.novelty import NoveltyDetector


def normal_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"payload_len": rng.normal(300, 40, n), "payload_n_quote": rng.poisson(0.2, n),
                         "http_query_len": rng.normal(20, 5, n)})


def test_flags_what_normal_traffic_never_looks_like():
    det = NoveltyDetector(contamination=0.01).fit(normal_rows(3000, seed=1))
    held_out = normal_rows(2000, seed=2)
    assert det.predict(held_out).mean() < 0.03  # about the contamination asked for
    odd = pd.DataFrame({"payload_len": [300, 2900, 310], "payload_n_quote": [0, 9, 14], "http_query_len": [20, 400, 21]})
    assert det.predict(odd).tolist() == [0, 1, 1]
    assert det.score_samples(odd)[0] > det.score_samples(odd)[1]


def test_missing_values_estimator_api_and_determinism():
    rows = normal_rows(500, seed=3)
    a = NoveltyDetector(random_state=4).fit(rows)
    b = clone(a).fit(rows)  # scikit-learn's estimator contract: clonable, same params → same model
    probe = rows.head(50).assign(payload_len=[np.nan] * 25 + [np.inf] * 25)
    assert np.array_equal(a.predict(probe), b.predict(probe))
    assert a.get_params()["contamination"] == 0.01
    with pytest.raises(NotFittedError):
        NoveltyDetector().predict(rows)
    with pytest.raises(ValueError, match="two normal rows"):
        NoveltyDetector().fit(rows.head(1))
