"""Core worker settings from the environment (see docs/core.md)."""
from __future__ import annotations

import os
from pathlib import Path

from antinex.utils.consts import DEFAULT_CORE_BROKER_URL, PREDICT_QUEUE, TRAIN_QUEUE
from antinex.utils.userdata import datasets_dirs_from_env, users_root_from_env

BROKER_URL = os.environ.get("ANTINEX_CORE_BROKER_URL") or os.environ.get("BROKER_URL") or DEFAULT_CORE_BROKER_URL
TRAIN = os.environ.get("TRAIN_QUEUE", TRAIN_QUEUE)
PREDICT = os.environ.get("PREDICT_QUEUE", PREDICT_QUEUE)
MAX_MODELS = int(os.environ.get("MAX_MODELS", "100"))
MODEL_STORE = Path(os.environ.get("ANTINEX_MODEL_STORE", "var/models")).resolve()
# confined by default, like the API: shared data read-only, each user's folder for its owner's jobs
DATASETS_DIRS = datasets_dirs_from_env()
USER_DATA_DIR = users_root_from_env(DATASETS_DIRS)
# A dead worker's unacknowledged job returns after this many seconds.
VISIBILITY_TIMEOUT = int(os.environ.get("ANTINEX_VISIBILITY_TIMEOUT", "60"))
# A running job holds a lock refreshed every third of this; a redelivered copy
# waits for it instead of running twice.
JOB_LOCK_SECONDS = int(os.environ.get("ANTINEX_JOB_LOCK_SECONDS", "30"))
RESULT_SEND_RETRIES = int(os.environ.get("ANTINEX_RESULT_SEND_RETRIES", "20"))
