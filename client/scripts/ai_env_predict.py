"""ai_env_predict.py: predict rows from a JSON file (or mock rows) with the model named by env/template."""
from __future__ import annotations

import argparse
import json

from antinex.client.ai_client import AIClient
from antinex.client.generate import generate_ai_request
from antinex.client.scripts.common import check, die, read_json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-f", dest="datafile", help="JSON file: a list of rows, or a request with predict_rows")
    ap.add_argument("-m", dest="mock", action="store_true", help="use mock rows {tcp_seq: 1..4}")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    if args.mock:
        rows = [{"tcp_seq": i} for i in range(1, 5)]
    else:
        data = read_json(args.datafile)
        rows = data.get("predict_rows") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            die("the file must hold a list of rows or an object with predict_rows")
    req = generate_ai_request(rows)
    body = check(req, "building the request")
    client = AIClient()
    started = check(client.run_job(body), "job did not start")
    done = check(client.wait_for_job_to_finish(started["job"]["id"], timeout=args.timeout), "prediction job")
    preds = (done["result"].get("predictions_json") or {}).get("predictions") or []
    if args.json:
        print(json.dumps(preds, indent=2))
    else:
        import pandas as pd

        print(pd.DataFrame(preds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
