"""Datasets the product ships (the default training set recorded with the dataset lab)."""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_DIR = DATA_DIR / "default"
DEFAULT_REQUEST = DEFAULT_DIR / "request.json"
DEFAULT_TRAIN = DEFAULT_DIR / "train.csv.gz"
