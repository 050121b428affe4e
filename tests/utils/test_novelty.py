"""The novelty detector: fitted on normal rows only, it flags rows unlike them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from antinex.utils.novelty import NoveltyDetector


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


def test_frozen_detector_scores_exactly_as_scikit_learn_and_loads_without_pickle(tmp_path):
    from antinex.utils.novelty import FrozenNoveltyDetector

    rows = normal_rows(2000, seed=5)
    det = NoveltyDetector(contamination=0.02, n_estimators=50, random_state=1).fit(rows)
    probe = pd.concat([normal_rows(500, seed=6), pd.DataFrame({"payload_len": [3000, np.nan],
                                                               "payload_n_quote": [9, 0],
                                                               "http_query_len": [400, np.inf]})])
    frozen = FrozenNoveltyDetector.from_detector(det)
    assert np.allclose(frozen.score_samples(probe), det.score_samples(probe), rtol=0, atol=1e-12)
    assert np.array_equal(frozen.predict(probe), det.predict(probe))
    frozen.save(tmp_path / "novelty.npz")
    loaded = FrozenNoveltyDetector.load(tmp_path / "novelty.npz")
    assert np.array_equal(loaded.predict(probe), det.predict(probe))
    # a file carrying a pickled object is refused by np.load(allow_pickle=False), never executed
    np.savez(tmp_path / "evil.npz", **{**frozen.a, "left": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        FrozenNoveltyDetector.load(tmp_path / "evil.npz")
