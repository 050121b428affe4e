"""The core's two tasks. Acknowledged only after the result is sent.

Exactly-once per job: a Redis lock (refreshed while the job runs) keeps a
redelivered copy from running beside the original, and a done-marker makes
a copy that arrives after the result was sent a no-op.

Stopping (utils/jobcontrol.py): a running job asks a StopCheck after every
training batch. Cancelled by its owner or past ANTINEX_JOB_TIME_LIMIT, it
ends with an error result; stopped by a worker shutdown (SIGTERM), it is
queued again and the worker exits.

A predict task never trains: a predict request whose model exists nowhere
goes to the train queue (the ``forwarded`` flag), so predictions never wait
behind a training on a worker that only consumes the predict queue.
"""
from __future__ import annotations

import logging
import threading

import redis
from celery.signals import worker_shutting_down

from antinex.core import control, settings  # noqa: F401  (control registers the remote commands)
from antinex.core.celery_app import app
from antinex.core.processor import NeedsTraining, processor, result_node
from antinex.core.results import send_results
from antinex.utils import jobcontrol
from antinex.utils.consts import CORE_PREDICT_TASK, CORE_TRAIN_TASK, ERR
from antinex.utils.jobcontrol import SHUTDOWN, CancelFlags, JobStopped, StopCheck, celery_time_limits
from antinex.utils.limits import LIMITS

log = logging.getLogger(__name__)
_redis: redis.Redis | None = None
_flags: CancelFlags | None = None
DONE_TTL = 7 * 24 * 3600
# The solo pool does not enforce Celery's time limits (only pools with a
# timer do); there the per-batch StopCheck enforces ANTINEX_JOB_TIME_LIMIT.
TIME_LIMITS = celery_time_limits(LIMITS.job_time_limit)


def _r() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.BROKER_URL)
    return _redis


def _cancel_flags() -> CancelFlags:
    """The flags the API sets on this broker's Redis (``cancel_key(job_id)``)."""
    global _flags
    if _flags is None:
        _flags = CancelFlags(settings.BROKER_URL)
    return _flags


@worker_shutting_down.connect
def _stop_running_jobs(**_) -> None:
    """SIGTERM/SIGINT: the running job stops at its next batch and is queued again.

    Sent in the worker's main process, which with ``--pool solo`` is the one
    running the job: the handler runs between bytecodes, i.e. at the next
    Keras callback, and the warm shutdown then has nothing to wait for.
    """
    jobcontrol.SHUTTING_DOWN.set()


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
        """Drop the lock once (a second call must not delete another worker's lock on the same job)."""
        if self.stop.is_set():
            return
        self.stop.set()
        try:
            _r().delete(self.key)
        except redis.RedisError as exc:  # the lock expires on its own
            log.warning("could not release %s: %s", self.key, exc)


def run(task, body, kind: str, train_missing: bool = True) -> None:
    """Run one request and send its result; see the module docstring for stops and forwarding."""
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
    flags = _cancel_flags()
    stop = StopCheck.for_job(LIMITS.job_time_limit,
                             is_cancelled=(lambda: flags.is_cancelled(job)) if job else None)
    try:
        try:
            stop.check()  # cancelled while queued (or the worker is stopping): never starts
            # "job=N kind ...": "kind job=N " is the line of an answered job (tests and operators grep it)
            log.info("job=%s %s started", job, kind)
            data = processor().handle(body, kind, stop=stop, train_missing=train_missing)
        except NeedsTraining:
            if lock:  # free the job for the train worker before it can take the forwarded copy
                lock.release()
            _forward_to_train(task, body, job)
            return  # not answered yet: no done-marker, the train worker answers
        except JobStopped as exc:
            if exc.reason == SHUTDOWN:
                log.warning("job=%s %s stopped by the worker's shutdown: queued again", job, kind)
                raise task.retry(countdown=0, max_retries=None) from None
            log.info("job=%s %s stopped (%s): %s", job, kind, exc.reason, exc)
            data = exc.result()
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


def _forward_to_train(task, body: dict, job: str | None) -> None:
    """Send a predict request the predict worker may not train to the train queue (same body)."""
    try:
        # the worker's own app and connection: the broker this request came from
        task.app.send_task(CORE_TRAIN_TASK, args=[body], kwargs={"forwarded": True}, queue=settings.TRAIN)
    except Exception as exc:  # broker away: keep the request instead of acking it unanswered
        log.error("job=%s predict: could not forward to %s (%s); retrying", job, settings.TRAIN, exc)
        raise task.retry(exc=exc, countdown=settings.JOB_LOCK_SECONDS, max_retries=None)
    log.info("job=%s predict label=%s: no model in memory or store, forwarded to %s", job,
             body.get("label"), settings.TRAIN)


@app.task(name=CORE_TRAIN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, **TIME_LIMITS)
def train_request(self, body, forwarded: bool = False) -> None:
    """Always (re)train the model named by ``label``, then predict.

    ``forwarded``: a predict request the predict worker sent on; it trains
    only if the model still exists nowhere (an earlier copy may have trained it).
    """
    run(self, body, "predict" if forwarded else "train")


@app.task(name=CORE_PREDICT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, **TIME_LIMITS)
def predict_request(self, body) -> None:
    """Reuse the label's model (memory, then store); one that exists nowhere is forwarded to the train queue."""
    run(self, body, "predict", train_missing=False)
