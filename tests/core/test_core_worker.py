"""The core worker for real: API → core broker → core worker → results task → PostgreSQL."""
from __future__ import annotations

import datetime as dt
import signal
import time

import numpy as np
import pandas as pd
import pytest
import requests

from bodies import ml_body
from conftest import redis_url

pytestmark = pytest.mark.stack

ROWS = [{"f1": 2.1, "f2": 0.3}, {"f1": -0.1, "f2": -0.4}, {"f1": 1.9, "f2": 1.0}]


def job(dataset: str, label: str, **over) -> dict:
    return ml_body(label, dataset, **{"epochs": 10, **over})


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    env = {"ANTINEX_VISIBILITY_TIMEOUT": "4", "ANTINEX_JOB_LOCK_SECONDS": "6", "ANTINEX_MAX_CONCURRENT_WAITS": "1"}
    with LiveStack(redis_url("core_results"), core_redis=redis_url("core"), with_core=True,
                   tmp_path=tmp_path_factory.mktemp("core-stack"), extra_env=env) as s:
        rng = np.random.default_rng(1)
        y = rng.integers(0, 2, 300)
        pd.DataFrame({"f1": y * 2 + rng.normal(0, 0.2, 300), "f2": rng.normal(size=300),
                      "label_value": y}).to_csv(s.datasets_dir / "d.csv", index=False)
        big = rng.integers(0, 2, 20000)
        pd.DataFrame({"f1": big + rng.normal(0, 0.5, 20000), "f2": rng.normal(size=20000),
                      "label_value": big}).to_csv(s.datasets_dir / "big.csv", index=False)
        s.create_user("core-user", "core-pass-1")
        yield s


@pytest.fixture(scope="module")
def user(stack):
    return stack.client("core-user", "core-pass-1")


def submit(stack, user, body) -> dict:
    r = user.post(f"{stack.url}/ml/", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["job"]["status"] == "launched"
    return stack.wait_for_result(user, r.json()["results"]["id"], timeout=180)


def test_train_then_predict_by_label_without_training(stack, user):
    trained = submit(stack, user, job("d.csv", "Core-Label"))
    assert trained["status"] == "finished", trained["error_data"]
    assert trained["predictions_json"]["model_source"] == "trained"
    pred = submit(stack, user, {"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
    assert pred["status"] == "finished", pred["error_data"]
    assert pred["predictions_json"]["model_source"] == "memory"
    assert pred["predictions_json"]["trained"] is False
    assert [p["label_value"] for p in pred["predictions_json"]["predictions"]] == [1, 0, 1]


def test_a_waiting_get_answers_when_the_core_records_the_result(stack, user):
    """GET /mlresults/{id}/?wait= is woken by the result's commit (PostgreSQL NOTIFY): one request."""
    from concurrent.futures import ThreadPoolExecutor

    stack.stop("core")
    try:
        r = user.post(f"{stack.url}/ml/", json={"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
        assert r.status_code == 201, r.text
        url = f"{stack.url}/mlresults/{r.json()['results']['id']}/"
        pending = user.get(url, params={"wait": "0.5"})
        assert pending.status_code == 200 and pending.json()["status"] == "launched"  # no core: still queued
        assert "Antinex-Wait" not in pending.headers
        # one wait slot per API process (2 processes): of 6 overlapping long polls, 4 or more answer
        # at once, marked busy, instead of taking every server thread
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: requests.get(url, params={"wait": "3"}, headers=user.headers,
                                                           timeout=30), range(6)))
        assert all(a.status_code == 200 and a.json()["status"] == "launched" for a in answers)
        busy = [a.headers.get("Antinex-Wait") == "busy" for a in answers]
        assert 4 <= sum(busy) <= 5, [a.headers for a in answers]
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(user.get, url, params={"wait": "30"}, timeout=60)
            stack.start_core()  # takes seconds to boot: a GET that did not wait would still see "launched"
            answer = waiting.result()
            answered = dt.datetime.now(dt.timezone.utc)
    finally:
        if "core" not in stack.procs or stack.procs["core"].poll() is not None:
            stack.start_core()
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "finished", answer.json()
    assert [p["label_value"] for p in answer.json()["predictions_json"]["predictions"]] == [1, 0, 1]
    # woken by the commit: the answer follows the result's last write, not the 30 s deadline
    recorded = dt.datetime.strptime(answer.json()["updated"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
    assert (answered - recorded).total_seconds() < 10, (answered, recorded)


def test_restart_serves_from_store_with_identical_predictions(stack, user):
    before = submit(stack, user, {"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
    stack.stop("core")
    stack.start_core()
    after = submit(stack, user, {"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
    assert after["predictions_json"]["model_source"] == "store"
    strip = lambda rows: [{k: v for k, v in r.items()} for r in rows]  # noqa: E731
    assert strip(after["predictions_json"]["predictions"]) == strip(before["predictions_json"]["predictions"])


def test_cli_shows_and_warms_a_running_workers_cache(stack, user):
    import json
    import subprocess
    import sys

    stack.stop("core")
    stack.start_core()  # a fresh worker: nothing in memory
    key = f"user_{user.get(f'{stack.url}/users/').json()['id']}.core-label"

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "antinex.core.cli", "models", *args], env=stack.env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    deadline = time.time() + 60
    while True:  # the worker answers once it is up
        try:
            cached = json.loads(cli("cached", "--timeout", "2"))
            break
        except AssertionError:
            assert time.time() < deadline
    assert all(key not in answer["cached"] for answer in cached.values())
    warmed = json.loads(cli("warm", key))
    assert any(key in answer["warmed"] for answer in warmed.values())
    cached = json.loads(cli("cached"))
    assert any(key in answer["cached"] for answer in cached.values())
    pred = submit(stack, user, {"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
    assert pred["predictions_json"]["model_source"] == "memory"
    assert key in [m["key"] for m in json.loads(cli("list", "--json"))]


def test_invalid_requests_end_as_job_errors(stack, user):
    (stack.datasets_dir / "one.csv").write_text("f1,f2,label_value\n" + "".join(f"{i},{i},1\n" for i in range(20)))
    bad = submit(stack, user, job("one.csv", "Core-Bad"))
    assert bad["status"] == "error" and "two classes" in bad["error_data"]["error"]
    from celery import Celery

    from antinex.utils.consts import CORE_TRAIN_TASK, TRAIN_QUEUE

    poison = Celery(broker=stack.core_redis)
    poison.conf.task_serializer = "json"
    poison.send_task(CORE_TRAIN_TASK, args=["not a request"], queue=TRAIN_QUEUE)
    poison.send_task(CORE_TRAIN_TASK, args=[{"manifest": {"worker_result_node": {"nonsense": 1}}}],
                     queue=TRAIN_QUEUE)
    # the worker survives and keeps serving
    ok = submit(stack, user, {"label": "Core-Label", "predict_rows": ROWS, "publish_to_core": True})
    assert ok["status"] == "finished"


def test_killed_worker_loses_nothing(stack, user):
    received = stack.log("core").count("Task antinex.core.train[")
    r = user.post(f"{stack.url}/ml/", json=job("big.csv", "Core-Slow", epochs=40, batch_size=16))
    assert r.status_code == 201
    job_id, result_id = r.json()["job"]["id"], r.json()["results"]["id"]
    deadline = time.time() + 60
    while stack.log("core").count("Task antinex.core.train[") <= received:
        assert time.time() < deadline, stack.log("core")
        time.sleep(0.2)
    time.sleep(2)  # inside fit()
    stack.stop("core", sig=signal.SIGKILL)
    assert user.get(f"{stack.url}/mlresults/{result_id}/").json()["status"] != "finished"
    stack.start_core("core2", extra_env={"ANTINEX_JOB_LOCK_SECONDS": "6"})
    done = stack.wait_for_result(user, result_id, timeout=300)
    assert done["status"] == "finished", done["error_data"]
    assert done["predictions_json"]["model_source"] == "trained"
    log = stack.log("core2")
    assert log.count(f"train job={job_id} ") == 1, log[-3000:]
