"""Novelty detection: flag rows unlike any normal traffic seen in training.

A supervised detector learns the attacks it was shown; an attack tool it
never saw can look like nothing it knows and pass. A novelty detector is
fitted on normal rows only, so it has no attack to overfit to: whatever is
far from normal traffic is flagged. Used beside the supervised detector
(flag when either says attack), it catches part of what the supervised one
misses; see docs/dataset-lab.md for the measured effect.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_is_fitted


def _as_matrix(x, missing_value: float) -> np.ndarray:
    """Rows as a fresh float64 matrix, with missing and non-finite cells set to ``missing_value``."""
    if isinstance(x, pd.DataFrame):
        x = x.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    x[~np.isfinite(x)] = missing_value
    return x


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
        return _as_matrix(x, self.missing_value)

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


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """Average path length of an unsuccessful search in a binary tree of ``n`` points (the forest's c(n))."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


SCORE_BLOCK_ROWS = 1024


class FrozenNoveltyDetector:
    """A fitted :class:`NoveltyDetector` as plain arrays: saved and loaded without pickle.

    Holds every tree as node arrays (children, split feature, threshold, and
    the path length a row adds when it ends in that node) and scores rows in
    numpy exactly as scikit-learn does: rows compared as float32, as
    scikit-learn's trees compare them. ``save`` writes one ``.npz`` that
    ``load`` reads with ``allow_pickle=False``, so loading never runs code.
    """

    ARRAYS = ("left", "right", "feature", "threshold", "leaf_term", "tree_offsets", "tree_features",
              "feature_offsets", "scale", "min", "scalars")

    def __init__(self, arrays: dict[str, np.ndarray]):
        missing = [k for k in self.ARRAYS if k not in arrays]
        if missing:
            raise ValueError(f"novelty arrays missing: {', '.join(missing)}")
        self.a = {k: np.asarray(arrays[k]) for k in self.ARRAYS}
        self.missing_value, self.denominator, self.offset = (float(v) for v in self.a["scalars"])

    @classmethod
    def from_detector(cls, det: NoveltyDetector) -> "FrozenNoveltyDetector":
        check_is_fitted(det, "forest_")
        forest = det.forest_
        parts: dict[str, list] = {k: [] for k in ("left", "right", "feature", "threshold", "leaf_term")}
        offsets, features, feature_offsets = [0], [], [0]
        for tree, feats in zip(forest.estimators_, forest.estimators_features_):
            t = tree.tree_
            parts["left"].append(t.children_left)
            parts["right"].append(t.children_right)
            parts["feature"].append(t.feature)
            parts["threshold"].append(t.threshold)
            # what a row ending in each node adds to its depth sum (scikit-learn's formula)
            parts["leaf_term"].append(t.compute_node_depths() + _average_path_length(t.n_node_samples) - 1.0)
            offsets.append(offsets[-1] + t.node_count)
            features.append(np.asarray(feats))
            feature_offsets.append(feature_offsets[-1] + len(feats))
        denominator = len(forest.estimators_) * float(_average_path_length(np.array([forest.max_samples_]))[0])
        return cls({
            **{k: np.concatenate(v) for k, v in parts.items()},
            "tree_offsets": np.array(offsets), "tree_features": np.concatenate(features),
            "feature_offsets": np.array(feature_offsets),
            "scale": det.scaler_.scale_, "min": det.scaler_.min_,
            "scalars": np.array([det.missing_value, denominator, forest.offset_], dtype=np.float64),
        })

    def _matrix(self, x) -> np.ndarray:
        return (_as_matrix(x, self.missing_value) * self.a["scale"] + self.a["min"]).astype(np.float32)

    def score_samples(self, x) -> np.ndarray:
        """Higher is more normal; equal to the fitted detector's ``score_samples``.

        Every tree is walked at once, one tree level per step: a (rows ×
        trees) matrix of current nodes, so the Python loop runs as many
        times as the trees are deep (about 9), not once per tree.
        """
        x = self._matrix(x)
        if len(x) == 0:
            return np.zeros(0)
        if self.denominator == 0:
            return -np.ones(len(x))
        # blocks of rows keep the (rows × trees) matrices small enough for the CPU cache
        return np.concatenate([self._scores(x[i:i + SCORE_BLOCK_ROWS]) for i in range(0, len(x), SCORE_BLOCK_ROWS)])

    def _scores(self, x: np.ndarray) -> np.ndarray:
        a = self.a
        n_trees = len(a["tree_offsets"]) - 1
        # each tree's split features index into its own feature subset: map them to columns of x
        width = np.diff(a["feature_offsets"])
        node_tree = np.repeat(np.arange(n_trees), np.diff(a["tree_offsets"]))
        safe_feature = np.where(a["feature"] >= 0, a["feature"], 0)
        column = a["tree_features"][a["feature_offsets"][node_tree] + np.minimum(safe_feature, width[node_tree] - 1)]
        node = np.broadcast_to(a["tree_offsets"][:-1], (len(x), n_trees)).copy()  # global node ids
        rows = np.arange(len(x))[:, None]
        while True:
            left = a["left"][node]
            inner = left != -1
            if not inner.any():
                break
            go_left = x[rows, column[node]] <= a["threshold"][node]
            base = a["tree_offsets"][:-1][None, :]
            step = np.where(go_left, left, a["right"][node])
            node = np.where(inner, base + step, node)
        depths = a["leaf_term"][node].sum(axis=1)
        return -(2.0 ** (-depths / self.denominator))

    def predict(self, x) -> np.ndarray:
        """1 where a row is novel, 0 otherwise (as the fitted detector's ``predict``)."""
        return (self.score_samples(x) - self.offset < 0).astype(int)

    def save(self, path: str | Path) -> None:
        np.savez(path, **self.a)

    @classmethod
    def load(cls, path: str | Path) -> "FrozenNoveltyDetector":
        with np.load(path, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})
