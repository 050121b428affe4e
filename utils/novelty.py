"""Novelty detection: flag rows unlike any normal traffic seen in training.

A supervised detector learns the attacks it was shown; an attack tool it
never saw can look like nothing it knows and pass. A novelty detector is
fitted on normal rows only, so it has no attack to overfit to: whatever is
far from normal traffic is flagged. Used beside the supervised detector
(flag when either says attack), it catches part of what the supervised one
misses; see docs/dataset-lab.md for the measured effect.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_is_fitted


class NoveltyDetector(BaseEstimator):
    """Min-max scaling and an isolation forest, fitted on normal rows.

    ``contamination`` is the share of *normal* training rows the forest may
    call novel: it sets the false-positive rate the detector aims at.
    ``predict`` returns 1 for novel rows (treat as attack), 0 otherwise.
    """

    def __init__(self, contamination: float = 0.01, n_estimators: int = 200, random_state: int | None = 0,
                 missing_value: float = -1.0):
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.missing_value = missing_value

    def _matrix(self, x) -> np.ndarray:
        if isinstance(x, pd.DataFrame):
            x = x.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        x = np.array(x, dtype=np.float64)
        x[~np.isfinite(x)] = self.missing_value
        return x

    def fit(self, x_normal, y=None) -> "NoveltyDetector":
        """Fit on normal rows only (``y`` is ignored: there are no attacks to learn)."""
        x = self._matrix(x_normal)
        if len(x) < 2:
            raise ValueError("a novelty detector needs at least two normal rows")
        self.scaler_ = MinMaxScaler().fit(x)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                       random_state=self.random_state).fit(self.scaler_.transform(x))
        return self

    def score_samples(self, x) -> np.ndarray:
        """Higher is more normal (the isolation forest's score)."""
        check_is_fitted(self, "forest_")
        return self.forest_.score_samples(self.scaler_.transform(self._matrix(x)))

    def predict(self, x) -> np.ndarray:
        """1 where a row is novel, 0 where it looks like the normal training rows."""
        check_is_fitted(self, "forest_")
        return (self.forest_.predict(self.scaler_.transform(self._matrix(x))) == -1).astype(int)
