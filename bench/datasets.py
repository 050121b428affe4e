"""Benchmark datasets made on the fly (nothing is downloaded).

``django_like(n_rows=30_200)`` has the shape of the original Full-Django
training file: the 67 feature columns of ``cleaned_v1_django_metadata.json``
plus ``label_value`` (9,000 attack rows out of 30,200), values drawn from a
seeded generator so every run sees the same rows. It is a stand-in for the
original file, which is not public: the figures measure speed and compare
accuracy against a baseline trained on the very same rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import columns


def django_like(n_rows: int = 30_200, seed: int = 42) -> pd.DataFrame:
    """A 67-feature classification set shaped like the original's."""
    rng = np.random.default_rng(seed)
    features = list(columns.FULL_DJANGO_FEATURES)
    n_attack = round(n_rows * 9_000 / 30_200)
    y = np.zeros(n_rows, dtype=np.int64)
    y[:n_attack] = 1
    rng.shuffle(y)
    data = np.full((n_rows, len(features)), -1.0)
    informative = rng.choice(len(features), size=12, replace=False)
    for j in range(len(features)):
        col = rng.integers(0, 65_536, size=n_rows).astype(float)
        if j in informative:
            # attack rows concentrate in a different range of the column
            shift = rng.uniform(0.2, 0.6) * 65_536
            col = np.where(y == 1, (col * 0.35 + shift) % 65_536, col)
        sparse = rng.random(n_rows) < 0.4
        data[:, j] = np.where(sparse & (j not in informative), -1.0, col)
    df = pd.DataFrame(data, columns=features)
    df["label_value"] = y
    # a little label noise so nothing is trivially perfect
    flip = rng.random(n_rows) < 0.001
    df.loc[flip, "label_value"] = 1 - df.loc[flip, "label_value"]
    return df


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path
