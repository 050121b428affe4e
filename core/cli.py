"""``antinex-core``: run the core worker and manage its model store.

    antinex-core worker [--queues both|train|predict]
    antinex-core models list                     (the model store)
    antinex-core models cached                   (what running workers hold in memory)
    antinex-core models warm LABEL [LABEL ...]   (load stored models into running workers)
    antinex-core models delete LABEL
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    from antinex.core import settings

    ap = argparse.ArgumentParser(prog="antinex-core", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="start the core worker (one process holds the cache)")
    w.add_argument("--loglevel", default="INFO")
    w.add_argument("--queues", choices=("both", "train", "predict"), default="both",
                   help="train: the train worker, predict: the predict worker (docs/core.md)")
    m = sub.add_parser("models", help="the model store")
    m.add_argument("action", choices=("list", "cached", "warm", "delete"))
    m.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for workers' replies")
    m.add_argument("labels", nargs="*")
    m.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.command == "worker":
        from antinex.core.celery_app import app

        queues = {"both": f"{settings.TRAIN},{settings.PREDICT}", "train": settings.TRAIN,
                  "predict": settings.PREDICT}[args.queues]
        named = [] if args.queues == "both" else ["-n", f"core-{args.queues}@%h"]
        app.worker_main(["worker", "-l", args.loglevel, "-Q", queues, *named,
                         "--pool", "solo", "--without-gossip", "--without-mingle"])
        return 0
    from antinex.utils.model_store import ModelStore

    if args.action in ("cached", "warm"):
        return _remote(args)
    store = ModelStore(settings.MODEL_STORE)
    if args.action == "list":
        models = store.list()
        if args.json:
            print(json.dumps(models, indent=2))
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"Model store {store.root}")
            for col in ("name", "saved", "bytes", "accuracy", "checksum"):
                table.add_column(col)
            for mdl in models:
                acc = mdl.get("accuracy")
                table.add_row(str(mdl["name"]), str(mdl["saved"]), str(mdl["bytes"]),
                              f"{acc:.4f}" if isinstance(acc, float) else "-", mdl["checksum"][:12])
            Console().print(table)
        return 0
    if not args.labels:
        print("antinex-core: error: models delete needs at least one LABEL", file=sys.stderr)
        return 2
    status = 0
    for label in args.labels:
        ok = store.delete(label)
        print(f"{'deleted' if ok else 'not found'}: {label}")
        status |= 0 if ok else 1
    return status


def _remote(args) -> int:
    """Ask running core workers (broadcast on the core broker)."""
    from antinex.core.celery_app import app

    if args.action == "warm":
        if not args.labels:
            print("antinex-core: error: models warm needs at least one LABEL", file=sys.stderr)
            return 2
        replies = app.control.broadcast("antinex_warm", arguments={"labels": args.labels}, reply=True,
                                        timeout=args.timeout)
    else:
        replies = app.control.broadcast("antinex_cached", reply=True, timeout=args.timeout)
    if not replies:
        print(f"antinex-core: error: no core worker answered within {args.timeout:.0f}s", file=sys.stderr)
        return 1
    merged = {worker: answer for reply in replies for worker, answer in reply.items()}
    print(json.dumps(merged, indent=2))
    return 0

if __name__ == "__main__":
    sys.exit(main())
