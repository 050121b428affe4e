"""Outages while jobs run: Redis killed mid-training, PostgreSQL stopped while
results arrive. Every job must end finished (or error with a reason), once.

Each test runs its own Redis or PostgreSQL (tests/reliability/servers.py) so
the outage touches nothing else in the suite.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import redis_url
from reliability.servers import PostgresCluster, RedisServer

pytestmark = pytest.mark.stack


def _datasets(stack) -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 20000)
    pd.DataFrame({"f1": y + rng.normal(0, 0.5, y.size), "f2": rng.normal(size=y.size),
                  "label_value": y}).to_csv(stack.datasets_dir / "big.csv", index=False)


def _job(label: str, epochs: int) -> dict:
    return {"label": label, "dataset": "big.csv", "predict_feature": "label_value",
            "features_to_process": ["f1", "f2"], "epochs": epochs, "seed": 3, "batch_size": 16,
            "model_desc": {"layers": [{"num_neurons": 8, "activation": "relu"},
                                      {"num_neurons": 1, "activation": "sigmoid"}]},
            "label_rules": {"labels": ["not_attack", "attack"], "label_values": [0, 1]}}


def _start_training(stack, username: str, label: str, epochs: int):
    """A user, the big dataset, and one training job queued: ``(session, job_id, result_id)``."""
    _datasets(stack)
    stack.create_user(username, f"{username}-pass-1")
    user = stack.client(username, f"{username}-pass-1")
    r = user.post(f"{stack.url}/ml/", json=_job(label, epochs=epochs))
    assert r.status_code == 201, r.text
    return user, r.json()["job"]["id"], r.json()["results"]["id"]


def _wait_log(stack, name: str, needle: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while needle not in stack.log(name):
        assert time.time() < deadline, f"{needle!r} not in {name} log:\n{stack.log(name)}"
        time.sleep(0.2)


def test_redis_killed_during_training_loses_no_job(tmp_path):
    from stack import LiveStack

    env = {"ANTINEX_VISIBILITY_TIMEOUT": "5", "ANTINEX_JOB_LOCK_SECONDS": "6"}
    with RedisServer() as rs, LiveStack(rs.url(0), core_redis=rs.url(1), with_core=True, tmp_path=tmp_path,
                                        extra_env=env) as stack:
        user, job_id, result_id = _start_training(stack, "outage", "Redis-Outage", epochs=30)
        _wait_log(stack, "core", "Task antinex.core.train[")
        time.sleep(1.5)  # inside fit()

        rs.kill()
        # a job submitted while the broker is gone is refused with a reason, and still recorded
        refused = user.post(f"{stack.url}/ml/", json=_job("During-Outage", epochs=1), timeout=60)
        assert refused.status_code == 503, refused.text
        assert "error" in refused.json()
        refused_id = refused.json()["job"]["id"]
        time.sleep(2)
        rs.start()

        done = stack.wait_for_result(user, result_id, timeout=300)
        assert done["status"] == "finished", done["error_data"]
        assert done["acc_data"]["accuracy"] > 0.7
        jobs = {j["id"]: j for j in user.get(f"{stack.url}/ml/").json()["jobs"]}
        assert jobs[refused_id]["status"] == "error" and jobs[refused_id]["error_data"]["error"]
        # trained and answered once, even though the message was redelivered or restored
        assert stack.log("core").count(f"train job={job_id} ") == 1, stack.log("core")

        # both workers reconnected: a new job goes through
        again = user.post(f"{stack.url}/ml/", json=_job("After-Outage", epochs=1))
        assert again.status_code == 201, again.text
        assert stack.wait_for_result(user, again.json()["results"]["id"], timeout=180)["status"] == "finished"


def test_postgres_stopped_while_results_arrive(tmp_path):
    from stack import LiveStack

    with PostgresCluster() as pg, LiveStack(redis_url("reliability"), core_redis=redis_url("reliability_core"),
                                            with_core=True, tmp_path=tmp_path, pg_url_base=pg.url_base) as stack:
        user, job_id, result_id = _start_training(stack, "pgdown", "Pg-Outage", epochs=3)

        pg.stop()
        try:
            # the API says the database is away: 503 with a reason, not a 500
            down = user.get(f"{stack.url}/mlresults/{result_id}/", timeout=30)
            assert down.status_code == 503, down.text
            assert "database" in down.json()["error"]
            _wait_log(stack, "core", f"train job={job_id} ", timeout=180)  # the result has been sent
            _wait_log(stack, "worker", "Retry in", timeout=60)  # ...and could not be written yet
            time.sleep(2)
        finally:
            pg.start()

        done = stack.wait_for_result(user, result_id, timeout=120)
        assert done["status"] == "finished", done["error_data"]
        assert done["acc_data"]["accuracy"] > 0.7
        assert user.get(f"{stack.url}/ml/{job_id}/").json()["status"] == "finished"
        # and the API is fully back
        assert requests.get(f"{stack.url}/mlresults/", headers=user.headers, timeout=10).status_code == 200
