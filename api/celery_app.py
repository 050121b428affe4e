"""The API worker's Celery app: ``celery -A api.celery_app worker``.

It runs local training (when the core is off), dataset preparation, and
the results task the core calls back (RESULTS_TASK_NAME).
"""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "antinex.api.settings")

app = Celery("drf_network_pipeline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["antinex.api.ml"])
