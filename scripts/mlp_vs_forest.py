"""Why the quick start's MLP trails a random forest on the same 21 payload features: one cause at a time.

    python scripts/mlp_vs_forest.py DATASET.csv[.gz] OUT.json [--seeds 1,2,3] [--holdout sqlmap]

Trains the shipped request (utils/data/default/request.json: 64-32-1, min-max,
10 epochs, batch 32, threshold 0.5) through the library's own ``train`` and
then changes one thing at a time (log scaling, class weights, epochs, width,
threshold), beside a random forest (200 trees) on the very same columns and
rows. Splits are by recording round and tool, never random rows: train on
every round but the last, test on the last round; with ``--holdout`` the tool
is left out of training and all its rows are tested. Writes every run's
scores to OUT.json and prints the table docs/request-features.md quotes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

from antinex.pipeline.payload_features import PAYLOAD_FEATURES

VARIANTS = {
    "shipped (min-max)": {},
    "log-minmax": {"scaler": "log-minmax"},
    "standard": {"scaler": "standard"},
    "log-standard": {"scaler": "log-standard"},
    "min-max + balanced": {"class_weight": "balanced"},
    "standard + balanced": {"scaler": "standard", "class_weight": "balanced"},
    "min-max + 30 epochs": {"epochs": 30},
    "min-max + 256-128": {"width": (256, 128)},
    "log-minmax + balanced": {"scaler": "log-minmax", "class_weight": "balanced"},
    "log-minmax + balanced + 30 ep": {"scaler": "log-minmax", "class_weight": "balanced", "epochs": 30},
    "log-minmax + balanced + 256-128": {"scaler": "log-minmax", "class_weight": "balanced", "width": (256, 128)},
    "log-minmax + threshold 0.7": {"scaler": "log-minmax", "threshold": 0.7},
}


def body(features: list[str], seed: int, change: dict) -> dict:
    from antinex.utils.data import DEFAULT_REQUEST

    b = json.loads(DEFAULT_REQUEST.read_text())
    b.pop("dataset", None)
    b.update(label="mlp-vs-forest", features_to_process=features, seed=seed, test_size=0.1, verbose=0)
    for key in ("scaler", "class_weight", "threshold", "epochs"):
        if key in change:
            b[key] = change[key]
    if "width" in change:
        b["model_desc"]["layers"][0]["num_neurons"], b["model_desc"]["layers"][1]["num_neurons"] = change["width"]
    return b


def scores(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None = None) -> dict:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    out = {"recall": recall, "fpr": fp / max(int((y == 0).sum()), 1),
           "f1": 2 * precision * recall / max(precision + recall, 1e-12)}
    if prob is not None:
        from sklearn.metrics import roc_auc_score

        out["roc_auc"] = float(roc_auc_score(y, prob))
    return out


def squash(train: pd.DataFrame, features: list[str]) -> dict:
    """Per column: how far apart one more unit (one more quote, one more byte) puts a typical row after
    each scaler (min-max and log-minmax to [-1, 1], standard to unit variance). Near 0: the network sees
    nearly one value for every typical row, and learns slowly from that column."""
    out = {}
    for f in features:
        col = train[f].to_numpy(dtype=float)
        lo, hi, med, std = col.min(), col.max(), float(np.median(col)), col.std()
        if hi <= lo:
            continue
        slog = lambda v: np.sign(v) * np.log1p(np.abs(v))  # noqa: E731
        out[f] = {"minmax": 2 / (hi - lo), "log-minmax": 2 * (slog(med + 1) - slog(med)) / (slog(hi) - slog(lo)),
                  "standard": 1 / std if std > 0 else None, "max": hi, "median": med}
    return out


def split(df: pd.DataFrame, holdout: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = sorted(df["round"].unique())[-1]
    test = (df["round"] == last) & (df["label_value"] == 0) if holdout else df["round"] == last
    if holdout:
        test |= df["tool"] == holdout
    train = (df["round"] != last) & (df["tool"] != holdout if holdout else True)
    return df[train].reset_index(drop=True), df[test].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    from sklearn.ensemble import RandomForestClassifier

    from antinex.utils.request import parse_request
    from antinex.utils.train import train as fit

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--holdout", default="", help="comma-separated tools to hold out, one run each ('' = none)")
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    args = ap.parse_args(argv)
    df = pd.read_csv(args.dataset)
    features = [f for f in PAYLOAD_FEATURES if f in df.columns]
    seeds = [int(s) for s in args.seeds.split(",")]
    holdouts = [h or None for h in args.holdout.split(",")]
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants.split(",")}
    results = {"dataset": args.dataset, "features": features, "runs": []}
    for holdout in holdouts:
        train, test = split(df, holdout)
        y = test["label_value"].to_numpy().astype(int)
        results.setdefault("squash", squash(train, features))
        for seed in seeds:
            started = time.perf_counter()
            rf = RandomForestClassifier(200, n_jobs=2, random_state=seed).fit(train[features], train["label_value"])
            prob = rf.predict_proba(test[features])[:, 1]
            results["runs"].append({"holdout": holdout, "seed": seed, "detector": "random forest",
                                    **scores(y, (prob >= 0.5).astype(int), prob),
                                    "seconds": time.perf_counter() - started})
            print(results["runs"][-1], flush=True)
            for name, change in variants.items():
                started = time.perf_counter()
                trained = fit(parse_request(body(features, seed, change)), train[features + ["label_value"]])
                out = trained.predict_raw(test[features])
                results["runs"].append({"holdout": holdout, "seed": seed, "detector": name,
                                        **scores(y, trained.decode(out).astype(int), trained.scores(out)),
                                        "seconds": time.perf_counter() - started})
                print(results["runs"][-1], flush=True)
            Path(args.out).write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


def table(results: dict) -> str:
    runs = pd.DataFrame(results["runs"])
    runs["holdout"] = runs["holdout"].fillna("none (last round)")
    agg = runs.groupby(["holdout", "detector"], sort=False).agg(
        f1=("f1", "mean"), f1_sd=("f1", "std"), recall=("recall", "mean"), fpr=("fpr", "mean"),
        roc_auc=("roc_auc", "mean"), seconds=("seconds", "mean"))
    return agg.round(4).to_string()


if __name__ == "__main__":
    sys.exit(main())
