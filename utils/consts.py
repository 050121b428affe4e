"""Names shared by every part of AntiNex: queues, task names, status codes.

This is the one place these wire-level names live; the API, the core worker,
the pipeline and the client import them from here.
"""
from __future__ import annotations

import enum
import os

# Status codes of library calls, as the original antinex-utils/client used.
SUCCESS = 0
FAILED = 1
ERR = 2
EX = 3
NOTRUN = 4
INVALID = 5
NOTDONE = 6

STATUS_NAMES = {
    SUCCESS: "SUCCESS",
    FAILED: "FAILED",
    ERR: "ERR",
    EX: "EX",
    NOTRUN: "NOTRUN",
    INVALID: "INVALID",
    NOTDONE: "NOTDONE",
}

# Core worker queues (names from the original; override with env vars).
TRAIN_QUEUE = os.environ.get("TRAIN_QUEUE", "webapp.train.requests")
PREDICT_QUEUE = os.environ.get("PREDICT_QUEUE", "webapp.predict.requests")

# The API task the core calls with results (the original's return path).
RESULTS_TASK_NAME = "drf_network_pipeline.pipeline.tasks.task_ml_process_results"

# The API worker's queue and its own tasks (local training, dataset preparation).
API_QUEUE = "antinex.api"
API_JOB_TASK = "api.ml.tasks.task_ml_job"  # wire name of the first generation: queued messages keep working
API_PREPARE_TASK = "api.ml.tasks.task_ml_prepare"

# Packet queue between capture agents and the subscriber.
NEW_PACKETS = "NEW_PACKETS"

# Redis database numbers the original used by default.
DEFAULT_CORE_BROKER_URL = "redis://localhost:6379/6"
DEFAULT_API_BROKER_URL = "redis://localhost:6379/9"
DEFAULT_PACKETS_BROKER_URL = "redis://localhost:6379/15"

# Celery task names the core worker serves. A message on TRAIN_QUEUE or
# PREDICT_QUEUE is a Celery task message for one of these, with a single
# positional argument: the request body (the original's A3 body plus
# "manifest").
CORE_TRAIN_TASK = "antinex.core.train"
CORE_PREDICT_TASK = "antinex.core.predict"


class Status(enum.StrEnum):
    """Every status value of a job, a result or a dataset preparation (the original's names).

    One home for the API's records (api/ml/models.py builds its choices from
    these), the workers and the client; a member compares equal to its text.
    """

    REQUESTED = "requested"
    INITIAL = "initial"
    TRAINING = "training"
    PREDICTING = "predicting"
    ANALYZING = "analyzing"
    COMPILING = "compiling"
    EVALUATING = "evaluating"
    PLOTTING = "plotting"
    UPLOADING = "uploading"
    CACHING = "caching"
    WAITING = "waiting"
    COMPLETED = "completed"
    LAUNCHED = "launched"
    SETUP = "setup"
    EMAILING = "emailing"
    PENDING = "pending"
    STARTED = "started"
    RUNNING = "running"
    PROCESSING = "processing"
    PREPROC = "preproc"
    POSTPROC = "postproc"
    ARCHIVING = "archiving"
    NOTIFYING = "notifying"
    PAUSE = "pause"
    CANCEL = "cancel"
    DELETE = "delete"
    FINISHED = "finished"
    ERROR = "error"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ControlState(enum.StrEnum):
    """A record's ``control_state``."""

    ACTIVE = "active"
    FINISHED = "finished"
    PAUSE = "pause"
    CANCEL = "cancel"
    DELETE = "delete"
    ERROR = "error"
    LAUNCHED = "launched"


# a job, result or preparation in one of these is over: nothing runs for it any more
DONE_STATUSES = (Status.FINISHED, Status.ERROR, Status.CANCELLED)
