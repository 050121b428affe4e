"""Append-only CSV files with a fixed column set, rotated by row count."""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from antinex.pipeline.columns import DEFAULT_COLUMNS
from antinex.utils.export import neutralise


class RotatingCSV:
    """Rows appended to ``<dir>/<name>-<n>.csv``; a new file after ``max_rows``.

    The header is written once per file and the columns never change inside
    a file, so appends stay aligned. Existing files are never rewritten: a
    restart continues with the next file number.
    """

    def __init__(self, directory: str | Path, name: str, columns: tuple[str, ...] = DEFAULT_COLUMNS,
                 max_rows: int = 100_000, fsync_every: float = 0.2):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name, self.columns, self.max_rows = name, list(columns), max_rows
        existing = sorted(self.dir.glob(f"{name}-*.csv"))
        self.number = 1 + max((int(p.stem.rsplit("-", 1)[1]) for p in existing if p.stem.rsplit("-", 1)[1].isdigit()),
                              default=0)
        self.rows_in_file = 0
        self.total = 0
        # rows reach the OS on every write (a killed process loses nothing);
        # fsync, against power loss, runs at most every fsync_every seconds
        self.fsync_every = fsync_every
        self._synced = time.monotonic()
        self._fh = None
        self._writer = None

    @property
    def path(self) -> Path:
        return self.dir / f"{self.name}-{self.number:05d}.csv"

    def _open(self) -> None:
        self._fh = open(self.path, "a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self.rows_in_file = 0

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            if self._fh is None:
                self._open()
            row = {**row, "idx": self.total}
            self._writer.writerow({k: neutralise(v) for k, v in row.items()})
            self.rows_in_file += 1
            self.total += 1
            if self.rows_in_file >= self.max_rows:
                self.close()
                self.number += 1
        self.flush()

    def flush(self, sync: bool = False) -> None:
        if self._fh is not None:
            self._fh.flush()
            if sync or time.monotonic() - self._synced >= self.fsync_every:
                os.fsync(self._fh.fileno())
                self._synced = time.monotonic()

    def close(self) -> None:
        if self._fh is not None:
            self.flush(sync=True)
            self._fh.close()
            self._fh = None
