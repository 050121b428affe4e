"""AIClient and the CLI scripts against the real API."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from antinex.client.ai_client import AIClient
from antinex.client.consts import FAILED, LOGIN_FAILED, SUCCESS
from antinex.client.generate import generate_ai_request
from conftest import free_port, redis_url

from ..api.conftest import job_body, write_dataset


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("client"), core_redis=redis_url("client_core"),
                   tmp_path=tmp_path_factory.mktemp("client-stack")) as s:
        write_dataset(s.datasets_dir / "train.csv")
        s.create_user("cli", "cli-pass-1")
        yield s


@pytest.fixture(scope="module")
def client(stack):
    return AIClient(user="cli", password="cli-pass-1", url=stack.url, timeout=10)


def cli(stack, script: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"antinex.client.scripts.{script}", "-u", "cli", "-p", "cli-pass-1",
                           "-a", stack.url, *args], capture_output=True, text=True, timeout=timeout)


def test_run_wait_get_and_predict(stack, client):
    started = client.run_job(job_body("train.csv", label="Client-DNN", epochs=20))
    assert started["status"] == SUCCESS, started["error"]
    done = client.wait_for_job_to_finish(started["data"]["job"]["id"], sec_to_sleep=0.3, timeout=120)
    assert done["status"] == SUCCESS, done["error"]
    result = done["data"]["result"]
    assert result["acc_data"]["accuracy"] > 50
    assert client.get_job_by_id(started["data"]["job"]["id"])["data"]["status"] == "finished"
    assert client.get_result_by_id(result["id"])["status"] == SUCCESS
    pred = client.predict_rows([{"tcp_dport": 8081, "ip_len": 300, "payload_n_quote": 6}], "Client-DNN")
    assert pred["status"] == SUCCESS, pred["error"]
    assert pred["data"]["result"]["predictions_json"]["trained"] is False


def test_wait_for_result_long_polls_and_falls_back_to_polling(stack, client):
    body = {"label": "Client-DNN", "predict_rows": [{"tcp_dport": 80, "ip_len": 60, "payload_n_quote": 0}],
            "publish_to_core": True}
    rid = client.run_job(body)["data"]["results"]["id"]
    done = client.wait_for_result(rid, timeout=120)
    assert done["status"] == SUCCESS and done["data"]["status"] == "finished", done
    # a long poll the server refuses (over ANTINEX_MAX_WAIT_SECONDS: a 400 naming wait) turns into polling
    patient = AIClient(user="cli", password="cli-pass-1", url=stack.url, timeout=200)
    assert patient.get_result_by_id(rid, wait=45)["status"] == FAILED
    rid = patient.run_job(body)["data"]["results"]["id"]
    done = patient.wait_for_result(rid, sec_to_sleep=0.2, timeout=120, long_poll=45)
    assert done["status"] == SUCCESS and done["data"]["status"] == "finished", done


def test_refused_and_failed_jobs_are_reported_not_waited_forever(stack, client):
    refused = client.run_job(job_body("train.csv", label="Client-Bad", features_to_process=["nope"]))
    assert refused["status"] == FAILED and "nope" in refused["error"]
    (stack.datasets_dir / "one_class.csv").write_text("tcp_dport,ip_len,payload_n_quote,label_value\n" +
                                                      "".join(f"{i},{i},0,1\n" for i in range(20)))
    started = client.run_job(job_body("one_class.csv", label="Client-One-Class"))
    assert started["status"] == SUCCESS, started["error"]
    done = client.wait_for_job_to_finish(started["data"]["job"]["id"], sec_to_sleep=0.3, timeout=60)
    assert done["status"] == FAILED and "two classes" in done["error"]


def test_bad_credentials_and_server_down(stack):
    assert AIClient(user="cli", password="wrong", url=stack.url).get_job_by_id(1)["status"] == LOGIN_FAILED
    down = AIClient(user="x", password="y", url=f"http://127.0.0.1:{free_port()}", timeout=2)
    started = time.time()
    res = down.run_job({"label": "x"})
    assert res["status"] == LOGIN_FAILED and "cannot reach" in res["error"]
    assert time.time() - started < 10


def test_scripts_end_to_end(stack, tmp_path):
    req = tmp_path / "req.json"
    req.write_text(json.dumps(job_body("train.csv", label="Script-DNN", epochs=5)))
    train = cli(stack, "ai_train_dnn", "-f", str(req), "-s", "--plot-dir", str(tmp_path / "plots"))
    assert train.returncode == 0, train.stderr
    assert "accuracy=" in train.stdout and "[240 rows x" in train.stdout
    assert sorted(p.name.split("_", 2)[2] for p in (tmp_path / "plots").iterdir()) == [
        "confusion_matrix.png", "training_curves.png"]
    # the ids of this job, whatever ran before it
    mine = stack.client("cli", "cli-pass-1").get(f"{stack.url}/ml/").json()["jobs"]
    job = next(j for j in mine if j["title"] == "Script-DNN")
    got = cli(stack, "ai_get_results", "-i", str(job["predict_manifest"]["result_id"]))
    assert got.returncode == 0 and "accuracy=" in got.stdout
    as_json = cli(stack, "ai_get_job", "-i", str(job["id"]), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["id"] == job["id"]


def test_script_errors_are_one_line_and_nonzero(stack, tmp_path):
    missing = cli(stack, "ai_train_dnn", "-f", str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "did not find datafile" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = subprocess.run([sys.executable, "-m", "antinex.client.scripts.ai_get_job", "-u", "cli", "-p", "nope",
                          "-a", stack.url, "-i", "1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "login failed" in bad.stderr
    absent = cli(stack, "ai_get_results", "-i", "99999")
    assert absent.returncode == 1 and "404" in absent.stderr


def test_generate_ai_request_filters_and_fills():
    template = {"label": "M", "predict_feature": "label_value", "features_to_process": ["a", "b", "label_value"],
                "ignore_features": ["b"], "dataset": "/x.csv"}
    res = generate_ai_request([{"a": "3", "b": 1, "c": 9}, {"a": None}], req_dict=template)
    assert res["status"] == SUCCESS
    body = res["data"]
    assert body["predict_rows"] == [{"a": 3.0, "label_value": -1.0}, {"a": -1.0, "label_value": -1.0}]
    assert "dataset" not in body and body["label"] == "M" and body["features_to_process"] == ["a"]
    assert generate_ai_request([], req_dict=template)["status"] == FAILED
