"""Run every benchmark, write ``bench/results.json`` and the table in ``bench/README.md``.

Each ``bench/bench_*.py`` module exposes ``run(quick: bool = False) -> list[dict]``
whose rows carry ``name``, ``value``, ``unit``, ``baseline_name``,
``baseline_value``, ``ratio`` and ``notes``. A baseline is always measured in
the same run on the same machine, because these machines are shared and
noisy: only the ratios are comparable between runs.

Usage: ``python -m bench.run_all [--quick] [--only flatten,core]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
README = HERE / "README.md"
BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def discover() -> list[str]:
    """Names of the benchmark modules, e.g. ``["core", "flatten"]``."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run_module(name: str, quick: bool) -> list[dict]:
    mod = importlib.import_module(f"bench.bench_{name}")
    rows = mod.run(quick=quick)
    for row in rows:
        row.setdefault("module", name)
    return rows


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | value | baseline (same run) | ratio | notes |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        base = f"{r.get('baseline_name') or '–'}: {fmt(r.get('baseline_value'))} {r.get('unit', '')}"
        lines.append(
            f"| {r['name']} | {fmt(r.get('value'))} {r.get('unit', '')} | {base} "
            f"| {fmt(r.get('ratio'))} | {r.get('notes', '')} |"
        )
    return "\n".join(lines)


def write_readme(rows: list[dict], meta: dict) -> None:
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    block = (
        f"{BEGIN}\n_Last run: {meta['finished']} on {meta['machine']} "
        f"({meta['cpus']} CPUs), quick={meta['quick']}._\n\n{table(rows)}\n{END}"
    )
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text += "\n" + block + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--only", default="", help="comma-separated module names (default: all)")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or discover()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    rows: list[dict] = []
    failures: dict[str, str] = {}
    for name in names:
        print(f"== bench {name}", flush=True)
        try:
            got = run_module(name, args.quick)
        except Exception:  # one broken benchmark must not hide the others
            failures[name] = traceback.format_exc()
            print(failures[name], file=sys.stderr)
            continue
        for r in got:
            print(f"   {r['name']}: {fmt(r.get('value'))} {r.get('unit', '')} ratio={fmt(r.get('ratio'))}")
        rows.extend(got)
    if args.only and RESULTS.exists():
        # a partial run keeps the other modules' last figures
        previous = json.loads(RESULTS.read_text()).get("results", [])
        rows = [r for r in previous if r.get("module") not in names] + rows
        rows.sort(key=lambda r: r.get("module", ""))
    meta = {
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.node() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "failures": failures,
    }
    RESULTS.write_text(json.dumps({"meta": meta, "results": rows}, indent=2, default=str) + "\n")
    write_readme(rows, meta)
    print(f"wrote {RESULTS} and {README}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
