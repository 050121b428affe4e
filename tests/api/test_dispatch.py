"""api/ml/dispatch.py in this process: where work goes, read back from the real Redis broker."""
from __future__ import annotations

import pytest

from antinex.utils.consts import API_JOB_TASK, CORE_PREDICT_TASK, CORE_TRAIN_TASK, RESULTS_TASK_NAME

from .conftest import take

pytestmark = pytest.mark.stack


def test_the_return_path_is_the_originals(django_here):
    from django.conf import settings

    from antinex.api.ml.dispatch import worker_result_node

    node = worker_result_node(7, 8)
    assert node == {"source": "drf", "auth_url": settings.ANTINEX_RESULT_AUTH_URL, "ssl_options": {},
                    "exchange": RESULTS_TASK_NAME, "routing_key": RESULTS_TASK_NAME, "queue": RESULTS_TASK_NAME,
                    "task_name": RESULTS_TASK_NAME, "exchange_type": "topic", "delivery_mode": 2,
                    "manifest": {"job_id": 7, "result_id": 8, "job_type": "train-and-predict"}}
    assert settings.ANTINEX_RESULT_AUTH_URL == django_here["ANTINEX_API_BROKER_URL"]  # by default, the API broker


@pytest.mark.parametrize("body,predict", [
    ({"dataset": "a.csv"}, False),
    ({"dataset": "a.csv", "publish_to_core": True}, True),
    ({"dataset": "a.csv", "publish_to_core": "true"}, True),
    ({"dataset": "a.csv", "publish_to_core": "no"}, False),
    ({"dataset": "a.csv", "publish_to_core": "maybe"}, False),  # unreadable: not a predict request
    ({"predict_rows": [{"a": 1}]}, True),
    ({"dataset": None, "predict_rows": [{"a": 1}]}, True),
    ({"dataset": "a.csv", "predict_rows": [{"a": 1}]}, False),
    ({"predict_rows": []}, False),
])
def test_which_requests_are_predictions(django_here, body, predict):
    from antinex.api.ml.dispatch import is_predict_request

    assert is_predict_request(body) is predict


def test_jobs_go_to_the_core_queues_on_the_core_broker(django_here):
    """The message the core receives: the task name and the body, on the queue the setting names."""
    from antinex.api.ml.dispatch import publish_to_core

    broker = django_here["ANTINEX_CORE_BROKER_URL"]
    train = {"label": "user_1.x", "dataset": "/data/a.csv", "job_id": 1}
    predict = {"label": "user_1.x", "predict_rows": [{"a": 1}], "job_id": 2}
    publish_to_core(train)
    publish_to_core(predict)
    assert take(broker, django_here["TRAIN_QUEUE"]) == (CORE_TRAIN_TASK, [train])
    assert take(broker, django_here["PREDICT_QUEUE"]) == (CORE_PREDICT_TASK, [predict])


def test_local_work_goes_to_the_api_workers_queue(django_here):
    from antinex.api.ml.dispatch import run_in_api_worker
    from antinex.utils.consts import API_QUEUE

    run_in_api_worker(API_JOB_TASK, 5, 6)
    assert take(django_here["ANTINEX_API_BROKER_URL"], API_QUEUE) == (API_JOB_TASK, [5, 6])


def test_an_unreachable_broker_raises_for_the_caller_to_record(django_here, monkeypatch):
    from django.conf import settings

    from antinex.api.ml.dispatch import publish_to_core
    from conftest import free_port

    from kombu.exceptions import OperationalError

    port = free_port()
    monkeypatch.setattr(settings, "ANTINEX_AUTH_URL", f"redis://127.0.0.1:{port}/0")
    with pytest.raises(OperationalError, match=f"{port}|[Cc]onnection refused"):
        publish_to_core({"label": "x", "dataset": "a.csv"})
