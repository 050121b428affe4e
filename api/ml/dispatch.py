"""Where ML work goes: the core worker (Celery on the core broker) or the API worker."""
from __future__ import annotations

import functools

from celery import Celery
from django.conf import settings
from kombu import Connection
from kombu.pools import connections

from antinex.utils.consts import CORE_PREDICT_TASK, CORE_TRAIN_TASK, RESULTS_TASK_NAME
from antinex.utils.request_values import as_bool


def worker_result_node(job_id: int, result_id: int) -> dict:
    """The return path the core uses to send results back (the original's shape)."""
    return {
        "source": "drf",
        "auth_url": settings.ANTINEX_RESULT_AUTH_URL,
        "ssl_options": {},
        "exchange": RESULTS_TASK_NAME,
        "routing_key": RESULTS_TASK_NAME,
        "queue": RESULTS_TASK_NAME,
        "task_name": RESULTS_TASK_NAME,
        "exchange_type": "topic",
        "delivery_mode": 2,
        "manifest": {"job_id": job_id, "result_id": result_id, "job_type": "train-and-predict"},
    }


def is_predict_request(body: dict) -> bool:
    """publish_to_core (or rows without a dataset) means: reuse the label's model if it exists."""
    publish = body.get("publish_to_core")
    try:
        publish = as_bool("publish_to_core", publish) if publish is not None else False
    except ValueError:
        publish = False
    return publish or (not body.get("dataset") and bool(body.get("predict_rows")))


@functools.lru_cache(maxsize=4)
def core_app(broker_url: str) -> Celery:
    """A publisher for the core's broker. Never the current app: tasks of the API
    worker (prepare, local training) queued after it would go to the core's broker,
    where nothing consumes them."""
    app = Celery("antinex-api-publisher", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True,
                    broker_transport_options={"max_retries": 3})
    return app


def run_in_api_worker(task_name: str, *args) -> None:
    """Queue one of the API worker's tasks through the API's own Celery app (its broker, its queue).

    Eager mode (CELERY_ENABLED=0) runs it here and now, as the app is set up to.
    """
    from antinex.api.celery_app import app
    import antinex.api.ml.tasks  # noqa: F401  (registers the shared tasks on the app)

    app.tasks[task_name].apply_async(args=list(args))


def publish_to_core(body: dict) -> None:
    """Queue the request on the core's train or predict queue (raises on broker errors)."""
    predict = is_predict_request(body)
    app = core_app(settings.ANTINEX_AUTH_URL)
    # explicit connection: CELERY_BROKER_URL (set by the celery CLI) would win over the app's broker;
    # pooled, so the queue is declared once per connection instead of once per request
    with connections[Connection(settings.ANTINEX_AUTH_URL)].acquire(block=True, timeout=10) as conn:
        app.send_task(
            CORE_PREDICT_TASK if predict else CORE_TRAIN_TASK, args=[body],
            queue=settings.PREDICT_QUEUE if predict else settings.TRAIN_QUEUE, connection=conn,
            retry=True, retry_policy={"max_retries": 3, "interval_start": 0.1, "interval_step": 0.3},
        )
