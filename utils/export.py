"""CSV export that spreadsheets cannot turn into formulas."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# What a spreadsheet skips before it looks for a formula (OWASP "CSV injection"):
# whitespace, control and invisible format characters; then the characters that
# start a formula or a DDE command, in ASCII and in their full-width forms.
_FORMULA_START = re.compile(
    r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*"
    r"[=+\-@|\uff1d\uff0b\uff0d\uff20\uff5c]")


def neutralise(value: Any) -> Any:
    """Prefix a quote to text a spreadsheet could run as a formula; numbers such as -1.5 stay numbers.

    That is text starting with a tab, CR or LF, or whose first visible
    character is = + - @ | (or ＝ ＋ － ＠ ｜).
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r\n":
        return "'" + value
    start = _FORMULA_START.match(value)
    if start and not _NUMBER.fullmatch(value, start.end() - 1):
        return "'" + value
    return value


def write_safe_csv(rows: list[dict] | pd.DataFrame, path: str | Path) -> Path:
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows)
    df = df.map(neutralise)
    df.columns = [neutralise(c) for c in df.columns]
    df.to_csv(path, index=False)
    return Path(path)
