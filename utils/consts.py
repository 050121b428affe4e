"""Names shared by every part of AntiNex: queues, task names, result codes, statuses.

This is the one place these wire-level names live; the API, the core worker,
the pipeline and the client import them from here. (Which queue a process
uses is a setting, ``TRAIN_QUEUE``/``PREDICT_QUEUE`` in utils/config.py,
whose defaults are the names below.)
"""
from __future__ import annotations

import enum


class Result(enum.IntEnum):
    """The result code of a library or client call (``{"status": code, ...}``), and of a job's ``data.status``.

    The two originals disagreed on 3 and 4 (antinex-utils: EX, NOTRUN;
    antinex-client: NOT_SET, DISABLED). Only the client's ever reached a
    user: ``generate_ai_request`` answers DISABLED (4) when publishing is
    off, and scripts compare with the published client's constants; the
    utils' EX and NOTRUN were never returned. So 3 and 4 are the client's
    (docs/api.md "Result codes"). ERR and ERROR are one code.
    """

    SUCCESS = 0
    FAILED = 1
    ERR = 2
    NOT_SET = 3
    DISABLED = 4
    ERROR = 2  # the client's name for ERR (an alias: the same member)


SUCCESS = Result.SUCCESS
FAILED = Result.FAILED
ERR = ERROR = Result.ERR
NOT_SET = Result.NOT_SET
DISABLED = Result.DISABLED
STATUS_NAMES = {code.value: code.name for code in Result}

# Core worker queues (the original's names; the TRAIN_QUEUE and PREDICT_QUEUE settings may rename them).
TRAIN_QUEUE = "webapp.train.requests"
PREDICT_QUEUE = "webapp.predict.requests"

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
