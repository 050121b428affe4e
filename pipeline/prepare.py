"""Dataset preparation: merge recorded CSVs into a full CSV and a cleaned,
training-ready CSV, each with a metadata JSON, labelled from ground truth.

Labels come (first match wins) from an existing ``label_value`` column,
from the ``pipeline_files`` key a file was listed under (``attack_files`` →
attack), or from ``label_rules.attack_ips`` (rows whose ``ip_src`` or
``ip_dst`` is listed are attacks). The original drew random labels
(``set_if_above``); that rule is refused with a reason.

    antinex-prepare --glob 'recordings/*.csv' --full full.csv --clean clean.csv [--attack-glob ...]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd

from antinex.pipeline.columns import ADDRESS_COLUMNS
from antinex.utils.request import RequestError
from antinex.utils.userdata import DataSpace, plain_file_name

DEFAULT_LABELS = {"labels": ["not_attack", "attack"], "label_values": [0, 1]}
ATTACK_KEYS = ("attack", "attack_files", "attacks")
NON_ATTACK_KEYS = ("nonattack", "non_attack", "nonattack_files", "normal", "normal_files", "not_attack")
DEFAULT_DROP = ("src_file", "raw_id", "raw_load", "raw_hex_load", "raw_hex_field_load", "pad_load", "eth_dst",
                "eth_src", "ip_dst", "ip_src", "ipv6_src", "ipv6_dst", "arp_hwsrc", "arp_psrc", "arp_hwdst",
                "arp_pdst", "dns_qd.qname", "label_name")


class PrepareError(ValueError):
    """Why a dataset could not be prepared."""


def _space(space: DataSpace | None) -> DataSpace:
    return space if space is not None else DataSpace()  # unconfined: the offline CLI


def find_pipeline_csvs(pattern: str, space: DataSpace | None = None) -> list[Path]:
    """Readable files matching a glob (relative patterns: the caller's folder, then the shared data)."""
    if not pattern or not isinstance(pattern, str):
        raise PrepareError("ds_glob_path is empty")
    try:
        return _space(space).glob("ds_glob_path", pattern)
    except RequestError as exc:
        raise PrepareError(str(exc)) from None


def _label_for_key(key: str) -> int | None:
    k = key.lower()
    if k in NON_ATTACK_KEYS or "nonattack" in k or "normal" in k:
        return 0
    if k in ATTACK_KEYS or "attack" in k:
        return 1
    return None


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PrepareError(f"cannot read {path}: {exc}") from None


def prepare_dataset(pipeline_files: dict[str, list] | list, full_file: str | Path, clean_file: str | Path, *,
                    label_rules: dict | None = None, post_proc: dict | None = None,
                    meta_suffix: str = "metadata.json", space: DataSpace | None = None) -> dict:
    """Merge, label and clean; writes both CSVs and both metadata files; returns the cleaned metadata.

    Every input must be readable and every output (both CSVs and both
    ``fulldata_``/``cleaned_<meta_suffix>`` files) writable in ``space``,
    checked on the resolved paths before anything is opened.
    """
    space = _space(space)
    try:
        meta_suffix = plain_file_name("meta_suffix", meta_suffix)
        full_file = space.write_path("full_file", full_file)
        clean_file = space.write_path("clean_file", clean_file)
        full_meta_file = space.write_path("meta_suffix", full_file.parent / f"fulldata_{meta_suffix}")
        clean_meta_file = space.write_path("meta_suffix", clean_file.parent / f"cleaned_{meta_suffix}")
    except RequestError as exc:
        raise PrepareError(str(exc)) from None
    label_rules = dict(label_rules or {})
    post_proc = dict(post_proc or {})
    if "set_if_above" in label_rules and not label_rules.get("attack_ips"):
        label_rules.pop("set_if_above")  # random labels: refused, real ones below
    names = label_rules.get("labels") or DEFAULT_LABELS["labels"]
    values = label_rules.get("label_values") or DEFAULT_LABELS["label_values"]
    if len(names) != len(values):
        raise PrepareError("label_rules.labels and label_values differ in length")
    attack_ips = set(label_rules.get("attack_ips") or [])
    groups = pipeline_files.items() if isinstance(pipeline_files, dict) else [("files", pipeline_files)]
    frames = []
    for key, files in groups:
        key_label = _label_for_key(str(key))
        for f in files:
            try:
                path = space.read_path("pipeline_files", f)
            except RequestError as exc:
                raise PrepareError(str(exc)) from None
            df = _read(path)
            if "label_value" in df.columns:
                pass
            elif attack_ips and ({"ip_src", "ip_dst"} & set(df.columns)):
                hit = df.get("ip_src", pd.Series(index=df.index)).isin(attack_ips) | \
                    df.get("ip_dst", pd.Series(index=df.index)).isin(attack_ips)
                df["label_value"] = hit.astype(int)
            elif key_label is not None:
                df["label_value"] = key_label
            else:
                raise PrepareError(
                    f"no label for {path}: list it under attack_files or nonattack_files, "
                    "give it a label_value column, or set label_rules.attack_ips")
            df["src_file"] = space.public(path)  # no server paths in what the user reads back
            frames.append(df)
    if not frames:
        raise PrepareError("no input files")
    full = pd.concat(frames, ignore_index=True, sort=False)
    lookup = {float(v): n for n, v in zip(names, values)}
    full["label_name"] = full["label_value"].map(lambda v: lookup.get(float(v), f"unknown_{v}"))
    full["idx"] = range(len(full))
    mark_empty = float(post_proc.get("mark_empty", -1))
    drop = set(post_proc.get("drop_columns") or DEFAULT_DROP) | ADDRESS_COLUMNS
    clean = full.drop(columns=[c for c in full.columns if c in drop])
    clean = clean.apply(pd.to_numeric, errors="coerce")
    clean = clean.dropna(axis=1, how="all").fillna(mark_empty)
    target = post_proc.get("predict_feature", "label_value")
    if target == "label_name":
        target = "label_value"  # the cleaned file is numeric: label_name maps onto label_value
    ignore = [c for c in ("idx", "src_file") if c in clean.columns]
    features = [c for c in clean.columns if c not in ignore and c != "label_value"]
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    for out, df in ((full_file, full), (clean_file, clean)):
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
    base = {"label_rules": {"labels": names, "label_values": values, **{k: v for k, v in label_rules.items()
                                                                        if k not in ("labels", "label_values")}},
            "post_proc_rules": post_proc, "created": now, "feature_to_predict": target,
            "pipeline_files": {str(k): [space.public(f) for f in v] for k, v in groups},
            "label_counts": {str(k): int(v) for k, v in full["label_name"].value_counts().items()}}
    full_meta = {**base, "headers": list(full.columns), "output_type": "fulldata",
                 "features_to_process": features, "ignore_features": ignore}
    clean_meta = {**base, "headers": list(clean.columns), "output_type": "clean",
                  "features_to_process": features, "ignore_features": ignore}
    full_meta_file.write_text(json.dumps(full_meta, indent=2))
    clean_meta_file.write_text(json.dumps(clean_meta, indent=2))
    return clean_meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-prepare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attack-glob", default="", help="CSVs of attack traffic")
    ap.add_argument("--nonattack-glob", default="", help="CSVs of normal traffic")
    ap.add_argument("--glob", default="", help="CSVs that carry label_value already")
    ap.add_argument("--full", required=True)
    ap.add_argument("--clean", required=True)
    args = ap.parse_args(argv)
    try:
        files = {}
        for key, pattern in (("attack_files", args.attack_glob), ("nonattack_files", args.nonattack_glob),
                             ("files", args.glob)):
            if pattern:
                files[key] = find_pipeline_csvs(pattern)
        meta = prepare_dataset(files, args.full, args.clean)
    except PrepareError as exc:
        print(f"antinex-prepare: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(meta["label_counts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
