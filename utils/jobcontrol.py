"""Stopping a running job: cancellation, time limits and worker shutdown.

A training job is stopped at its next batch when any of these holds:

* its owner cancelled it (``DELETE /ml/{id}/`` or ``POST /ml/{id}/cancel/``
  set a flag in the Redis of the broker the job was sent to);
* it ran past its time limit (``ANTINEX_JOB_TIME_LIMIT``, utils/limits.py);
* the worker is shutting down (SIGTERM): the job is then queued again
  instead of being lost.

This module does not import Keras: the API imports it to cancel jobs. The
Keras callback that calls :meth:`StopCheck.check` lives in utils/train.py.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

CANCELLED = "cancelled"
TIME_LIMIT = "time_limit"
SHUTDOWN = "shutdown"

# Set by the worker's shutdown signal handler (core/tasks.py): every running
# job stops at its next batch and is queued again.
SHUTTING_DOWN = threading.Event()

CANCEL_TTL = 7 * 24 * 3600  # a flag outlives any queued copy of its job


class JobStopped(Exception):
    """A job stopped before the end; ``reason`` is CANCELLED, TIME_LIMIT or SHUTDOWN."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

    def result(self) -> dict:
        """The error ``data`` block a worker sends back for a job that ends here."""
        from antinex.utils.consts import ERR

        return {"status": ERR, "err": str(self), "stopped": self.reason}


# Celery's own limits, a margin past the job's: the per-batch check stops a
# job at its limit; these catch what runs outside training (loading, predicting).
# Only pools with a timer enforce them (prefork); the solo pool ignores them.
CELERY_SOFT_MARGIN = 60
CELERY_HARD_MARGIN = 120


def celery_time_limits(job_time_limit: float) -> dict:
    """``soft_time_limit``/``time_limit`` options of a Celery task running jobs bounded by ``job_time_limit``."""
    return {"soft_time_limit": job_time_limit + CELERY_SOFT_MARGIN, "time_limit": job_time_limit + CELERY_HARD_MARGIN}


def cancel_key(job_id: int | str) -> str:
    """The Redis key that says job ``job_id`` was cancelled."""
    return f"antinex:cancel:{job_id}"


class CancelFlags:
    """Cancellation flags of jobs, kept in Redis (the broker's server)."""

    def __init__(self, redis_url: str):
        import redis

        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)

    def cancel(self, job_id: int | str) -> None:
        """Mark ``job_id`` cancelled: a worker running it stops at its next batch, a queued copy never starts."""
        self.redis.set(cancel_key(job_id), "1", ex=CANCEL_TTL)

    def is_cancelled(self, job_id: int | str) -> bool:
        return bool(self.redis.exists(cancel_key(job_id)))


@dataclass
class StopCheck:
    """What a running job asks between batches; :meth:`check` raises :class:`JobStopped`.

    ``is_cancelled`` is asked at most every ``interval`` seconds (it is a
    Redis round trip); the deadline and the shutdown event every call.
    """

    deadline: float | None = None  # a time.monotonic() value
    time_limit: float | None = None  # seconds, for the message
    is_cancelled: Callable[[], bool] | None = None
    interval: float = 0.25
    _next_ask: float = field(default=0.0, repr=False)

    @classmethod
    def for_job(cls, time_limit: float | None, is_cancelled: Callable[[], bool] | None = None) -> "StopCheck":
        """A check whose deadline is ``time_limit`` seconds from now (None or 0: no limit)."""
        deadline = time.monotonic() + time_limit if time_limit else None
        return cls(deadline=deadline, time_limit=time_limit or None, is_cancelled=is_cancelled)

    def check(self) -> None:
        if SHUTTING_DOWN.is_set():
            raise JobStopped(SHUTDOWN, "the worker is shutting down; the job is queued again")
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            raise JobStopped(TIME_LIMIT, f"stopped after the job time limit of {self.time_limit:g} s "
                                         "(ANTINEX_JOB_TIME_LIMIT); use fewer epochs or rows")
        if self.is_cancelled is not None and now >= self._next_ask:
            self._next_ask = now + self.interval
            try:
                cancelled = self.is_cancelled()
            except Exception:  # Redis restarting: keep training, ask again next time
                cancelled = False
            if cancelled:
                raise JobStopped(CANCELLED, "cancelled by its owner")
