"""An attacker with an ordinary account (issue 13): file writes, other users' files, runaway jobs.

A real stack with the core workers: gunicorn (one process, so a train job and
a prepare share it), the API worker, core-train and core-predict, PostgreSQL
and Redis.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bodies import layers, ml_body
from conftest import redis_url

pytestmark = pytest.mark.stack
BIN = Path(sys.executable).parent
FEATURES = ["f1", "f2"]


def job(dataset: str, label: str, **over) -> dict:
    return ml_body(label, dataset, **{"test_size": 0.25, "model_desc": {"layers": layers(8, init="uniform")}, **over})


def runaway(dataset: str, label: str) -> dict:
    """As long a job as the server's bounds allow on this data (minutes); tests stop it."""
    return job(dataset, label, epochs=1000, batch_size=1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    env = {"ANTINEX_MAX_ACTIVE_JOBS": "2", "ANTINEX_MAX_PREDICT_ROWS": "1000", "ANTINEX_MAX_ACTIVE_PREPARES": "4"}
    with LiveStack(redis_url("security"), with_core=True, split_core=True, api_workers=1, extra_env=env,
                   tmp_path=tmp_path_factory.mktemp("tenancy-stack")) as s:
        rng = np.random.default_rng(5)
        y = rng.integers(0, 2, 240)
        pd.DataFrame({"f1": y * 2 + rng.normal(0, 0.3, 240), "f2": rng.normal(size=240), "label_value": y}).to_csv(
            s.datasets_dir / "train.csv", index=False)
        rec = s.datasets_dir / "recordings"
        rec.mkdir()
        pd.DataFrame({"f1": [2.0, 2.1, 0.1, 0.0], "f2": [0.1, 0.2, 0.3, 0.4],
                      "ip_src": ["10.0.0.66", "10.0.0.66", "10.0.0.5", "10.0.0.5"]}).to_csv(rec / "r.csv", index=False)
        for name in ("mallory", "alice", "bob"):
            s.create_user(name, f"{name}-pass-1")
        yield s


@pytest.fixture(scope="module")
def users(stack):
    return {name: stack.client(name, f"{name}-pass-1") for name in ("mallory", "alice", "bob")}


def user_id(stack, session) -> int:
    return session.get(f"{stack.url}/users/").json()["id"]


def wait_prepare(stack, session, prep_id: int, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        prep = session.get(f"{stack.url}/mlprepare/{prep_id}/").json()
        if prep["status"] in ("finished", "error"):
            return prep
        time.sleep(0.2)
    raise TimeoutError(f"prepare {prep_id} not done:\n{stack.log('worker')}")


def wait_status(stack, session, job_id: int, statuses: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        record = session.get(f"{stack.url}/ml/{job_id}/").json()
        if record["status"] in statuses:
            return record
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} never reached {statuses}:\n{stack.log('core')}")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# -- 1. no file write outside the caller's folder ---------------------------------------------------
def test_meta_suffix_traversal_writes_nothing_and_is_a_400(stack, users, tmp_path):
    target = Path("/tmp") / f"antinex-pwned-{uuid.uuid4().hex}.json"
    before = files_under(stack.tmp)
    prefix = "z/" + "../" * 12
    bodies = [
        # the reported chain: a folder named fulldata_z, then a suffix that climbs out of it
        {"clean_file": str(stack.datasets_dir / "p" / "fulldata_z" / "c.csv"), "meta_suffix": prefix + str(target)},
        {"clean_file": "p/fulldata_z/c.csv", "meta_suffix": prefix + str(target)},
        {"meta_suffix": "../secret_key"},
        {"meta_suffix": ".hidden"},
    ]
    for over in bodies:
        r = users["mallory"].post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "recordings/*.csv", **over})
        assert r.status_code == 400, (over, r.text)
        assert r.json()["field"] in ("meta_suffix", "clean_file"), r.text
    time.sleep(1)
    assert not target.exists()
    assert files_under(stack.tmp) - before <= {p for p in files_under(stack.tmp) if p.suffix == ".log"}


def test_outputs_only_in_the_callers_folder(stack, users):
    mallory, alice = users["mallory"], users["alice"]
    alice_dir = stack.datasets_dir / "users" / f"user_{user_id(stack, alice)}"
    for field, value in [("full_file", str(stack.datasets_dir / "train.csv")),  # shared data is read-only
                         ("clean_file", str(alice_dir / "prepared" / "cleaned_attack_scans.csv")),
                         ("output_dir", str(alice_dir)), ("output_dir", "../user_1"),
                         ("full_file", str(stack.tmp / "secret_key")), ("clean_file", "/etc/cron.d/x")]:
        r = mallory.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "recordings/*.csv", field: value})
        assert r.status_code == 400 and r.json()["field"] == field, (field, value, r.text)


def test_secret_key_file_never_where_a_request_can_write(stack, tmp_path):
    """The forged-key chain: the API refuses to start with its key file inside a data directory."""
    key = stack.datasets_dir / "users" / "secret_key"
    key.parent.mkdir(exist_ok=True)
    key.write_text("k" * 48)
    env = {**stack.env, "DJANGO_SECRET_KEY_FILE": str(key)}
    env.pop("DJANGO_SECRET_KEY", None)
    proc = subprocess.run([str(BIN / "antinex-manage"), "check"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "DJANGO_SECRET_KEY_FILE" in proc.stderr, proc.stderr[-2000:]
    safe = tmp_path / "secrets" / "secret_key"
    safe.parent.mkdir()
    safe.write_text("s" * 48)
    ok = subprocess.run([str(BIN / "antinex-manage"), "check"], env={**env, "DJANGO_SECRET_KEY_FILE": str(safe)},
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]


# -- 3. each user's folder is theirs ------------------------------------------------------------------
def test_users_cannot_read_or_write_each_others_datasets(stack, users):
    alice, bob = users["alice"], users["bob"]
    r = alice.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "recordings/*.csv",
                                                    "label_rules": {"attack_ips": ["10.0.0.66"]}})
    assert r.status_code == 201, r.text
    prep = wait_prepare(stack, alice, r.json()["id"])
    assert prep["status"] == "finished", prep["error_data"]
    assert prep["clean_file"] == "prepared/cleaned_attack_scans.csv"  # relative to her folder
    alice_clean = stack.datasets_dir / "users" / f"user_{user_id(stack, alice)}" / prep["clean_file"]
    assert sorted(pd.read_csv(alice_clean)["label_value"]) == [0, 0, 1, 1]
    # alice trains on her own file, by the path her record shows
    mine = alice.post(f"{stack.url}/ml/", json=job(prep["clean_file"], "alice-own"))
    assert mine.status_code == 201, mine.text
    stack.wait_for_result(alice, mine.json()["results"]["id"])
    # bob: by absolute path, by her relative path (his own folder has no such file), by glob
    for dataset in (str(alice_clean), prep["clean_file"], f"../user_{user_id(stack, alice)}/{prep['clean_file']}"):
        r = bob.post(f"{stack.url}/ml/", json=job(dataset, "bob-steal"))
        assert r.status_code == 400 and r.json()["field"] == "dataset", (dataset, r.text)
    r = bob.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": str(alice_clean.parent / "*.csv")})
    assert r.status_code == 400 and r.json()["field"] == "ds_glob_path", r.text
    r = bob.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": str(stack.datasets_dir / "**" / "*.csv")})
    assert r.status_code == 201, r.text  # the shared data only: alice's files are not among the matches
    theirs = wait_prepare(stack, bob, r.json()["id"])
    assert theirs["status"] == "error" or all("user_" not in f for f in theirs["pipeline_files"]["files"]), theirs


def test_records_and_errors_show_no_server_paths(stack, users):
    alice = users["alice"]
    ok = alice.post(f"{stack.url}/ml/", json=job(str(stack.datasets_dir / "train.csv"), "alice-paths"))
    assert ok.status_code == 201, ok.text
    result = stack.wait_for_result(alice, ok.json()["results"]["id"])
    (stack.datasets_dir / "broken.csv").write_bytes(b"f1,f2,label_value\n1,2\n\xff\xfe,\x00\n")
    bad = alice.post(f"{stack.url}/ml/", json=job("broken.csv", "alice-broken"))
    texts = [ok.text, json.dumps(result), bad.text,
             alice.get(f"{stack.url}/ml/").text, alice.get(f"{stack.url}/mlresults/").text,
             alice.get(f"{stack.url}/mlprepare/").text]
    if bad.status_code == 201:
        texts.append(json.dumps(stack.wait_for_result(alice, bad.json()["results"]["id"])))
    for text in texts:
        for secret in (str(stack.tmp), "redis://"):
            at = text.find(secret)
            assert at < 0, text[max(0, at - 300):at + 200]


# -- 4. a prepare after a train job in the same API process finishes -----------------------------------
def test_prepare_after_a_core_job_in_the_same_process_finishes(stack, users):
    bob = users["bob"]
    r = bob.post(f"{stack.url}/ml/", json=job("train.csv", "bob-first"))
    assert r.status_code == 201 and r.json()["job"]["status"] == "launched", r.text
    p = bob.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "recordings/*.csv", "output_dir": "after-train",
                                                  "label_rules": {"attack_ips": ["10.0.0.66"]}})
    assert p.status_code == 201, p.text
    assert wait_prepare(stack, bob, p.json()["id"])["status"] == "finished"
    stack.wait_for_result(bob, r.json()["results"]["id"])


# -- 2 and 6. bounds and late checks: a 400 naming the field at POST time ----------------------------------
LAYER = {"num_neurons": 4, "activation": "relu"}
OUT = {"num_neurons": 1, "activation": "sigmoid"}


@pytest.mark.parametrize("over,field", [
    ({"epochs": 10**7}, "epochs"),
    ({"epochs": 10**18}, "epochs"),
    ({"model_desc": {"layers": [{"num_neurons": 10**7}, OUT]}}, "model_desc.layers[0].num_neurons"),
    ({"model_desc": {"layers": [LAYER] * 1000 + [OUT]}}, "model_desc.layers"),
    ({"model_desc": {"layers": [{"num_neurons": 4000}] * 3 + [OUT]}}, "model_desc"),  # 32M weights
    ({"max_records": 10**9}, "max_records"),
    ({"label_rules": {"labels": ["a"] * 200000, "label_values": [0] * 200000}}, "label_rules.labels"),
    ({"seed": 10**30}, "seed"),
    ({"batch_size": 10**9}, "batch_size"),
    ({"cross_validate": True, "num_splits": 40}, "num_splits"),
    ({"model_desc": {"layers": [{"num_neurons": 4, "activation": "reluu"}, OUT]}},
     "model_desc.layers[0].activation"),
    ({"model_desc": {"layers": [{"num_neurons": 4, "init": {"class_name": "Zeros"}}, OUT]}},
     "model_desc.layers[0].init"),
    ({"loss": "binary_crossentropyy"}, "loss"),
    ({"optimizer": "adamm"}, "optimizer"),
    ({"metrics": ["accuracy", "nope"]}, "metrics"),
    ({"features_to_process": [f"c{i}" for i in range(6000)]}, "features_to_process"),
])
def test_bounds_are_checked_when_the_job_is_posted(stack, users, over, field):
    body = job("train.csv", "bounds", **over)
    if "cross_validate" in over:  # 240 rows, 2 classes: at most ~90 training rows of the smaller one
        body["num_splits"] = 200
    r = users["mallory"].post(f"{stack.url}/ml/", json=body)
    assert r.status_code == 400, r.text[:500]
    assert r.json()["field"] == field and r.json()["reason"], r.text[:500]


def test_too_many_predict_rows_is_a_400(stack, users):
    rows = [{"f1": 1.0, "f2": 2.0}] * 1001  # ANTINEX_MAX_PREDICT_ROWS=1000 in this stack
    r = users["mallory"].post(f"{stack.url}/ml/", json={"label": "rows", "predict_rows": rows,
                                                        "features_to_process": FEATURES})
    assert r.status_code == 400 and r.json()["field"] == "predict_rows" and "1,000" in r.json()["reason"], r.text
    folds = users["mallory"].post(f"{stack.url}/ml/", json={"label": "rows", "predict_rows": rows[:3],
                                                            "cross_validate": True, "num_splits": 5})
    assert folds.status_code == 400 and folds.json()["field"] == "num_splits", folds.text


# -- 2. runaway jobs: quota, cancel, delete, others keep being served --------------------------------------
def test_runaway_jobs_are_capped_cancelled_and_deleted(stack, users):
    mallory, alice = users["mallory"], users["alice"]
    fast = alice.post(f"{stack.url}/ml/", json=job("train.csv", "alice-fast", epochs=1))
    assert fast.status_code == 201, fast.text
    assert stack.wait_for_result(alice, fast.json()["results"]["id"])["status"] == "finished"
    trainings = stack.run_log("core-train").count("train started")
    first = mallory.post(f"{stack.url}/ml/", json=runaway("train.csv", "runaway-1"))
    second = mallory.post(f"{stack.url}/ml/", json=runaway("train.csv", "runaway-2"))
    assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
    third = mallory.post(f"{stack.url}/ml/", json=job("train.csv", "runaway-3"))
    assert third.status_code == 429 and third.json()["field"] == "quota", third.text  # ANTINEX_MAX_ACTIVE_JOBS=2
    assert third.headers["Retry-After"] == "2"
    # the client (and the pipeline's publisher) can hold a job until a slot frees instead of dropping it
    from antinex.client.ai_client import AIClient

    patient = AIClient(user="mallory", password="mallory-pass-1", url=stack.url, verbose=False)
    held: dict = {}
    waiter = threading.Thread(target=lambda: held.update(patient.run_job(job("train.csv", "runaway-3"),
                                                                          quota_wait=120)))
    waiter.start()
    first_id, second_id = first.json()["job"]["id"], second.json()["job"]["id"]
    stack.wait_log("core-train", "train started", count=trainings + 1)  # the first runaway trains now
    # another user's prediction is answered by core-predict while the runaway holds core-train
    predict = alice.post(f"{stack.url}/ml/", json={"label": "alice-fast", "publish_to_core": True,
                                                   "predict_rows": [{"f1": 2.0, "f2": 0.1}, {"f1": 0.0, "f2": 0.3}],
                                                   "features_to_process": FEATURES})
    assert predict.status_code == 201, predict.text
    answer = stack.wait_for_result(alice, predict.json()["results"]["id"], timeout=60)
    assert answer["status"] == "finished" and answer["predictions_json"]["model_source"] in ("store", "memory")
    assert mallory.get(f"{stack.url}/ml/{first_id}/").json()["status"] == "launched"  # still training
    # cancel it while it trains
    assert waiter.is_alive()  # still waiting for a slot
    cancelled = mallory.post(f"{stack.url}/ml/{first_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    waiter.join(60)
    assert held["status"] == 0, held  # submitted once the cancel freed a slot
    stack.wait_log("core-train", f"job={first_id} train stopped (cancelled)", timeout=60)
    again = mallory.post(f"{stack.url}/ml/{first_id}/cancel/")
    assert again.status_code == 409 and again.json()["field"] == "id", again.text
    assert alice.post(f"{stack.url}/ml/{second_id}/cancel/").status_code == 404  # not hers
    # the second is deleted once it trains: it stops too, and core-train is free for alice
    stack.wait_log("core-train", f"job={second_id} train started", timeout=60)
    assert mallory.delete(f"{stack.url}/ml/{second_id}/").status_code == 204
    stack.wait_log("core-train", f"job={second_id} train stopped (cancelled)", timeout=60)
    quick = alice.post(f"{stack.url}/ml/", json=job("train.csv", "alice-after", epochs=1))
    assert quick.status_code == 201, quick.text
    result = stack.wait_for_result(alice, quick.json()["results"]["id"], timeout=120)
    assert result["status"] == "finished", result["error_data"]
    record = mallory.get(f"{stack.url}/ml/{first_id}/").json()
    assert record["status"] == "cancelled" and record["error_data"]["error"] == "cancelled by its owner"
    result = mallory.get(f"{stack.url}/mlresults/{first.json()['results']['id']}/").json()
    assert result["status"] == "cancelled", result  # the worker's late "stopped" answer did not overwrite it
    assert mallory.get(f"{stack.url}/ml/{second_id}/").status_code == 404
    # the quota frees up once the jobs are over
    ok = mallory.post(f"{stack.url}/ml/", json=job("train.csv", "runaway-4"))
    assert ok.status_code == 201, ok.text
    stack.wait_for_result(mallory, ok.json()["results"]["id"])
