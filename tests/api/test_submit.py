"""api/ml/submit.py in this process: what POST /ml/ records, answers and queues, read back from the real broker.

The live-stack test of POST /ml/ (tests/api/test_api.py) can only see a
moment of a race with the worker; here nothing consumes the queues, so the
status a submission answers with is exact.
"""
from __future__ import annotations

from queue import Empty

import pytest

from antinex.utils.consts import API_JOB_TASK, API_QUEUE, CORE_PREDICT_TASK, ControlState, Status

from .conftest import take

pytestmark = pytest.mark.stack

ROWS = [{"tcp_dport": 80, "ip_len": 60}, {"tcp_dport": 8080, "ip_len": 900}]


@pytest.fixture(autouse=True)
def empty_queues(django_here):
    """No message left over by an earlier test (one that failed before reading its own back)."""
    from kombu import Connection

    core, api = django_here["ANTINEX_CORE_BROKER_URL"], django_here["ANTINEX_API_BROKER_URL"]
    for url, name in ((core, django_here["PREDICT_QUEUE"]), (core, django_here["TRAIN_QUEUE"]), (api, API_QUEUE)):
        with Connection(url) as conn:
            queue = conn.SimpleQueue(name)
            queue.clear()
            queue.close()


def submit(owner, body: dict | None = None):
    """POST /ml/'s submission of ``body`` (by default: predictions on ROWS) for ``owner``."""
    from antinex.api.ml.submit import submit_job
    from antinex.utils.request import parse_request

    return submit_job(owner, parse_request(body or {"label": "Submit-DNN", "predict_rows": ROWS}))


def stored(done):
    """The submission's records as the database holds them."""
    from antinex.api.ml.models import MLJob, MLJobResult

    return MLJob.objects.get(pk=done.job.pk), MLJobResult.objects.get(pk=done.result.pk)


def test_a_core_job_is_launched_and_the_core_gets_its_manifest(django_here, owner):
    from django.conf import settings

    assert settings.ANTINEX_WORKER_ENABLED
    done = submit(owner)
    job, result = stored(done)
    assert done.queued is True
    assert done.job.status == done.result.status == job.status == result.status == Status.LAUNCHED
    assert result.acc_data == {"accuracy": -1.0} and job.error_data == {} and result.job_id == job.id
    assert job.num_rows == len(ROWS)
    task, args = take(django_here["ANTINEX_CORE_BROKER_URL"], django_here["PREDICT_QUEUE"])
    assert task == CORE_PREDICT_TASK and args == [job.predict_manifest]
    message = args[0]
    # the user's own model name, the ids of these records, the rows as sent
    assert message["label"] == f"user_{owner.id}.Submit-DNN" and message["use_model_name"] == "Submit-DNN"
    assert (message["job_id"], message["result_id"]) == (job.id, result.id)
    assert message["manifest"]["job_id"] == job.id and message["manifest"]["result_id"] == result.id
    assert message["worker_result_node"]["manifest"]["job_id"] == job.id
    assert message["predict_rows"] == ROWS


def test_an_api_worker_job_is_initial_and_queued_by_its_ids(django_here, owner, monkeypatch):
    from django.conf import settings

    monkeypatch.setattr(settings, "ANTINEX_WORKER_ENABLED", False)
    done = submit(owner)
    job, result = stored(done)
    assert done.queued is True
    assert done.job.status == done.result.status == job.status == result.status == Status.INITIAL
    assert result.acc_data == {"accuracy": -1.0} and job.error_data == {}
    assert take(django_here["ANTINEX_API_BROKER_URL"], API_QUEUE) == (API_JOB_TASK, [job.id, result.id])


def test_a_broker_that_refuses_leaves_the_job_in_error_with_the_reason(django_here, owner, monkeypatch):
    from django.conf import settings

    from conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setattr(settings, "ANTINEX_AUTH_URL", dead)
    done = submit(owner)
    job, result = stored(done)
    assert done.queued is False  # the view answers 503 with these records
    assert done.job.status == done.result.status == job.status == result.status == Status.ERROR
    assert job.control_state == ControlState.ERROR
    reason = job.error_data["error"]
    assert reason.startswith("could not queue the job: ") and "OperationalError" in reason, reason
    assert result.error_data == job.error_data
    assert done.job.error_data == job.error_data  # what the answer carries is what is stored


def test_quota_and_bad_data_record_and_queue_nothing(django_here, owner, monkeypatch, tmp_path):
    from dataclasses import replace

    from antinex.api.ml import jobs
    from antinex.api.ml.models import MLJob
    from antinex.utils.request import RequestError

    monkeypatch.setattr(jobs, "LIMITS", replace(jobs.LIMITS, max_active_jobs=1))
    first = submit(owner)  # launched: active until it finishes
    assert take(django_here["ANTINEX_CORE_BROKER_URL"], django_here["PREDICT_QUEUE"])[1][0]["job_id"] == first.job.id
    with pytest.raises(jobs.QuotaExceeded, match="ANTINEX_MAX_ACTIVE_JOBS"):
        submit(owner, {"label": "Second", "predict_rows": ROWS})
    data = tmp_path / "d.csv"
    data.write_text("a,b,label_value\n1,2,0\n3,4,1\n")
    with pytest.raises(RequestError, match="unknown columns: nope"):
        submit(owner, {"label": "Third", "dataset": str(data), "features_to_process": ["nope"]})
    assert list(MLJob.objects.filter(user=owner).values_list("title", flat=True)) == ["Submit-DNN"]
    for queue in ("PREDICT_QUEUE", "TRAIN_QUEUE"):
        with pytest.raises(Empty):  # nothing was queued for the refused ones
            take(django_here["ANTINEX_CORE_BROKER_URL"], django_here[queue], timeout=0.5)
