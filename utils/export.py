"""CSV export that spreadsheets cannot turn into formulas."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    """Prefix a quote to text starting with = + - @ (formula injection), except numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(value):
        return "'" + value
    return value


def write_safe_csv(rows: list[dict] | pd.DataFrame, path: str | Path) -> Path:
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows)
    df = df.map(neutralise)
    df.columns = [neutralise(c) for c in df.columns]
    df.to_csv(path, index=False)
    return Path(path)
