"""ai_get_results.py: print a result's accuracy and predictions count by id."""
from __future__ import annotations

from antinex.client.consts import setting
from antinex.client.scripts.common import check, client_from, die, parser, show
from antinex.utils.consts import Status


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, id_arg="result")
    ap.add_argument("--plot-dir", help="save confusion matrix and training curves PNGs here")
    args = ap.parse_args(argv)
    result_id = args.record_id or setting("RESULT_ID")
    if not result_id:
        die("missing result id: -i <result id>")
    data = check(client_from(args).get_result_by_id(result_id), f"result {result_id}")
    if args.json:
        show(data, args)
    else:
        preds = (data.get("predictions_json") or {}).get("predictions") or []
        print(f"status={data['status']} accuracy={(data.get('acc_data') or {}).get('accuracy')} "
              f"num_results={len(preds)}")
        if data.get("status") == Status.ERROR:
            print(f"error={(data.get('error_data') or {}).get('error')}")
    if args.plot_dir:
        from antinex.client.scripts.ai_train_dnn import save_plots

        for path in save_plots(data, args.plot_dir):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
