"""The whole stack: a POST /ml/ predict of 100 rows through API, broker, core and database.

Ours: POST /ml/ with 100 predict_rows for a trained label, then one
``GET /mlresults/{id}/?wait=10`` that answers when the result is recorded;
and, interleaved, the same with plain GETs every 5 ms. Medians over
repeats. Baseline, same run and stack: one authenticated GET of a finished
result (HTTP, JWT, PostgreSQL): the floor any round trip pays.
"""
from __future__ import annotations

import statistics
import time


def _round_trip(stack, s, rows: list[dict], wait: bool) -> float:
    """Seconds from POST /ml/ to holding the finished result."""
    started = time.perf_counter()
    r = s.post(f"{stack.url}/ml/", json={"label": "Bench-RT", "predict_rows": rows, "publish_to_core": True,
                                         "max_records": 100})
    url = f"{stack.url}/mlresults/{r.json()['results']['id']}/"
    while True:
        res = s.get(url, params={"wait": "10"} if wait else None).json()
        if res["status"] in ("finished", "error"):
            break
        if not wait:
            time.sleep(0.005)
    elapsed = time.perf_counter() - started
    assert res["status"] == "finished" and res["predictions_json"]["model_source"] == "memory", res
    return elapsed


def run(quick: bool = False) -> list[dict]:
    from bench import stack_with_model

    repeat = 5 if quick else 20
    with stack_with_model("Bench-RT") as (stack, s, df, features, _):
        rows = df[features].iloc[:100].to_dict("records")
        for wait in (True, False):  # warm both paths (connections, the core's cache)
            _round_trip(stack, s, rows, wait)
        waited, polled, floor = [], [], []
        for _ in range(repeat):  # interleaved, so both see the same machine
            waited.append(_round_trip(stack, s, rows, wait=True))
            polled.append(_round_trip(stack, s, rows, wait=False))
            last = s.get(f"{stack.url}/mlresults/").json()["results"][0]["id"]
            started = time.perf_counter()
            s.get(f"{stack.url}/mlresults/{last}/")
            floor.append(time.perf_counter() - started)
    base = statistics.median(floor) * 1000
    out = []
    for name, times, how in (("", waited, "one GET /mlresults/{id}/?wait=10 answered at the result's commit "
                                            "(PostgreSQL NOTIFY)"),
                             (", polled", polled, "GET /mlresults/{id}/ every 5 ms")):
        ours = statistics.median(times) * 1000
        out.append({"name": f"POST /ml/ predict 100 rows, round trip{name}", "value": ours, "unit": "ms",
                    "baseline_name": "one GET /mlresults/{id}/", "baseline_value": base, "ratio": ours / base,
                    "notes": f"median of {repeat}; API → Redis → core (cached model) → Redis → API worker → "
                             f"PostgreSQL; {how}; ratio = how many plain reads one prediction costs; "
                             "target < 100 ms"})
    return out


if __name__ == "__main__":
    for r in run():
        print(r)
