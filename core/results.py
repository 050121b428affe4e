"""Sending results back to the API: the Celery task named in worker_result_node."""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging

from celery import Celery
from kombu import Connection
from kombu.pools import connections

from antinex.core import settings

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _producer_app(auth_url: str) -> Celery:
    app = Celery("core-publish-results", broker=auth_url)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    return app


def send_results(node: dict, data: dict) -> None:
    """Send ``data`` to ``node["task_name"]`` on ``node["auth_url"]``; raises after bounded retries."""
    payload = {"results": {"data": data, "created": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")},
               "manifest": node.get("manifest") or {}}
    json.dumps(payload, allow_nan=False)  # never hand the broker something the API cannot read
    app = _producer_app(node["auth_url"])
    # an explicit connection: the celery CLI exports CELERY_BROKER_URL (the core's
    # own broker), which would otherwise override the app's broker setting
    with connections[Connection(node["auth_url"])].acquire(block=True, timeout=30) as conn:
        app.send_task(node["task_name"], args=[payload], queue=node.get("queue") or node["task_name"],
                      connection=conn, retry=True,
                      retry_policy={"max_retries": settings.RESULT_SEND_RETRIES, "interval_start": 0.2,
                                    "interval_step": 0.5, "interval_max": 3})
