"""The CRS baseline's results: recall and false-positive rate per paranoia level, and ``antinex-lab crs``.

    verdicts, summary = evaluate_crs(df)     # a dataset's http_request column, labels, groups
    print(markdown(summary)); plot(summary, Path("crs_levels.png"))
    side_by_side(verdicts, ours_flagged, labels, groups)   # where the CRS beats a detector, per group

``evaluate_crs`` replays the requests through :mod:`antinex.pipeline.lab.crs`
(ModSecurity v2 + OWASP CRS) and, beside it, judges them with the in-process
libinjection baseline (:mod:`antinex.pipeline.lab.libinjection_baseline`).
See docs/crs-baseline.md.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from antinex.pipeline.http_message import request_from_text
from antinex.pipeline.lab.crs import DEFAULT_THRESHOLD, LEVELS, REFUSED, crs_verdicts

_LABEL_NAMES = {"attack": 1, "not_attack": 0, "normal": 0, "benign": 0}


def labels_of(values: pd.Series, column: str) -> pd.Series:
    """0/1 labels from a column of 0/1 numbers or attack/not_attack names (ValueError naming the column)."""
    if values.isna().any():
        raise ValueError(f"{column}: {int(values.isna().sum())} rows have no label")
    if pd.api.types.is_bool_dtype(values):
        return values.astype(int)
    if not pd.api.types.is_numeric_dtype(values):
        mapped = values.astype(str).str.strip().str.lower().map(_LABEL_NAMES)
        if mapped.isna().any():
            bad = sorted(values[mapped.isna()].astype(str).unique())[:5]
            raise ValueError(f"{column}: labels must be 0/1 or attack/not_attack, got {bad}")
        return mapped.astype(int)
    uniq = set(pd.unique(values))
    if not uniq <= {0, 1}:
        raise ValueError(f"{column}: labels must be 0/1 or attack/not_attack, got {sorted(uniq)[:5]}")
    return values.astype(int)


def _rates(flagged: pd.Series, y: pd.Series) -> dict:
    attacks, benign = int((y == 1).sum()), int((y == 0).sum())
    hit, false = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
    return {"attacks": attacks, "benign": benign, "flagged_attacks": hit, "flagged_benign": false,
            "recall": hit / attacks if attacks else None, "fpr": false / benign if benign else None}


def summarize(verdicts: pd.DataFrame, labels: Sequence[int], groups: Sequence[str] | None = None,
              levels: Sequence[int] | None = None) -> dict:
    """Recall and false-positive rate per level, overall and per group (e.g. per tool or client).

    ``flagged``: CRS's score reached the threshold. ``blocked``: flagged, or
    refused before the CRS's request-body rules ran (by Apache, or by
    ModSecurity's body limits or a body that never arrived whole: a blocking
    deployment would not have passed it on either); reported separately,
    never mixed in silently.
    """
    levels = levels or [int(c[6:-8]) for c in verdicts.columns if c.startswith("crs_pl") and c.endswith("_flagged")]
    y = pd.Series(list(labels), index=verdicts.index).astype(int)
    g = pd.Series(list(groups), index=verdicts.index).astype(str) if groups is not None else None
    out: dict = {"levels": {}, "groups": {}}
    for level in levels:
        flagged = verdicts[f"crs_pl{level}_flagged"].astype(bool)
        refused = verdicts[f"crs_pl{level}_outcome"].isin(REFUSED)
        entry = {"flagged": _rates(flagged, y), "blocked": _rates(flagged | refused, y),
                 "outcomes": verdicts[f"crs_pl{level}_outcome"].value_counts().to_dict()}
        out["levels"][level] = entry
        if g is not None:
            for name in sorted(g.unique()):
                rows = g == name
                out["groups"].setdefault(name, {"label": "attack" if y[rows].mean() >= 0.5 else "not_attack",
                                                "requests": int(rows.sum())})
                out["groups"][name][level] = {"flagged": _rates(flagged[rows], y[rows]),
                                              "blocked": _rates((flagged | refused)[rows], y[rows])}
    return out


def side_by_side(verdicts: pd.DataFrame, flagged: Sequence[bool], labels: Sequence[int],
                 groups: Sequence[str] | None = None, levels: Sequence[int] | None = None) -> pd.DataFrame:
    """A detector's verdicts beside the CRS's on the same requests: where does the CRS beat it?

    One row per group (attack groups: recall; benign groups: false-positive
    rate) and two overall rows; ``crs_pl{L}`` is the CRS's rate at level L
    and ``crs_better_pl{L}`` says the CRS caught more attacks, or flagged
    fewer benign requests, than the detector. ``flagged`` is aligned with
    ``verdicts`` (the detector's verdict per request).
    """
    levels = levels or [int(c[6:-8]) for c in verdicts.columns if c.startswith("crs_pl") and c.endswith("_flagged")]
    ours = pd.Series(list(flagged), index=verdicts.index).astype(bool)
    y = pd.Series(list(labels), index=verdicts.index).astype(int)
    parts = [("all attacks", y == 1), ("all benign", y == 0)]
    if groups is not None:
        g = pd.Series(list(groups), index=verdicts.index).astype(str)
        parts += [(name, g == name) for name in sorted(g.unique())]
    rows = []
    for name, mask in parts:
        if not mask.any():
            continue
        attack = y[mask].mean() >= 0.5
        want = (y == 1) if attack else (y == 0)
        mask = mask & want
        row = {"group": name, "label": "attack" if attack else "not_attack", "measure": "recall" if attack else "fpr",
               "requests": int(mask.sum()), "detector": float(ours[mask].mean())}
        for lv in levels:
            crs = float(verdicts.loc[mask, f"crs_pl{lv}_flagged"].astype(bool).mean())
            row[f"crs_pl{lv}"] = crs
            row[f"crs_better_pl{lv}"] = crs > row["detector"] if attack else crs < row["detector"]
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_crs(df: pd.DataFrame, *, text_column: str = "http_request", label_column: str = "label_value",
                 group_column: str | None = "tool", levels: Sequence[int] = LEVELS, libinjection: bool = True,
                 **kw) -> tuple[pd.DataFrame, dict]:
    """The CRS baseline on a dataset: per-request verdicts (aligned with ``df``'s rows) and per-level summary.

    Rows whose ``text_column`` is empty (packets that carry no request) are
    left out and counted in ``summary["skipped_rows"]``. With
    ``libinjection`` (and the wrapper installed) the in-process libinjection
    baseline (``libinjection_baseline``) judges the same requests: columns
    ``libinj_*`` and ``summary["libinjection"]``.
    """
    if text_column not in df:
        raise ValueError(f"{text_column}: no such column (columns: {', '.join(map(str, df.columns[:20]))})")
    if label_column not in df:
        raise ValueError(f"{label_column}: no such column")
    if group_column and group_column not in df:
        group_column = None
    has_request = df[text_column].notna() & (df[text_column].astype(str).str.len() > 0)
    rows = df[has_request]
    raws = []
    for pos, text in zip(rows.index, rows[text_column].astype(str)):
        try:
            raws.append(request_from_text(text))
        except ValueError as exc:
            raise ValueError(f"{text_column}: row {pos}: {exc}") from None
    labels = labels_of(rows[label_column], label_column)
    run = crs_verdicts(raws, levels, **kw)
    verdicts = run.verdicts
    verdicts.index = rows.index
    summary = summarize(verdicts, labels, rows[group_column] if group_column else None, levels)
    summary.update(meta=run.meta, skipped_rows=int((~has_request).sum()), label_column=label_column,
                   group_column=group_column)
    if libinjection:
        from antinex.pipeline.lab import libinjection_baseline as lib

        if lib.available():
            li = lib.libinjection_verdicts(raws)
            li.index = rows.index
            verdicts = pd.concat([verdicts, li], axis=1)
            flagged = li["libinj_flagged"]
            entry = {"flagged": _rates(flagged, labels), "groups": {}}
            if group_column:
                for name, idx in rows.groupby(group_column).groups.items():
                    entry["groups"][str(name)] = _rates(flagged[idx], labels[idx])
            summary["libinjection"] = entry
        else:
            summary["libinjection"] = {"error": f"not installed (pip install {lib.PACKAGE})"}
    return verdicts, summary


def markdown(summary: dict) -> str:
    """The summary as Markdown tables (per level, then per group)."""
    def pct(v):
        return "–" if v is None else f"{100 * v:.2f}%"

    meta = summary.get("meta", {})
    ver = meta.get("versions", {})
    lines = [f"CRS baseline: {ver.get('apache')}, ModSecurity {ver.get('modsecurity')}, {ver.get('crs')}; "
             f"detection-only, inbound anomaly threshold {meta.get('threshold', DEFAULT_THRESHOLD)}. "
             f"{meta.get('requests', 0)} requests ({meta.get('unique_requests', 0)} distinct); "
             f"Host rewritten in {meta.get('fixups', {}).get('host', 0)}, Content-Length fixed in "
             f"{meta.get('fixups', {}).get('content-length', 0)}; {summary.get('skipped_rows', 0)} rows without a "
             f"request left out.", "",
             "| paranoia level | recall | FPR | attacks flagged | benign flagged | recall incl. refused "
             "| FPR incl. refused | refused before the rules ran |",
             "|---|---|---|---|---|---|---|---|"]
    for level, e in summary["levels"].items():
        f, b, o = e["flagged"], e["blocked"], e["outcomes"]
        lines.append(f"| PL{level} | {pct(f['recall'])} | {pct(f['fpr'])} | {f['flagged_attacks']}/{f['attacks']} "
                     f"| {f['flagged_benign']}/{f['benign']} | {pct(b['recall'])} | {pct(b['fpr'])} "
                     f"| {sum(o.get(k, 0) for k in REFUSED)} |")
    li = summary.get("libinjection", {})
    if "flagged" in li:
        f = li["flagged"]
        lines.append(f"| libinjection (SQLi, XSS only) | {pct(f['recall'])} | {pct(f['fpr'])} "
                     f"| {f['flagged_attacks']}/{f['attacks']} | {f['flagged_benign']}/{f['benign']} | – | – | – |")
    elif li:
        lines.append(f"| libinjection | {li.get('error')} | | | | | | |")
    if summary.get("groups"):
        levels = list(summary["levels"])
        lines += ["", f"Per {summary.get('group_column') or 'group'}: recall for attack groups, "
                  "false-positive rate for benign ones (flagged by CRS).", "",
                  "| group | label | requests | " + " | ".join(f"PL{lv}" for lv in levels) + " | libinjection |",
                  "|---|---|---|" + "---|" * len(levels) + "---|"]
        li_groups = li.get("groups", {})
        for name, e in summary["groups"].items():
            key = "recall" if e["label"] == "attack" else "fpr"
            cells = " | ".join(pct(e[lv]["flagged"][key]) for lv in levels)
            lib = pct(li_groups[name][key]) if name in li_groups else "–"
            lines.append(f"| {name} | {e['label']} ({key}) | {e['requests']} | {cells} | {lib} |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    """Recall against false-positive rate, one point per paranoia level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    xs, ys = [], []
    for level, e in summary["levels"].items():
        x, y = e["flagged"]["fpr"] or 0.0, e["flagged"]["recall"] or 0.0
        xs.append(100 * x)
        ys.append(100 * y)
        ax.annotate(f"PL{level}", (100 * x, 100 * y), textcoords="offset points", xytext=(5, -10))
    ax.plot(xs, ys, "o-", label="ModSecurity + CRS")
    li = summary.get("libinjection", {}).get("flagged")
    if li:
        ax.plot([100 * (li["fpr"] or 0.0)], [100 * (li["recall"] or 0.0)], "s", label="libinjection (SQLi, XSS)")
    ax.legend(loc="lower right")
    ax.set_xlabel("false-positive rate on benign requests (%)")
    ax.set_ylabel("recall on attack requests (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Signature baselines (CRS by paranoia level)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- command line: antinex-lab crs -------------------------------------------------------------
def add_parser(sub) -> None:
    """Register ``antinex-lab crs`` on an argparse subparsers object."""
    p = sub.add_parser("crs", help="the ModSecurity + OWASP CRS baseline on a dataset's requests",
                       description="Replay a dataset's requests (its http_request column) to Apache with "
                                   "ModSecurity v2 and the OWASP CRS in detection-only mode; write per-level "
                                   "recall/false-positive tables and per-request verdicts.")
    p.add_argument("dataset", help="CSV (optionally .gz) with an http_request column and a label column")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.add_argument("--levels", default="1,2,3,4", help="paranoia levels, comma-separated (1-4)")
    p.add_argument("--text-column", default="http_request")
    p.add_argument("--label", default=None, help="label column: 0/1 or attack/not_attack "
                                                 "(default: label_value, else label_name)")
    p.add_argument("--group", default="tool", help="column to break results down by ('' for none)")
    p.add_argument("--concurrency", type=int, default=None, help="parallel connections (default 4 per CPU)")
    p.add_argument("--per-level-ports", action="store_true",
                   help="one port and one transaction per level instead of one transaction for all levels")
    p.add_argument("--keep-host", action="store_true", help="send IP-literal Host headers as recorded")
    p.add_argument("--no-libinjection", action="store_true",
                   help="leave out the in-process libinjection baseline (SQLi/XSS only)")
    p.add_argument("--limit", type=int, default=None, help="only the first N rows that carry a request")
    p.add_argument("--cache", default=None,
                   help="SQLite file of verdicts already given by the same configuration (default: "
                        "OUT/crs_cache.sqlite; 'none' to replay everything)")
    p.set_defaults(func=cmd_crs)


def _parse_levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--levels: comma-separated numbers 1-4, got {text!r}") from None
    if not levels or any(lv not in LEVELS for lv in levels):
        raise ValueError(f"--levels: paranoia levels are 1-4, got {text!r}")
    return tuple(sorted(set(levels)))


def cmd_crs(args) -> int:
    levels = _parse_levels(args.levels)
    if args.concurrency is not None and not 1 <= args.concurrency <= 256:
        raise ValueError(f"--concurrency: 1-256, got {args.concurrency}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit: a positive number, got {args.limit}")
    path = Path(args.dataset)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    header = pd.read_csv(path, nrows=0).columns
    label = args.label or ("label_value" if "label_value" in header else "label_name")
    for name, col in (("--text-column", args.text_column), ("--label", label)):
        if col not in header:
            raise ValueError(f"{name}: {path} has no column {col!r} (columns: {', '.join(header[:20])})")
    group = args.group or None
    if group and group not in header:
        print(f"antinex-lab crs: no column {group!r}: no per-group table", file=sys.stderr)
        group = None
    wanted = {args.text_column, label} | ({group} if group else set())
    df = pd.read_csv(path, usecols=lambda c: c in wanted, dtype={args.text_column: str})
    if args.limit:
        has = df[args.text_column].notna() & (df[args.text_column].str.len() > 0)
        df = df[has].head(args.limit)
    if not (df[args.text_column].fillna("").str.len() > 0).any():
        raise ValueError(f"{args.text_column}: no row of {path} carries a request")
    cache = args.cache or str(Path(args.out) / "crs_cache.sqlite")
    from tqdm import tqdm

    bar = tqdm(total=0, unit="tx", desc="CRS replay", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    verdicts, summary = evaluate_crs(df, text_column=args.text_column, label_column=label, group_column=group,
                                     levels=levels, single_pass=not args.per_level_ports,
                                     concurrency=args.concurrency, rewrite_host=not args.keep_host,
                                     libinjection=not args.no_libinjection, progress=progress,
                                     cache=None if cache == "none" else Path(cache))
    bar.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = df.loc[verdicts.index, [c for c in (label, group) if c]]
    rows.insert(0, "row", verdicts.index)
    pd.concat([rows, verdicts], axis=1).to_csv(out / "crs_verdicts.csv.gz", index=False,
                                               compression={"method": "gzip", "mtime": 0})
    summary["dataset"] = str(path)
    (out / "crs_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    text = markdown(summary)
    (out / "crs_summary.md").write_text(text)
    plot(summary, out / "crs_levels.png")
    print(text)
    print(f"wrote {out / 'crs_verdicts.csv.gz'}, crs_summary.json, crs_summary.md, crs_levels.png")
    return 0
