"""The whole stack: a POST /ml/ predict of 100 rows through API, broker, core and database.

Ours: POST /ml/ with 100 predict_rows for a trained label, then GET the
result until it is finished (5 ms polling), median over repeats. Baseline,
same run and stack: one authenticated GET of a finished result (HTTP, JWT,
PostgreSQL): the floor any round trip pays.
"""
from __future__ import annotations

import statistics
import time


def run(quick: bool = False) -> list[dict]:
    from bench import stack_with_model

    repeat = 5 if quick else 20
    with stack_with_model("Bench-RT") as (stack, s, df, features, _):
        rows = df[features].iloc[:100].to_dict("records")
        times, floor = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            r = s.post(f"{stack.url}/ml/", json={"label": "Bench-RT", "predict_rows": rows, "publish_to_core": True,
                                                 "max_records": 100})
            rid = r.json()["results"]["id"]
            while True:
                res = s.get(f"{stack.url}/mlresults/{rid}/").json()
                if res["status"] in ("finished", "error"):
                    break
                time.sleep(0.005)
            times.append(time.perf_counter() - started)
            assert res["status"] == "finished" and res["predictions_json"]["model_source"] == "memory", res
            started = time.perf_counter()
            s.get(f"{stack.url}/mlresults/{rid}/")
            floor.append(time.perf_counter() - started)
    ours, base = statistics.median(times) * 1000, statistics.median(floor) * 1000
    return [{"name": "POST /ml/ predict 100 rows, round trip", "value": ours, "unit": "ms",
             "baseline_name": "one GET /mlresults/{id}/", "baseline_value": base, "ratio": ours / base,
             "notes": f"median of {repeat}; API → Redis → core (cached model) → Redis → API worker → PostgreSQL, "
                      "polled every 5 ms; ratio = how many plain reads one prediction costs; target < 100 ms"}]


if __name__ == "__main__":
    for r in run():
        print(r)
