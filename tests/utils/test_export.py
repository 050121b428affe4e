"""utils/export.py: no cell of an exported CSV can start a spreadsheet formula (OWASP CSV injection)."""
from __future__ import annotations

import csv

import pytest

from antinex.utils.export import neutralise, write_safe_csv

FORMULAS = [
    "=1+1", "+1+1", "-1+1", "@SUM(A1)", "=HYPERLINK(\"http://x\")",
    # what a spreadsheet skips before the formula character
    " =1+1", "   @SUM(A1)", "\n=1+1", "\r=1+1", "\t=1+1", "\x00=1+1", "\x0b+1+1", "\u00a0=1+1", "\u3000=1+1",
    "\u200b=1+1", "\ufeff=1+1",
    # full-width forms
    "\uff1d1+1", "\uff0b1+1", "\uff0d1+1", "\uff20SUM(A1)", " \uff1d1+1",
    # DDE commands
    "|calc", " |calc", "\uff5ccalc", "=cmd|' /C calc'!A0", "@cmd|' /C calc'!A0",
    # a leading tab, CR or LF is refused whatever follows
    "\t1", "\rplain", "\nplain",
]
KEPT = ["plain", "1+1", "a=b", "x|y", "-1.5", "+3", "1e-5", "-.5", "  -1.5", "42", "", "'=already quoted"]


@pytest.mark.parametrize("cell", FORMULAS, ids=repr)
def test_formula_cells_get_a_leading_quote(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", KEPT, ids=repr)
def test_text_and_numbers_stay_as_they_are(cell):
    assert neutralise(cell) == cell


@pytest.mark.parametrize("value", [-1, 2.5, None, True])
def test_non_text_values_pass_through(value):
    assert neutralise(value) is value


def test_written_csv_neutralises_cells_and_headers(tmp_path):
    path = write_safe_csv([{" =h": "\uff1d1+1", "n": "-1.5", "cmd": "=cmd|' /C calc'!A0"}], tmp_path / "out.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["' =h", "n", "cmd"], ["'\uff1d1+1", "-1.5", "'=cmd|' /C calc'!A0"]]
