"""The core worker's Celery app.

    celery -A core.celery_app worker -Q webapp.train.requests --pool solo -n core-train@%h
    celery -A core.celery_app worker -Q webapp.predict.requests --pool solo -n core-predict@%h
    celery -A core.celery_app worker -Q webapp.train.requests,webapp.predict.requests --pool solo  (one for both)

Two workers, so predictions never wait behind a training; one process
consuming both queues works too (small setups, tests). ``--pool solo``: one
process holds the model cache, so every request for a label finds its model
in memory. Scale out with more worker processes or machines sharing the
broker and ANTINEX_MODEL_STORE (docs/core.md).
"""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_init

from antinex.core import settings
from antinex.utils.consts import CORE_PREDICT_TASK, CORE_TRAIN_TASK

app = Celery("antinex-core", broker=settings.BROKER_URL, include=["antinex.core.tasks"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],  # never pickle: messages come from the network
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": settings.VISIBILITY_TIMEOUT},
    task_routes={CORE_TRAIN_TASK: {"queue": settings.TRAIN}, CORE_PREDICT_TASK: {"queue": settings.PREDICT}},
    worker_hijack_root_logger=False,
)


@worker_init.connect
def _consume_the_cores_broker(sender=None, **_) -> None:
    try:
        settings.check_worker_broker(app.conf.broker_url)
    except settings.SettingError as exc:
        # SystemExit: Celery logs and ignores a signal handler's ordinary exceptions
        raise SystemExit(f"error: {exc}") from None
