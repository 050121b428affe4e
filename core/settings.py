"""Core worker settings: each read through its one declaration in utils/config.py (docs/settings.md)."""
from __future__ import annotations

from antinex.utils.config import SettingError, value


def _core(name: str):
    return value(name, "core")


# the core's broker: ANTINEX_CORE_BROKER_URL, or ANTINEX_AUTH_URL (the API's name for it), or BROKER_URL
# (the original core's name, which the celery command line also reads: see check_worker_broker)
BROKER_URL = _core("ANTINEX_CORE_BROKER_URL")
TRAIN = _core("TRAIN_QUEUE")
PREDICT = _core("PREDICT_QUEUE")
MAX_MODELS = _core("MAX_MODELS")
MODEL_STORE = _core("ANTINEX_MODEL_STORE").resolve()
# confined by default, like the API: shared data read-only, each user's folder for its owner's jobs
DATASETS_DIRS = _core("ANTINEX_DATASETS_DIR")
USER_DATA_DIR = _core("ANTINEX_USER_DATA_DIR")
# A dead worker's unacknowledged job returns after this many seconds.
VISIBILITY_TIMEOUT = _core("ANTINEX_CORE_VISIBILITY_TIMEOUT")
# A running job holds a lock refreshed every third of this; a redelivered copy
# waits for it instead of running twice.
JOB_LOCK_SECONDS = _core("ANTINEX_JOB_LOCK_SECONDS")
RESULT_SEND_RETRIES = _core("ANTINEX_RESULT_SEND_RETRIES")


def check_worker_broker(consumed: str) -> None:
    """Refuse to run a worker that consumes another broker than the core's (``consumed``: its app's broker).

    The celery command line takes its broker from ``BROKER_URL`` and wins
    over the app's own setting; started in the API's environment (where
    ``BROKER_URL`` is the API broker) a core worker would wait on queues
    nothing is ever sent to.
    """
    if consumed.rstrip("/") != BROKER_URL.rstrip("/"):
        raise SettingError(f"this core worker would consume {consumed!r} (BROKER_URL, which the celery command "
                           f"line reads) but the core's broker is {BROKER_URL!r} (ANTINEX_CORE_BROKER_URL): start it "
                           "with BROKER_URL set to the core's broker, or unset")
