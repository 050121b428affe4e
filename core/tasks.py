"""The core's two tasks. Acknowledged only after the result is sent.

Exactly-once per job: a Redis lock (refreshed while the job runs) keeps a
redelivered copy from running beside the original, and a done-marker makes
a copy that arrives after the result was sent a no-op.
"""
from __future__ import annotations

import logging
import threading

import redis

from core import control, settings  # noqa: F401  (control registers the remote commands)
from core.celery_app import app
from core.processor import Processor, result_node
from core.results import send_results
from utils.consts import CORE_PREDICT_TASK, CORE_TRAIN_TASK, ERR

log = logging.getLogger(__name__)
_processor: Processor | None = None
_redis: redis.Redis | None = None
DONE_TTL = 7 * 24 * 3600


def processor() -> Processor:
    global _processor
    if _processor is None:
        _processor = Processor(settings.MODEL_STORE, settings.MAX_MODELS, settings.DATASETS_DIRS)
    return _processor


def _r() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.BROKER_URL)
    return _redis


def _job_id(body) -> str | None:
    if isinstance(body, dict):
        manifest = body.get("manifest") if isinstance(body.get("manifest"), dict) else {}
        job = manifest.get("job_id", body.get("job_id"))
        if job is not None:
            return str(job)
    return None


class _JobLock:
    """SET NX with a TTL, refreshed by a thread while the job runs."""

    def __init__(self, job: str):
        self.key = f"antinex:core:lock:{job}"
        self.stop = threading.Event()
        self.thread = None

    def acquire(self) -> bool:
        if not _r().set(self.key, "1", nx=True, ex=settings.JOB_LOCK_SECONDS):
            return False
        self.thread = threading.Thread(target=self._refresh, daemon=True)
        self.thread.start()
        return True

    def _refresh(self) -> None:
        while not self.stop.wait(settings.JOB_LOCK_SECONDS / 3):
            try:
                _r().expire(self.key, settings.JOB_LOCK_SECONDS)
            except redis.RedisError as exc:  # broker restarting: keep the job running, try again
                log.warning("could not refresh %s: %s", self.key, exc)

    def release(self) -> None:
        self.stop.set()
        try:
            _r().delete(self.key)
        except redis.RedisError as exc:  # the lock expires on its own
            log.warning("could not release %s: %s", self.key, exc)


def run(task, body, kind: str) -> None:
    node = result_node(body)
    job = _job_id(body)
    done_key = f"antinex:core:done:{job}" if job else None
    if done_key and _r().exists(done_key):
        log.info("job %s already answered: redelivered copy acknowledged", job)
        return
    lock = _JobLock(job) if job else None
    if lock and not lock.acquire():
        # another worker runs it right now; come back later (this copy is acked, the retry is new)
        raise task.retry(countdown=settings.JOB_LOCK_SECONDS, max_retries=None)
    try:
        try:
            data = processor().handle(body, kind)
        except Exception as exc:  # a poisoned request must end as an error result, not a dead worker
            log.exception("job %s failed", job)
            data = {"status": ERR, "err": f"{type(exc).__name__}: {exc}"}
        if node is None:
            log.warning("job %s has no worker_result_node: result not sent (status=%s)", job, data.get("status"))
        else:
            try:
                send_results(node, data)
            except Exception as exc:  # the API's broker stayed away through every retry
                # a failed task would be acked and the job lost: queue it again instead
                log.error("job %s: results not delivered (%s); retrying the job", job, exc)
                raise task.retry(exc=exc, countdown=settings.JOB_LOCK_SECONDS, max_retries=None)
        if done_key:
            _r().set(done_key, "1", ex=DONE_TTL)
        log.info("%s job=%s label=%s status=%s source=%s predictions=%s", kind, job,
                 body.get("label") if isinstance(body, dict) else None, data.get("status"),
                 data.get("model_source"), data.get("num_predictions"))
    finally:
        if lock:
            lock.release()


@app.task(name=CORE_TRAIN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def train_request(self, body) -> None:
    """Always (re)train the model named by ``label``, then predict."""
    run(self, body, "train")


@app.task(name=CORE_PREDICT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def predict_request(self, body) -> None:
    """Reuse the label's model (memory, then store); train only if it exists nowhere."""
    run(self, body, "predict")
