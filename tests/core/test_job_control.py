"""Stopping jobs on real core workers, and predictions that never wait behind a training.

The tests talk to the core broker directly (Redis "core"): a request is a
Celery task message whose ``worker_result_node`` points at a queue on Redis
"core_results", from which the test reads the raw result (so it sees the
``stopped`` field the API does not store). A long job is 1000 epochs of
batch size 1 on 2000 rows (many minutes); every test cuts it short.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import redis

from bodies import ml_body
from conftest import redis_url
from antinex.utils.consts import CORE_PREDICT_TASK, CORE_TRAIN_TASK, PREDICT_QUEUE, TRAIN_QUEUE
from antinex.utils.jobcontrol import CANCELLED, TIME_LIMIT, CancelFlags

pytestmark = pytest.mark.stack

RESULTS = "test.jobcontrol.results"
ROWS = [{"f1": 2.1, "f2": 0.3}, {"f1": -0.1, "f2": -0.4}, {"f1": 1.9, "f2": 1.0}]
LIMIT_ENV = {"ANTINEX_JOB_TIME_LIMIT": "3"}
_job_ids = itertools.count(1)  # the stacks flush both Redis databases: ids need only be unique here


def write_datasets(stack) -> None:
    rng = np.random.default_rng(1)
    for name, n in (("small.csv", 300), ("long.csv", 2000)):
        y = rng.integers(0, 2, n)
        pd.DataFrame({"f1": y * 2 + rng.normal(0, 0.2, n), "f2": rng.normal(size=n),
                      "label_value": y}).to_csv(stack.datasets_dir / name, index=False)


class Core:
    """Send requests to the core broker and collect their results."""

    def __init__(self, stack):
        from celery import Celery

        self.stack = stack
        self.results_url = stack.redis
        self.results = redis.Redis.from_url(self.results_url)
        self.broker = redis.Redis.from_url(stack.core_redis)
        self.flags = CancelFlags(stack.core_redis)
        self.app = Celery("jobcontrol-test", broker=stack.core_redis)
        self.app.conf.task_serializer = "json"
        self.seen: dict[int, dict] = {}

    def body(self, label: str, dataset: str | None = "small.csv", **over) -> dict:
        """Training on ``dataset`` of the stack's folder, or (None) predictions on ROWS."""
        where = {"dataset": str(self.stack.datasets_dir / dataset)} if dataset else {"predict_rows": ROWS}
        return ml_body(label, **{"epochs": 5, "batch_size": 32, **where, **over})

    def long(self, label: str) -> dict:
        return self.body(label, "long.csv", epochs=1000, batch_size=1)

    def send(self, body: dict, predict: bool = False, job: int | None = None) -> int:
        """Publish ``body`` as one job (a new id unless ``job``); returns its job id."""
        from kombu import Connection

        job = next(_job_ids) if job is None else job
        manifest = {"job_id": job, "result_id": job}
        body = {**body, "manifest": {**manifest, "worker_result_node": {
            "source": "test", "auth_url": self.results_url, "task_name": RESULTS, "queue": RESULTS,
            "manifest": manifest}}}
        with Connection(self.stack.core_redis) as conn:
            self.app.send_task(CORE_PREDICT_TASK if predict else CORE_TRAIN_TASK, args=[body],
                               queue=PREDICT_QUEUE if predict else TRAIN_QUEUE, connection=conn)
        return job

    def result(self, job: int, timeout: float = 60) -> dict:
        """The ``data`` block the core sent back for ``job``."""
        deadline = time.time() + timeout
        while job not in self.seen:
            left = deadline - time.time()
            if left <= 0:
                logs = {name: self.stack.log(name)[-2500:] for name in self.stack.procs}
                raise TimeoutError(f"no result for job {job} in {timeout}s; logs: {logs}")
            popped = self.results.brpop(RESULTS, timeout=max(1, int(min(left, 2))))
            if popped:
                args = json.loads(base64.b64decode(json.loads(popped[1])["body"]))[0]
                payload = args[0]
                self.seen[int(payload["manifest"]["job_id"])] = payload["results"]["data"]
        return self.seen[job]

    def queued_jobs(self, queue: str = TRAIN_QUEUE) -> list[int]:
        """Job ids of the messages waiting in ``queue``."""
        jobs = []
        for raw in self.broker.lrange(queue, 0, -1):
            args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
            jobs.append(int(args[0]["manifest"]["job_id"]))
        return jobs


def use_workers(stack, wanted: dict[str, dict]) -> None:
    """Run exactly the core workers in ``wanted`` (name -> extra environment), each ready."""
    for name in list(stack.procs):
        if name not in wanted:
            stack.stop(name)
    for name, env in wanted.items():
        proc = stack.procs.get(name)
        if proc is None or proc.poll() is not None:
            stack.start_core(name, extra_env=env)
    for name in wanted:
        stack.wait_log(name, "ready.", timeout=120)


def wait_running(stack, name: str, job: int) -> None:
    """Until worker ``name`` started training ``job``, then a little into its epochs."""
    stack.wait_log(name, f"job={job} train started", timeout=60)
    time.sleep(2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("core_results"), core_redis=redis_url("core"), with_api=False,
                   tmp_path=tmp_path_factory.mktemp("jobcontrol")) as s:
        write_datasets(s)
        yield s


@pytest.fixture(scope="module")
def core(stack) -> Core:
    return Core(stack)


def test_cancel_stops_a_running_job_and_a_queued_one_never_starts(stack, core):
    use_workers(stack, {"core": {}})
    running = core.send(core.long("long-cancel"))
    queued = core.send(core.long("queued-cancel"))
    wait_running(stack, "core", running)
    core.flags.cancel(queued)
    cancelled_at = time.monotonic()
    core.flags.cancel(running)
    data = core.result(running, timeout=30)
    assert time.monotonic() - cancelled_at < 10, "the running job did not stop at its next batch"
    assert data["status"] != 0 and "cancelled" in data["err"] and data["stopped"] == CANCELLED, data
    data = core.result(queued, timeout=30)
    assert data["status"] != 0 and data["stopped"] == CANCELLED, data
    assert time.monotonic() - cancelled_at < 15
    store = stack.model_store
    assert not any(p.name in ("long-cancel", "queued-cancel") for p in store.iterdir())  # nothing trained
    log = stack.run_log("core")
    assert f"job={queued} train stopped (cancelled)" in log and f"job={queued} train started" not in log
    # a job cancelled before it is even sent never starts either; the worker goes on serving
    early = next(_job_ids)
    core.flags.cancel(early)
    core.send(core.body("early"), job=early)
    ok = core.send(core.body("after-cancel"))
    assert core.result(early)["stopped"] == CANCELLED
    assert core.result(ok)["status"] == 0, core.seen[ok]
    assert not (store / "early").exists() and (store / "after-cancel").exists()


def test_sigterm_stops_the_worker_and_the_job_runs_again(stack, core):
    use_workers(stack, {"core": {}})
    job = core.send(core.long("long-sigterm"))
    wait_running(stack, "core", job)
    proc = stack.procs["core"]
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)  # a liveness bound: it stops at the next batch, not after 1000 epochs
    except subprocess.TimeoutExpired:
        pytest.fail(f"the core worker ignored SIGTERM while training:\n{stack.log('core')}")
    assert proc.returncode == 0, stack.log("core")
    assert "stopped by the worker's shutdown: queued again" in stack.run_log("core")
    assert job not in core.seen
    assert core.queued_jobs() == [job]  # not lost: back in the train queue
    # the next worker takes it again (and, with a 3 s limit, ends it)
    use_workers(stack, {"core-limit": LIMIT_ENV})
    data = core.result(job, timeout=60)
    assert data["stopped"] == TIME_LIMIT, data
    assert f"job={job} train stopped (time_limit)" in stack.run_log("core-limit")


def test_time_limit_ends_a_long_job(stack, core):
    use_workers(stack, {"core-limit": LIMIT_ENV})
    sent = time.monotonic()
    job = core.send(core.long("long-limit"))
    data = core.result(job, timeout=60)
    assert data["status"] != 0 and data["stopped"] == TIME_LIMIT, data
    assert "time limit of 3 s" in data["err"] and "ANTINEX_JOB_TIME_LIMIT" in data["err"]
    assert time.monotonic() - sent < 30


# -- two workers: core-train and core-predict -----------------------------------------------------------------
@pytest.fixture(scope="module")
def split(stack, tmp_path_factory):
    """LiveStack(split_core=True): a core-train and a core-predict worker on the same brokers."""
    from stack import LiveStack

    for name in list(stack.procs):  # the single-worker tests' workers would take these jobs too
        stack.stop(name)
    with LiveStack(redis_url("core_results"), core_redis=redis_url("core"), with_api=False, with_core=True,
                   split_core=True, tmp_path=tmp_path_factory.mktemp("split")) as s:
        write_datasets(s)
        assert set(s.procs) == {"core-train", "core-predict"}
        for name in s.procs:
            s.wait_log(name, "ready.", timeout=120)
        yield s


@pytest.fixture(scope="module")
def split_core(split) -> Core:
    return Core(split)


def test_predictions_are_answered_while_a_long_training_runs(split, split_core):
    core = split_core
    trained = core.result(core.send(core.body("served")))
    assert trained["status"] == 0 and trained["model_source"] == "trained", trained
    long_job = core.send(core.long("long-split"))
    wait_running(split, "core-train", long_job)
    started = time.monotonic()
    pred_job = core.send(core.body("served", dataset=None), predict=True)
    pred = core.result(pred_job, timeout=30)
    assert pred["status"] == 0, pred
    assert pred["model_source"] == "store" and pred["trained"] is False
    assert [p["label_value"] for p in pred["sample_predictions"]] == [1, 0, 1]
    assert time.monotonic() - started < 20
    split.wait_log("core-predict", f"predict job={pred_job} ", timeout=10)  # logged just after the result
    assert long_job not in core.seen  # still training on the other worker
    core.flags.cancel(long_job)
    assert core.result(long_job, timeout=30)["stopped"] == CANCELLED


def test_a_predict_for_a_missing_model_is_forwarded_and_trained(split, split_core):
    core = split_core
    job = core.send(core.body("fresh"), predict=True)
    data = core.result(job, timeout=90)
    assert data["status"] == 0 and data["model_source"] == "trained", data
    split.wait_log("core-predict", f"job={job} predict label=fresh: no model in memory or store, forwarded", timeout=10)
    split.wait_log("core-train", f"predict job={job} label=fresh status=0 source=trained", timeout=10)
    # the predict worker let go of the job's lock before forwarding: no wait for it on the train side
    assert "retry: Retry in" not in split.run_log("core-train")
    again = core.result(core.send(core.body("fresh", dataset=None), predict=True))
    assert again["model_source"] == "store"  # core-predict loads what core-train saved


def test_the_predict_worker_serves_a_retrained_model(split, split_core):
    core = split_core

    def predict() -> dict:
        data = core.result(core.send(core.body("retrained", dataset=None), predict=True))
        assert data["status"] == 0, data
        return data

    first = core.result(core.send(core.body("retrained")))
    assert first["status"] == 0, first
    assert predict()["model_ref"]["checksum"] == first["model_ref"]["checksum"]
    cached = predict()
    assert cached["model_source"] == "memory" and cached["model_ref"] == first["model_ref"]
    second = core.result(core.send(core.body("retrained", seed=11, epochs=3)))
    assert second["status"] == 0 and second["model_ref"]["checksum"] != first["model_ref"]["checksum"]
    reloaded = predict()
    assert reloaded["model_source"] == "store", reloaded
    assert reloaded["model_ref"]["checksum"] == second["model_ref"]["checksum"]
