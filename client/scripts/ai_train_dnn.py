"""ai_train_dnn.py / ai: run a training (or prediction) job, wait, print results."""
from __future__ import annotations

from antinex.client.scripts.common import check, client_from, die, parser, read_json, show


def save_plots(result: dict, plot_dir: str) -> list[str]:
    from pathlib import Path

    from antinex.utils.plots import confusion_matrix_png, training_curves_png

    out = Path(plot_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    metrics = result.get("metrics") or {}
    if metrics.get("confusion_matrix"):
        labels = [str(c) for c in metrics.get("classes", [])]
        written.append(str(confusion_matrix_png(metrics["confusion_matrix"], labels,
                                                out / f"result_{result['id']}_confusion_matrix.png")))
    if result.get("history"):
        written.append(str(training_curves_png(result["history"], out / f"result_{result['id']}_training_curves.png")))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, file_arg=True)
    ap.add_argument("--plot-dir", help="save confusion matrix and training curves PNGs here")
    args = ap.parse_args(argv)
    body = read_json(args.datafile)
    client = client_from(args)
    started = check(client.run_job(body), "job did not start")
    job_id = started["job"]["id"]
    if not args.silent and not args.json:
        print(f"job {job_id} started (result {started['results']['id']})")
    res = client.wait_for_job_to_finish(job_id, timeout=args.timeout, progress=not args.silent and not args.json)
    data = check(res, f"job {job_id}")
    result = data["result"]
    if args.json:
        show(data, args)
    else:
        import pandas as pd

        acc = (result.get("acc_data") or {}).get("accuracy")
        print(f"job {job_id} finished: accuracy={acc}")
        preds = (result.get("predictions_json") or {}).get("predictions") or []
        if preds:
            print(pd.DataFrame(preds))
    if args.plot_dir:
        for path in save_plots(result, args.plot_dir):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
