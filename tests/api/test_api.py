"""The REST API for real: PostgreSQL, Redis, gunicorn and the API Celery worker."""
from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from .conftest import job_body

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def alice(stack):
    stack.create_user("alice", "alice-pass-1", "alice@example.com")
    return stack.client("alice", "alice-pass-1")


@pytest.fixture(scope="module")
def bob(stack):
    stack.create_user("bob", "bob-pass-1", "bob@example.com")
    return stack.client("bob", "bob-pass-1")


@pytest.fixture(scope="module")
def trained(stack, alice):
    r = alice.post(f"{stack.url}/ml/", json=job_body(str(stack.datasets_dir / "train.csv"), epochs=25))
    assert r.status_code == 201, r.text
    body = r.json()
    result = stack.wait_for_result(alice, body["job"]["predict_manifest"]["result_id"])
    return body, result


def test_register_validation_messages(stack):
    url = f"{stack.url}/users/"
    cases = [({"username": "x", "password": "abcd"}, "missing email address"),
             ({"email": "a@b.co", "password": "abcd"}, "missing username"),
             ({"email": "a@b.co", "username": "u" * 31, "password": "abcd"}, "username too long"),
             ({"email": "a@b.co", "username": "u1"}, "missing password"),
             ({"email": "a@b.co", "username": "u1", "password": "abc"}, "password too short"),
             ({"email": "not-an-email", "username": "u1", "password": "abcd"}, "Please enter a valid email")]
    for body, reason in cases:
        r = requests.post(url, json=body, timeout=10)
        assert r.status_code == 400 and reason in r.json()["error"], (body, r.text)
    ok = requests.post(url, json={"email": "c@d.co", "username": "carol", "password": "abcd"}, timeout=10)
    assert ok.status_code == 201 and "password" not in ok.json()
    dup = requests.post(url, json={"email": "e@f.co", "username": "carol", "password": "abcd"}, timeout=10)
    assert dup.status_code == 400 and "already in use" in dup.json()["error"]


def test_token_formats_and_bad_credentials(stack, alice):
    r = requests.post(f"{stack.url}/api-token-auth/", json={"username": "alice", "password": "alice-pass-1"},
                      timeout=10)
    token = r.json()["token"]
    for scheme in ("JWT", "Bearer"):
        me = requests.get(f"{stack.url}/users/", headers={"Authorization": f"{scheme} {token}"}, timeout=10)
        assert me.status_code == 200 and me.json()["username"] == "alice"
    bad = requests.post(f"{stack.url}/api-token-auth/", json={"username": "alice", "password": "nope"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]
    assert requests.get(f"{stack.url}/ml/", timeout=10).status_code == 401
    forged = token.rsplit(".", 1)[0] + "." + base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")
    r = requests.get(f"{stack.url}/ml/", headers={"Authorization": f"JWT {forged}"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]
    refresh = requests.post(f"{stack.url}/api-token-refresh/", json={"refresh": r.request and
                                                                     requests.post(f"{stack.url}/api-token-auth/",
                                                                                   json={"username": "alice",
                                                                                         "password": "alice-pass-1"},
                                                                                   timeout=10).json()["refresh"]},
                            timeout=10)
    assert refresh.status_code == 200 and refresh.json()["access"]


def test_train_end_to_end(stack, trained):
    body, result = trained
    # POST answers with one moment of a race with the API worker; whichever it caught, the job and its
    # result agree (the exact status a submission records: tests/api/test_submit.py)
    job, answered = body["job"], body["results"]
    moment = (job["status"], answered["status"])
    assert moment in {("initial", "initial"), ("started", "processing"), ("finished", "finished")}, moment
    assert answered["id"] == result["id"] == job["predict_manifest"]["result_id"] and answered["job_id"] == job["id"]
    if moment == ("finished", "finished"):
        assert answered["acc_data"] == result["acc_data"]
    else:
        assert answered["acc_data"] == {"accuracy": -1.0} and job["error_data"] == answered["error_data"] == {}
    assert result["status"] == "finished", result["error_data"]
    assert result["acc_data"]["accuracy"] > 50
    assert result["metrics"]["evaluated_on"] == "held-out"
    assert len(result["metrics"]["confusion_matrix"]) == 2
    preds = result["predictions_json"]["predictions"]
    assert len(preds) == 240
    assert {"_original_label_value", "label_value", "label_name", "_row_idx", "_count"} <= set(preds[0])
    assert result["history"]["loss"]


def test_job_and_result_reads_and_lists(stack, alice, trained):
    body, result = trained
    job = alice.get(f"{stack.url}/ml/{body['job']['id']}/").json()
    assert job["status"] == "finished" and job["predict_manifest"]["result_id"] == result["id"]
    jobs = alice.get(f"{stack.url}/ml/").json()
    assert jobs["count"] >= 1 and jobs["jobs"][0]["id"] == body["job"]["id"]
    results = alice.get(f"{stack.url}/mlresults/").json()
    assert results["results"][0]["id"] == result["id"] and "predictions_json" not in results["results"][0]


def test_predict_reuses_the_stored_model(stack, alice, trained):
    rows = [{"tcp_dport": 8081, "ip_len": 300, "payload_n_quote": 5},
            {"tcp_dport": 80, "ip_len": 300, "payload_n_quote": 0}]
    r = alice.post(f"{stack.url}/ml/", json={"label": "Api-Test-DNN", "predict_rows": rows,
                                             "predict_feature": "label_value", "publish_to_core": True})
    assert r.status_code == 201, r.text
    result = stack.wait_for_result(alice, r.json()["results"]["id"])
    assert result["status"] == "finished", result["error_data"]
    assert result["predictions_json"]["trained"] is False
    got = [p["label_value"] for p in result["predictions_json"]["predictions"]]
    assert got == [1, 0]


def test_isolation_between_users(stack, alice, bob, trained):
    body, result = trained
    for path in (f"ml/{body['job']['id']}/", f"mlresults/{result['id']}/"):
        assert bob.get(f"{stack.url}/{path}").status_code == 404
        assert bob.delete(f"{stack.url}/{path}").status_code == 404
    assert bob.get(f"{stack.url}/ml/").json()["jobs"] == []
    alice_id = alice.get(f"{stack.url}/users/").json()["id"]
    assert bob.get(f"{stack.url}/users/{alice_id}/").status_code == 404
    assert bob.put(f"{stack.url}/users/{alice_id}/", json={"email": "x@y.co"}).status_code == 404
    # bob's model with the same label is his own: predicting without training data fails cleanly
    r = bob.post(f"{stack.url}/ml/", json={"label": "Api-Test-DNN", "predict_rows": [{"tcp_dport": 1}],
                                           "publish_to_core": True})
    res = stack.wait_for_result(bob, r.json()["results"]["id"])
    assert res["status"] == "error" and res["error_data"]["error"]


def test_novelty_detector_trained_stored_and_reused(stack, alice):
    """"novelty" trains a novelty detector beside the network; a later predict loads both from the store."""
    r = alice.post(f"{stack.url}/ml/", json=job_body(str(stack.datasets_dir / "train.csv"), label="Api-Novelty",
                                                     novelty=0.05))
    assert r.status_code == 201, r.text
    trained = stack.wait_for_result(alice, r.json()["results"]["id"])
    assert trained["status"] == "finished", trained["error_data"]
    assert trained["metrics"]["novelty"]["contamination"] == 0.05
    assert {p["_novel"] for p in trained["predictions_json"]["predictions"]} <= {0, 1}
    user_id = alice.get(f"{stack.url}/users/").json()["id"]
    assert (stack.model_store / f"user_{user_id}.api-novelty" / "novelty.npz").is_file()
    rows = [{"tcp_dport": 80, "ip_len": 700, "payload_n_quote": 0}, {"tcp_dport": 8081, "ip_len": 300,
                                                                     "payload_n_quote": 6}]
    r = alice.post(f"{stack.url}/ml/", json={"label": "Api-Novelty", "predict_rows": rows, "publish_to_core": True})
    again = stack.wait_for_result(alice, r.json()["results"]["id"])
    assert again["status"] == "finished" and again["predictions_json"]["trained"] is False
    preds = again["predictions_json"]["predictions"]
    assert [p["label_value"] for p in preds][1] == 1 and all(p["_novel"] in (0, 1) for p in preds)


def test_wait_parameter(stack, alice, bob, trained):
    """?wait= is validated, scoped to the owner, and a finished result comes back at once."""
    rid = trained[1]["id"]
    url = f"{stack.url}/mlresults/{rid}/"
    done = alice.get(url, params={"wait": "30"}, timeout=60)
    assert done.status_code == 200 and done.json()["status"] == "finished"
    assert done.json()["predictions_json"] == trained[1]["predictions_json"]
    assert bob.get(url, params={"wait": "5"}).status_code == 404  # another user's: not found, not waited on
    for bad in ("soon", "-1", "31", "nan", "inf", "1e9"):
        r = alice.get(url, params={"wait": bad})
        assert r.status_code == 400 and r.json()["field"] == "wait", (bad, r.text)
        assert "from 0 to 30" in r.json()["reason"]


@pytest.mark.parametrize("payload,field", [
    ({"label": "x"}, "dataset"),
    ({"label": "x", "dataset": "/etc/passwd"}, "dataset"),
    ({"label": "x", "dataset": "../../etc/passwd"}, "dataset"),
    ({"label": "x", "dataset": "train.csv", "epochs": "many"}, "epochs"),
    ({"label": "x", "dataset": "train.csv", "ml_type": "xgb"}, "ml_type"),
    ({"label": "x", "predict_rows": []}, "predict_rows"),
    ({"label": "x", "dataset": "train.csv", "novelty": 2}, "novelty"),
    ({"label": "x", "dataset": "train.csv", "novelty": "some"}, "novelty"),
])
def test_bad_ml_requests_get_reasons(stack, alice, payload, field):
    r = alice.post(f"{stack.url}/ml/", json=payload)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field and r.json()["reason"]


def test_unknown_columns_are_refused_before_queueing(stack, alice):
    body = job_body("train.csv", label="bad-cols", features_to_process=["tcp_dport", "nope"])
    r = alice.post(f"{stack.url}/ml/", json=body)
    assert r.status_code == 400 and r.json()["field"] == "features_to_process" and "nope" in r.json()["reason"]
    r = alice.post(f"{stack.url}/ml/", json=job_body("train.csv", label="bad-target", predict_feature="nothere"))
    assert r.status_code == 400 and r.json()["field"] == "predict_feature"


def test_errors_found_while_training_end_as_job_errors(stack, alice):
    (stack.datasets_dir / "one_class.csv").write_text("tcp_dport,ip_len,payload_n_quote,label_value\n" +
                                                      "".join(f"{i},{i},0,1\n" for i in range(20)))
    r = alice.post(f"{stack.url}/ml/", json=job_body("one_class.csv", label="one-class"))
    assert r.status_code == 201
    res = stack.wait_for_result(alice, r.json()["results"]["id"])
    assert res["status"] == "error" and "two classes" in res["error_data"]["error"]
    job = alice.get(f"{stack.url}/ml/{r.json()['job']['id']}/").json()
    assert job["status"] == "error" and "two classes" in job["error_data"]["error"]


def test_expired_token_is_rejected(stack, alice):
    import datetime as dt

    import jwt

    me = alice.get(f"{stack.url}/users/").json()
    now = dt.datetime.now(dt.timezone.utc)
    expired = jwt.encode({"token_type": "access", "user_id": str(me["id"]), "jti": "expired-test",
                          "iat": now - dt.timedelta(hours=2), "exp": now - dt.timedelta(hours=1)},
                         "antinex-development-key-do-not-use-in-production", algorithm="HS256")
    r = requests.get(f"{stack.url}/ml/", headers={"Authorization": f"JWT {expired}"}, timeout=10)
    assert r.status_code == 401 and "expired" in r.text.lower()


def test_malformed_json_and_wrong_body(stack, alice):
    r = alice.post(f"{stack.url}/ml/", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]
    r = alice.post(f"{stack.url}/ml/", json=[1, 2])
    assert r.status_code == 400


def test_oversized_bodies_are_refused(stack, alice):
    rows = [{"tcp_dport": 80, "ip_len": i, "payload_n_quote": 0, "pad": "x" * 200} for i in range(12_000)]
    r = alice.post(f"{stack.url}/ml/", json={"label": "big", "predict_rows": rows})
    assert r.status_code in (400, 413), r.text[:300]
    assert "too large" in r.json()["error"].lower()
    # the unread body stays on the connection: it must be closed, not kept alive for the next request
    assert r.headers.get("Connection", "").lower() == "close", r.headers
    for _ in range(3):
        assert alice.get(f"{stack.url}/ml/").json()["count"] >= 0  # the server and the session are fine


def test_delete_is_real(stack, alice):
    r = alice.post(f"{stack.url}/ml/", json=job_body("train.csv", label="to-delete", epochs=1))
    job_id, result_id = r.json()["job"]["id"], r.json()["results"]["id"]
    stack.wait_for_result(alice, result_id)
    assert alice.delete(f"{stack.url}/ml/{job_id}/").status_code == 204
    assert alice.get(f"{stack.url}/ml/{job_id}/").status_code == 404
    assert alice.get(f"{stack.url}/mlresults/{result_id}/").status_code == 404


def test_prepare_merges_with_real_labels(stack, alice):
    rec = stack.datasets_dir / "recordings"
    (rec / "attack").mkdir(parents=True)
    (rec / "normal").mkdir(parents=True)
    (rec / "attack" / "a.csv").write_text("idx,ip_len,tcp_dport,ip_src\n0,60,80,10.0.0.66\n1,70,80,10.0.0.66\n")
    (rec / "normal" / "n.csv").write_text("idx,ip_len,tcp_dport,ip_src\n0,61,80,10.0.0.5\n")
    r = alice.post(f"{stack.url}/mlprepare/", json={"title": "t", "ds_glob_path": "recordings/*/*.csv",
                                                    "label_rules": {"attack_ips": ["10.0.0.66"]}})
    assert r.status_code == 201, r.text
    deadline = time.time() + 60
    while time.time() < deadline:
        prep = alice.get(f"{stack.url}/mlprepare/{r.json()['id']}/").json()
        if prep["status"] in ("finished", "error"):
            break
        time.sleep(0.3)
    assert prep["status"] == "finished", prep["error_data"]
    assert "ip_len" in prep["post_proc"]["features_to_process"]
    assert "ip_src" not in prep["post_proc"]["features_to_process"]
    import pandas as pd

    # outputs land in her own folder; the record names them relative to it
    assert prep["clean_file"] == "prepared/cleaned_attack_scans.csv"
    me = alice.get(f"{stack.url}/users/").json()["id"]
    clean = pd.read_csv(stack.datasets_dir / "users" / f"user_{me}" / prep["clean_file"])
    assert sorted(clean["label_value"]) == [0, 1, 1]
    bad = alice.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "/etc/*"})
    assert bad.status_code == 400 and bad.json()["field"] == "ds_glob_path", bad.text
    outside = alice.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "x/*.csv", "full_file": "/tmp/x.csv"})
    assert outside.status_code == 400 and outside.json()["field"] == "full_file"


@pytest.mark.parametrize("field,value", [("output_dir", [None, None]), ("clean_file", 5.3e-125),
                                         ("title", {"a": 1}), ("full_file", "a\x00b"), ("version", "x"),
                                         ("output_dir", "\udbde"), ("pipeline_files", {"\x00": "x"}),
                                         ("label_rules", {"\udbcdY": None})])
def test_prepare_refuses_malformed_fields(stack, alice, field, value):
    """Found by schemathesis: these were 500s."""
    r = alice.post(f"{stack.url}/mlprepare/", json={"ds_glob_path": "x/*.csv", field: value})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field and r.json()["reason"]


@pytest.mark.parametrize("over", [{"title": "a\x00b"}, {"meta_data": {"\udbcd": 1}},
                                  {"predict_rows": [{"f\x00": 1}]}])
def test_ml_refuses_text_the_database_cannot_store(stack, alice, over):
    body = {"label": "nul", "predict_rows": [{"tcp_dport": 80}], **over}
    r = alice.post(f"{stack.url}/ml/", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == next(iter(over)) and "cannot be stored" in r.json()["reason"]


def test_swagger_and_schema(stack):
    assert requests.get(f"{stack.url}/swagger/", timeout=10).status_code == 200
    schema = requests.get(f"{stack.url}/swagger.json", timeout=10).json()
    for path in ("/ml/", "/mlresults/", "/mlprepare/", "/users/"):
        assert path in schema["paths"]
    assert "JWT" in schema["securityDefinitions"]
    assert requests.get(f"{stack.url}/docs/", timeout=10).status_code == 200


def test_training_data_overrides_like_the_schema(stack, alice):
    """training_data carrying ml_type or job_id was a 500; the core trains with what the API validated."""
    body = job_body("train.csv", label="td-override", epochs=7,
                    training_data=json.dumps({"ml_type": "classification", "job_id": 99999, "epochs": 1}))
    r = alice.post(f"{stack.url}/ml/", json=body)
    assert r.status_code == 201, r.text
    manifest = r.json()["job"]["predict_manifest"]
    assert manifest["epochs"] == 1 and manifest["job_id"] == r.json()["job"]["id"]
    result = stack.wait_for_result(alice, manifest["result_id"])
    assert result["status"] == "finished" and len(result["history"]["loss"]) == 1, result["error_data"]


def test_every_error_has_the_one_shape(stack, alice):
    """{"error", "field", "reason"} from every endpoint and every kind of refusal (api/ml/errors.py)."""
    url = stack.url
    cases = [
        (alice.post(f"{url}/ml/", data="{not json", headers={"Content-Type": "application/json"}), 400, "body"),
        (alice.post(f"{url}/ml/", json=[1, 2]), 400, "body"),
        (alice.post(f"{url}/ml/", json=job_body("train.csv", pre_proc="{bad")), 400, "pre_proc"),
        (alice.post(f"{url}/ml/", json=job_body("train.csv", epochs="x")), 400, "epochs"),
        (alice.post(f"{url}/mlprepare/", json={"ds_glob_path": "x/*.csv", "meta_suffix": "a/b"}), 400, "meta_suffix"),
        (requests.post(f"{url}/users/", json={"username": "x", "password": "abcd"}, timeout=10), 400, "email"),
        (requests.post(f"{url}/api-token-auth/", json={"username": "alice", "password": "no"}, timeout=10), 400,
         None),
        (requests.get(f"{url}/ml/", timeout=10), 401, "Authorization"),
        (requests.get(f"{url}/ml/", headers={"Authorization": "JWT x.y.z"}, timeout=10), 401, "Authorization"),
        (alice.get(f"{url}/ml/987654/"), 404, "id"),
        (alice.put(f"{url}/ml/", json={}), 405, "method"),
        (alice.get(f"{url}/mlresults/1/", params={"wait": "x"}), 400, "wait"),
        (requests.post(f"{url}/api-token-refresh/", json={"refresh": "nope"}, timeout=10), 401, "Authorization"),
    ]
    for r, code, field in cases:
        body = r.json()
        assert r.status_code == code, (r.request.method, r.request.url, r.text)
        assert {"error", "field", "reason"} <= body.keys(), r.text
        assert body["field"] == field and isinstance(body["error"], str) and body["reason"], r.text
