"""API throughput under concurrent clients, measured with wrk on loopback.

Ours: authenticated ``GET /mlresults/{id}/`` (JWT check, user-scoped
PostgreSQL read, JSON) and ``POST /ml/`` predict submissions (validation,
two inserts, a publish to the core) from 16 and 8 connections; then how
fast the core drains the submitted jobs. Baseline, same run and stack: the
same GET without a token (401 from DRF: the framework floor with no
database work). Needs ``wrk`` (``apt-get install wrk``).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
LUA_POST = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {auth}
"""


def _wrk(url: str, connections: int, seconds: int, headers: list[str] = (), script: Path | None = None) -> dict:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else None,
            "requests": total, "non_2xx": int(bad.group(1)) if bad else 0}


def run(quick: bool = False) -> list[dict]:
    if shutil.which("wrk") is None:
        return [{"name": "API throughput", "value": None, "unit": "req/s", "baseline_name": None,
                 "baseline_value": None, "ratio": None, "notes": "skipped: wrk is not installed (apt-get install wrk)"}]
    from bench import stack_with_model

    secs = 5 if quick else 15
    with stack_with_model("Bench-TP", api_workers=4) as (stack, s, df, features, trained):
        rid = trained["id"]
        auth = s.headers["Authorization"]
        url = f"{stack.url}/mlresults/{rid}/"
        reads = _wrk(url, 16, secs, [f"Authorization: {auth}"])
        floor = _wrk(url, 16, secs)
        body = json.dumps({"label": "Bench-TP", "predict_rows": df[features].iloc[:10].to_dict("records"),
                           "publish_to_core": True, "max_records": 10})
        script = stack.tmp / "post.lua"
        script.write_text(LUA_POST.format(body=json.dumps(body), auth=json.dumps(auth)))
        before = s.get(f"{stack.url}/ml/").json()["count"]
        started = time.time()
        posts = _wrk(f"{stack.url}/ml/", 8, secs, script=script)
        submitted = s.get(f"{stack.url}/ml/").json()["count"] - before
        deadline = time.time() + 600
        while time.time() < deadline:
            unfinished = [j for j in s.get(f"{stack.url}/ml/?page_size=100").json()["jobs"]
                          if j["status"] not in ("finished", "error")]
            if not unfinished:
                break
            time.sleep(0.5)
        drained = submitted / (time.time() - started)
    common = "wrk 2 threads on the same 2-CPU machine as gunicorn (4 workers × 8 threads), Redis, PostgreSQL and the core"
    return [
        {"name": "GET /mlresults/{id}/ throughput, 16 connections", "value": reads["rps"], "unit": "req/s",
         "baseline_name": "same GET without token (401)", "baseline_value": floor["rps"],
         "ratio": reads["rps"] / floor["rps"],
         "notes": f"p99 {reads['p99_ms']:.0f} ms, {reads['non_2xx']} non-2xx of {reads['requests']}; {common}"},
        {"name": "POST /ml/ predict submissions, 8 connections", "value": posts["rps"], "unit": "req/s",
         "baseline_name": "GET /mlresults/{id}/ with token", "baseline_value": reads["rps"],
         "ratio": posts["rps"] / reads["rps"],
         "notes": f"p99 {posts['p99_ms']:.0f} ms, {posts['non_2xx']} non-2xx of {posts['requests']}; "
                  f"{submitted} jobs, all finished at {drained:.0f} jobs/s (10 rows each, one core worker)"},
    ]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
