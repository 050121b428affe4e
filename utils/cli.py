"""``antinex``: train and predict from request files without any server.

    antinex train -f request.json [-o outdir] [--store DIR] [--max-records N]
    antinex predict -f request.json [--store DIR] [-o outdir] [--max-records N]
    antinex quickstart [-o outdir] [--store DIR] [--max-records N]

Every command uses one model store: ``--store DIR``, else the environment's
ANTINEX_MODEL_STORE (default ``var/models``, utils/config.py). The quick start saves its
detector there under the shipped request's label, the model ``antinex-pcap
predict`` uses by default.

``predictions.csv`` holds a prediction for every row of the request; the
request's ``max_records`` bounds the rows the API sends back, not this file.
``--max-records N`` writes only the first N rows (and says how many were
left out).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

from antinex.utils.consts import SUCCESS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_USAGE = 2
# The CLI keeps every row's prediction; far above any dataset one machine trains on.
ALL_ROWS = 2**31 - 1
SHOWN_ROWS = 5  # rows of predictions printed by ``antinex predict``


STORE_ENV = "ANTINEX_MODEL_STORE"
FALLBACK_MODEL = "AntiNex-Default-Request-Detector"


def default_store() -> str:
    """The model store every command shares, the API and the core included: ANTINEX_MODEL_STORE, declared
    once in utils/config.py (default ``$ANTINEX_VAR_DIR/models``)."""
    from antinex.utils.config import value

    return str(value(STORE_ENV, "cli"))


def default_model_name() -> str:
    """The model ``antinex quickstart`` trains and ``antinex-pcap predict`` uses: the shipped request's label."""
    from antinex.utils.data import DEFAULT_REQUEST

    try:
        return json.loads(DEFAULT_REQUEST.read_text()).get("label") or FALLBACK_MODEL
    except (OSError, ValueError):
        return FALLBACK_MODEL


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


def write_outputs(res: dict, outdir: Path, max_records: int | None = None) -> list[Path]:
    """metrics.json, predictions.csv (the first ``max_records`` rows, else all), confusion_matrix.png,
    training_curves.png."""
    from antinex.utils.export import write_safe_csv
    from antinex.utils.plots import confusion_matrix_png, trained_on_scaled_target, training_curves_png

    outdir.mkdir(parents=True, exist_ok=True)
    data = res["data"]
    written = []
    summary = {k: data.get(k) for k in ("label", "ml_type", "acc", "metrics", "history",
                                        "num_predictions", "model_ref", "features", "seconds")}
    p = outdir / "metrics.json"
    p.write_text(json.dumps(summary, indent=2, allow_nan=False))
    written.append(p)
    rows = data.get("sample_predictions") or []
    if rows:
        written.append(write_safe_csv(rows[:max_records], outdir / "predictions.csv"))
    metrics = data.get("metrics") or {}
    if metrics.get("confusion_matrix"):
        model = res.get("model")
        labels = [model.label_name(c) if model else str(c) for c in metrics.get("classes", [])]
        written.append(confusion_matrix_png(metrics["confusion_matrix"], labels, outdir / "confusion_matrix.png"))
    if data.get("history"):
        written.append(training_curves_png(data["history"], outdir / "training_curves.png",
                                           scaled_target=trained_on_scaled_target(data)))
    return written


def report_outputs(res: dict, out: str | None, max_records: int | None) -> None:
    """Write the outputs to ``out`` and say where, and how many predictions the file holds."""
    total = res["data"].get("num_predictions") or 0
    if not out:
        if total:
            print(f"pass -o DIR to write all {total:,} predictions to DIR/predictions.csv")
        return
    for p in write_outputs(res, Path(out), max_records):
        print(f"wrote {p}")
    kept = len((res["data"].get("sample_predictions") or [])[:max_records])
    if kept < total:
        print(f"predictions.csv holds the first {kept:,} of {total:,} predictions (--max-records {max_records}): "
              f"{total - kept:,} rows left out; leave out --max-records to write them all")
    elif total:
        print(f"predictions.csv holds all {total:,} predictions")


@contextlib.contextmanager
def library_warnings() -> Iterator[None]:
    """Print the dataset's warnings (text columns left out, ...) as ``antinex: warning: ...``."""

    class Printer(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            print(f"antinex: warning: {record.getMessage()}", file=sys.stderr)

    logger = logging.getLogger("antinex.utils.dataset")
    handler, propagate = Printer(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # printed once, here, whatever else configured logging
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def run_request(body: dict, **kwargs) -> dict:
    """``make_predictions`` for the CLI: every row's prediction kept (training puts the text columns
    it left out in ``metrics.dropped_columns``)."""
    from antinex.utils.make_predictions import make_predictions

    with library_warnings():
        res = make_predictions({**body, "max_records": ALL_ROWS}, **kwargs)
    if res["status"] != SUCCESS:
        raise CLIError(res["err"])
    return res


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
    if m.get("dropped_conflicts"):
        console.print(f"{m['dropped_conflicts']:,} attack rows of the training split repeat a normal request's "
                      "content (a tool's crawl or untouched request) and were not trained on (content.conflicts: "
                      "drop); the held-out rows keep theirs")
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


def print_predictions(res: dict, title: str) -> None:
    """What ``antinex predict`` did: rows predicted, rows per predicted label, the model, the first rows."""
    from rich.console import Console
    from rich.table import Table

    data = res["data"]
    rows = data.get("sample_predictions") or []
    ref = data.get("model_ref") or {}
    model = res.get("model")
    feature = model.predict_feature if model else "label_value"
    console = Console()
    console.print(f"[bold]{title}[/bold]")
    console.print(f"model: {ref.get('name')} (saved {ref.get('saved')}, checksum {str(ref.get('checksum'))[:12]}) "
                  f"from {ref.get('store')}/{ref.get('key')}")
    console.print(f"rows predicted: {data.get('num_predictions', 0):,}")
    if data.get("ml_type") == "classification":
        counts = Table(title="Rows per predicted label")
        counts.add_column("predicted label")
        counts.add_column("rows", justify="right")
        counts.add_column("share", justify="right")
        for name, n in Counter(r.get("label_name") for r in rows).most_common():
            counts.add_row(str(name), f"{n:,}", f"{n / len(rows):.2%}")
        console.print(counts)
    elif rows:
        values = [r[feature] for r in rows if isinstance(r.get(feature), (int, float))]
        if values:
            console.print(f"predicted {feature}: min {min(values):.4g}, mean {sum(values) / len(values):.4g}, "
                          f"max {max(values):.4g}")
    whole = (data.get("metrics") or {}).get("on_request_rows")
    if whole and data.get("ml_type") == "classification":
        console.print(f"the rows carry {feature}: the predictions match it on {whole['accuracy']:.2%} of them")
    elif whole:
        console.print(f"the rows carry {feature}: r2 of the predictions against it {whole.get('r2'):.4f}")
    if rows:
        shown = [c for c in ("_row_idx", f"_original_{feature}", feature, "label_name", "_novel") if c in rows[0]]
        first = Table(title=f"First {min(SHOWN_ROWS, len(rows))} of {len(rows):,} rows")
        for c in shown:
            first.add_column(c, justify="right")
        for r in rows[:SHOWN_ROWS]:
            first.add_row(*(str(r.get(c)) for c in shown))
        console.print(first)


def train_and_report(body: dict, *, store_dir: str | None, progress: bool, epochs: int | None,
                     out: str | None, max_records: int | None = None) -> int:
    """Train a request body, print the held-out summary, write outputs and the model."""
    from antinex.utils.model_store import ModelStore

    if epochs:
        body["epochs"] = epochs
    store = ModelStore(store_dir) if store_dir else None
    res = run_request(body, store=store, progress=progress)
    print_summary(res, f"Held-out evaluation: {res['data']['label']}")
    report_outputs(res, out, max_records)
    if store is not None:
        ref = res["data"]["model_ref"]
        print(f"model saved to {ref.get('store')}/{ref.get('key')}")
    return 0


def _next_steps(store_dir: str) -> None:
    where = "" if store_dir == default_store() else f" --store {store_dir}"
    print(f"next: judge a capture with it: tcpdump -i eth0 -w capture.pcap 'tcp port 80', then "
          f"antinex-pcap predict capture.pcap{where}")


def cmd_train(args) -> int:
    body = _resolve_dataset(_load_request(args.file), Path(args.file))
    return train_and_report(body, store_dir=args.store, progress=not args.no_progress, epochs=args.epochs,
                            out=args.out, max_records=args.max_records)


def cmd_predict(args) -> int:
    from antinex.utils.model_store import DamagedModelError, ModelStore, ModelStoreError

    path = Path(args.file)
    body = _resolve_dataset(_load_request(args.file), path)
    store = ModelStore(args.store)
    label = body.get("label", "")
    try:
        trained = store.load(label)
    except DamagedModelError as exc:
        raise CLIError(f"{exc} (antinex train -f REQUEST --store {args.store})") from None
    except ModelStoreError as exc:
        raise CLIError(str(exc)) from None
    res = run_request(body, trained=trained)
    print_predictions(res, f"Predictions with stored model {label}")
    report_outputs(res, args.out, args.max_records)
    return 0


def cmd_quickstart(args) -> int:
    from antinex.utils.data import DEFAULT_REQUEST, DEFAULT_TRAIN

    for p in (DEFAULT_REQUEST, DEFAULT_TRAIN):
        if not p.is_file():
            raise CLIError(f"the shipped dataset is missing: {p} (reinstall AntiNex or record one with antinex-lab)")
    body = _load_request(str(DEFAULT_REQUEST))
    body["dataset"] = str(DEFAULT_TRAIN)
    print(f"AntiNex quick start: training '{body.get('label')}' on {DEFAULT_TRAIN.name}")
    code = train_and_report(body, store_dir=args.store, progress=not args.no_progress, epochs=args.epochs,
                            out=args.out, max_records=args.max_records)
    if args.store:
        _next_steps(args.store)
    return code


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _add_max_records(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-records", type=_positive, metavar="N",
                        help="write only the first N predictions to predictions.csv (default: every row; "
                             "the request's max_records bounds what the API returns, not this file)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="antinex", description="Train and predict with AntiNex models, offline.")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model from a request file")
    t.add_argument("-f", "--file", required=True, help="request JSON (the /ml/ body)")
    t.add_argument("-o", "--out", help="directory for metrics.json, predictions.csv and plots")
    t.add_argument("--store", default=default_store(),
                   help=f"model store directory (default: ${STORE_ENV}, now {default_store()}; '' to skip saving)")
    t.add_argument("--epochs", type=int, help="override the request's epochs")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_max_records(t)
    t.set_defaults(func=cmd_train)
    p = sub.add_parser("predict", help="predict with a stored model (by the request's label)")
    p.add_argument("-f", "--file", required=True, help="request JSON: the model's label and the rows to predict")
    p.add_argument("-o", "--out", help="directory for predictions.csv and metrics.json")
    p.add_argument("--store", default=default_store(),
                   help=f"model store directory (default: ${STORE_ENV}, now {default_store()})")
    _add_max_records(p)
    p.set_defaults(func=cmd_predict)
    q = sub.add_parser("quickstart", help="train the detector on the shipped dataset")
    q.add_argument("-o", "--out", help="directory for metrics, predictions and plots")
    q.add_argument("--store", default=default_store(),
                   help=f"save the model to this store (default: ${STORE_ENV}, now {default_store()}, where antinex-pcap "
                        f"predict looks; '' to skip saving)")
    q.add_argument("--epochs", type=int)
    q.add_argument("--no-progress", action="store_true")
    _add_max_records(q)
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
