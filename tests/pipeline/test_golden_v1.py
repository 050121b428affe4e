"""The golden pair: the original JSON packet archive flattens to the CSV beside it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from antinex.pipeline.flatten import flatten_message, rows_to_frame

GOLDEN = "network-pipeline-datasets/django/packets-netdata-2018-01-28-23-06-05.json"
GOLDEN_CSV = "network-pipeline-datasets/django/netdata-2018-01-28-23-06-05.csv"


def test_archive_flattens_to_the_csv_with_zero_differing_cells(antinex_data, tmp_path):
    archive = json.loads((antinex_data / GOLDEN).read_text())
    rows = [flatten_message(p["data"]) for p in archive["packets"]]
    ours = rows_to_frame(rows, mode="v1")
    out = tmp_path / "ours.csv"
    ours.to_csv(out, index=False)
    expected = pd.read_csv(antinex_data / GOLDEN_CSV, dtype=str, keep_default_na=False)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns) == list(expected.columns)
    assert got.shape == expected.shape == (1100, 30)
    # compare as numbers where both parse (3269735087 vs 3269735087.0), else as text
    differing = 0
    for col in expected.columns:
        a, b = expected[col], got[col]
        na, nb = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        numeric = na.notna() & nb.notna()
        differing += int((numeric & ~np.isclose(na.fillna(0), nb.fillna(0), rtol=0, atol=0)).sum())
        differing += int((~numeric & (a != b)).sum())
    assert differing == 0
