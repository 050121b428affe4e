"""``antinex``: train and predict from request files without any server.

    antinex train -f request.json [-o outdir] [--store DIR]
    antinex predict -f request.json [--store DIR] [-o outdir]
    antinex quickstart [-o outdir]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _load_request(path: str) -> dict:
    try:
        body = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CLIError(f"request file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"request file {path} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CLIError(f"request file {path} must hold a JSON object")
    return body


def _resolve_dataset(body: dict, request_path: Path) -> dict:
    # a relative dataset path is relative to the request file, not the cwd
    ds = body.get("dataset")
    if isinstance(ds, str) and ds and not Path(ds).is_absolute():
        candidate = request_path.parent / ds
        if candidate.exists():
            body = {**body, "dataset": str(candidate)}
    return body


def write_outputs(res: dict, outdir: Path) -> list[Path]:
    """metrics.json, predictions.csv, confusion_matrix.png, training_curves.png."""
    from utils.export import write_safe_csv
    from utils.plots import confusion_matrix_png, training_curves_png

    outdir.mkdir(parents=True, exist_ok=True)
    data = res["data"]
    written = []
    summary = {k: data.get(k) for k in ("label", "ml_type", "acc", "metrics", "history",
                                        "num_predictions", "model_ref", "features", "seconds")}
    p = outdir / "metrics.json"
    p.write_text(json.dumps(summary, indent=2, allow_nan=False))
    written.append(p)
    if data.get("sample_predictions"):
        written.append(write_safe_csv(data["sample_predictions"], outdir / "predictions.csv"))
    metrics = data.get("metrics") or {}
    if metrics.get("confusion_matrix"):
        model = res.get("model")
        labels = [model.label_name(c) if model else str(c) for c in metrics.get("classes", [])]
        written.append(confusion_matrix_png(metrics["confusion_matrix"], labels, outdir / "confusion_matrix.png"))
    if data.get("history"):
        written.append(training_curves_png(data["history"], outdir / "training_curves.png"))
    return written


def print_summary(res: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    data = res["data"]
    m = data.get("metrics") or {}
    console = Console()
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = ("accuracy", "precision", "recall", "f1", "roc_auc", "false_positive_rate",
            "mse", "mae", "r2", "train_rows", "test_rows", "train_seconds")
    for k in keys:
        if m.get(k) is not None:
            v = m[k]
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)
    if m.get("confusion_matrix"):
        console.print(f"confusion matrix (rows actual, columns predicted; classes {m.get('classes')}): "
                      f"{m['confusion_matrix']}")
    whole = m.get("on_request_rows")
    if whole and data.get("ml_type") == "classification":
        model = res.get("model")
        classes = whole.get("classes", [])
        predicted = [sum(col) for col in zip(*whole["confusion_matrix"])]
        pt = Table(title=f"Predictions on all {whole['num_rows']} rows of the request")
        pt.add_column("predicted label")
        pt.add_column("rows", justify="right")
        for cls, n in zip(classes, predicted):
            pt.add_row(model.label_name(cls) if model else str(cls), str(n))
        console.print(pt)
        console.print(f"agreement with the recorded labels on all rows: {whole['accuracy']:.4f} "
                      "(training rows included; the held-out figures are above)")


def train_and_report(body: dict, *, store_dir: str | None, progress: bool, epochs: int | None,
                     out: str | None) -> int:
    """Train a request body, print the held-out summary, write outputs and the model."""
    from utils.make_predictions import make_predictions
    from utils.model_store import ModelStore

    if epochs:
        body["epochs"] = epochs
    store = ModelStore(store_dir) if store_dir else None
    res = make_predictions(body, store=store, progress=progress)
    if res["status"] != 0:
        raise CLIError(res["err"])
    print_summary(res, f"Held-out evaluation: {res['data']['label']}")
    if out:
        for p in write_outputs(res, Path(out)):
            print(f"wrote {p}")
    if store is not None:
        ref = res["data"]["model_ref"]
        print(f"model saved to {ref.get('store')}/{ref.get('key')}")
    return 0


def cmd_train(args) -> int:
    body = _resolve_dataset(_load_request(args.file), Path(args.file))
    return train_and_report(body, store_dir=args.store, progress=not args.no_progress, epochs=args.epochs,
                            out=args.out)


def cmd_predict(args) -> int:
    from utils.make_predictions import make_predictions
    from utils.model_store import ModelStore, ModelStoreError

    path = Path(args.file)
    body = _resolve_dataset(_load_request(args.file), path)
    store = ModelStore(args.store)
    label = body.get("label", "")
    try:
        trained = store.load(label)
    except ModelStoreError as exc:
        raise CLIError(str(exc)) from None
    res = make_predictions(body, trained=trained)
    if res["status"] != 0:
        raise CLIError(res["err"])
    print_summary(res, f"Predictions with stored model {label}")
    if args.out:
        for p in write_outputs(res, Path(args.out)):
            print(f"wrote {p}")
    return 0


def cmd_quickstart(args) -> int:
    from utils.data import DEFAULT_REQUEST, DEFAULT_TRAIN

    for p in (DEFAULT_REQUEST, DEFAULT_TRAIN):
        if not p.is_file():
            raise CLIError(f"the shipped dataset is missing: {p} (reinstall AntiNex or record one with antinex-lab)")
    body = _load_request(str(DEFAULT_REQUEST))
    body["dataset"] = str(DEFAULT_TRAIN)
    print(f"AntiNex quick start: training '{body.get('label')}' on {DEFAULT_TRAIN.name}")
    return train_and_report(body, store_dir=args.store, progress=not args.no_progress, epochs=args.epochs,
                            out=args.out)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="antinex", description="Train and predict with AntiNex models, offline.")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model from a request file")
    t.add_argument("-f", "--file", required=True, help="request JSON (the /ml/ body)")
    t.add_argument("-o", "--out", help="directory for metrics.json, predictions.csv and plots")
    t.add_argument("--store", default="./antinex-models", help="model store directory ('' to skip saving)")
    t.add_argument("--epochs", type=int, help="override the request's epochs")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
    p = sub.add_parser("predict", help="predict with a stored model (by the request's label)")
    p.add_argument("-f", "--file", required=True)
    p.add_argument("-o", "--out")
    p.add_argument("--store", default="./antinex-models")
    p.set_defaults(func=cmd_predict)
    q = sub.add_parser("quickstart", help="train the detector on the shipped dataset")
    q.add_argument("-o", "--out", help="directory for metrics, predictions and plots")
    q.add_argument("--store", default="", help="also save the model to this store")
    q.add_argument("--epochs", type=int)
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=cmd_quickstart)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"antinex: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("antinex: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
