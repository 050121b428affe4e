"""Benchmarks: ``python -m bench.run_all`` (see bench/README.md)."""
from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

# The stacks the benchmarks start run as in production: DEBUG off (Django's
# debug cursor formats every SQL statement with its parameters, megabytes for
# a 100-row prediction) and otherwise the defaults.
# The per-user quotas (utils/limits.py) are lifted: the throughput benchmark
# submits over a thousand jobs from one user at once, which is what they forbid.
STACK_ENV = {"DJANGO_DEBUG": "0", "ANTINEX_MAX_ACTIVE_JOBS": "1000000", "ANTINEX_MAX_ACTIVE_ROWS": "1000000000"}
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def stack_with_model(label: str, *, api_workers: int = 2, rows: int = 2_000):
    """A live stack (API, core, PostgreSQL, Redis) with one user and one trained model.

    Yields ``(stack, session, frame, features, result)``: the user's
    authenticated ``requests`` session, the training frame, its feature
    names and the finished training result.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import REDIS_DBS
    from stack import LiveStack

    from bench.datasets import django_like

    with tempfile.TemporaryDirectory() as tmp, LiveStack(REDIS_DBS["bench"], core_redis=REDIS_DBS["bench_core"],
                                                         with_core=True, tmp_path=Path(tmp), api_workers=api_workers,
                                                         extra_env=STACK_ENV) as stack:
        df = django_like(rows)
        features = [c for c in df.columns if c != "label_value"]
        df.to_csv(stack.datasets_dir / "d.csv", index=False)
        stack.create_user("bench", "bench-pass-1")
        s = stack.client("bench", "bench-pass-1")
        r = s.post(f"{stack.url}/ml/", json={"label": label, "dataset": "d.csv", "features_to_process": features,
                                             "epochs": 1, "max_records": 10})
        result = stack.wait_for_result(s, r.json()["results"]["id"], timeout=300)
        yield stack, s, df, features, result
