"""What a job may ask for, and of whom: the caller's files, the server's bounds, quotas, cancelling.

Every check here runs when a job is posted, so a request the workers would
refuse, or one that would take the workers from everyone else, is a 4xx
naming the field instead of a 201 and a failed (or endless) job.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import math
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, Sum
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from antinex.api.ml.errors import error_body
from antinex.api.ml.models import DONE, MLJob, MLJobResult, MLPrepare
from antinex.utils.consts import Status
from antinex.utils.jobcontrol import CancelFlags
from antinex.utils.limits import LIMITS
from antinex.utils.request import MLRequest, RequestError, check_model_size
from antinex.utils.userdata import DataSpace

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class QuotaExceeded(APIException):
    """A 429: the caller has too much queued or running (a per-user quota of utils/limits.py)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota"
    wait = 2  # DRF's handler turns it into Retry-After: the client may try again then

    def __init__(self, reason: str):
        super().__init__(error_body("quota", reason))


def data_space(user_id: int) -> DataSpace:
    """The caller's folder (read-write) and the shared datasets (read-only)."""
    return DataSpace.build(settings.ANTINEX_DATASETS_DIRS, settings.ANTINEX_USER_DATA_DIR, user_id)


def count_rows(path: Path, stop_after: int) -> int:
    """Data rows of a CSV (its lines less the header), counting no further than ``stop_after``.

    Compressed files (.gz, .bz2, .xz) are counted through their decompressor.
    A quoted field with a line break counts twice: an upper bound, which is
    what a limit needs.
    """
    lines = 0
    with _OPENERS.get(path.suffix, open)(path, "rb") as fh:
        last = b"\n"
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if lines > stop_after:
                break
        if last != b"\n":
            lines += 1  # no newline after the last row
    return max(lines - 1, 0)


def inspect_dataset(req: MLRequest) -> int:
    """Check the request against its data before queueing; returns the number of rows.

    Named columns must exist (the CSV header), the network must fit the
    server's bounds on the number of inputs, the dataset must be within
    ANTINEX_MAX_JOB_ROWS, and cross-validation needs as many rows per
    class as folds.
    """
    import pandas as pd

    path, field = (req.dataset, "dataset") if req.dataset is not None else (req.csv_file, "csv_file")
    if path is None:
        rows = len(req.predict_rows or [])
        check_model_size(req, len(req.features_to_process) or len((req.predict_rows or [{}])[0]), LIMITS)
        return rows
    try:
        header = list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
        rows = count_rows(path, LIMITS.max_job_rows)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise RequestError(field, f"cannot read the CSV header of {path.name}: {type(exc).__name__}") from None
    columns = set(header)
    for name in ("features_to_process", "sort_values"):
        missing = [c for c in getattr(req, name) if c not in columns]
        if missing:
            raise RequestError(name, f"unknown columns: {', '.join(missing[:20])}")
    if req.predict_feature not in columns and req.predict_rows is None:
        raise RequestError("predict_feature", f"column {req.predict_feature!r} is not in the dataset")
    check_model_size(req, len(req.features_to_process) or len(header), LIMITS)
    if rows > LIMITS.max_job_rows:
        raise RequestError(field, f"has more than {LIMITS.max_job_rows:,} rows, the server's limit "
                                  "(ANTINEX_MAX_JOB_ROWS)")
    if req.cross_validate:
        _check_folds(req, rows, path)
    return rows


def _check_folds(req: MLRequest, rows: int, path: Path) -> None:
    import pandas as pd

    train_rows = rows - math.ceil(req.test_size * rows)
    if req.num_splits > train_rows:
        raise RequestError("num_splits", f"{req.num_splits} folds need as many training rows; the dataset "
                                         f"leaves {train_rows}")
    if req.ml_type == "classification" and req.predict_feature:
        counts = pd.read_csv(path, usecols=[req.predict_feature], encoding="utf-8-sig")[
            req.predict_feature].value_counts()
        smallest = int(counts.min() * (1 - req.test_size)) if len(counts) else 0
        if req.num_splits > smallest:
            raise RequestError("num_splits", f"{req.num_splits} stratified folds need that many training rows "
                                             f"of every class; the smallest class has about {smallest}")


def _active_since():
    # a job not updated for this long is dead (its worker is gone): it no longer counts
    return timezone.now() - timedelta(seconds=2 * LIMITS.job_time_limit + 600)


def lock_user(user: User) -> None:
    """Serialise one user's submissions (inside a transaction): quotas cannot be raced."""
    User.objects.select_for_update().filter(pk=user.pk).first()


def check_job_quota(user: User, rows: int) -> None:
    """At most ANTINEX_MAX_ACTIVE_JOBS jobs and ANTINEX_MAX_ACTIVE_ROWS rows queued or running per user."""
    active = MLJob.objects.filter(user=user, updated__gte=_active_since()).exclude(status__in=DONE)
    count = active.count()
    if count >= LIMITS.max_active_jobs:
        raise QuotaExceeded(f"{count} of your jobs are queued or running; the limit is {LIMITS.max_active_jobs} "
                            "(ANTINEX_MAX_ACTIVE_JOBS): wait for one to finish, or cancel one")
    queued_rows = active.aggregate(n=Sum("num_rows"))["n"] or 0
    if queued_rows + rows > LIMITS.max_active_rows:
        raise QuotaExceeded(f"your queued and running jobs hold {queued_rows:,} rows and this one {rows:,}; the "
                            f"limit is {LIMITS.max_active_rows:,} (ANTINEX_MAX_ACTIVE_ROWS)")


def check_prepare_quota(user: User) -> None:
    """At most ANTINEX_MAX_ACTIVE_PREPARES preparations queued or running per user."""
    count = MLPrepare.objects.filter(user=user, updated__gte=_active_since()).exclude(
        Q(status__in=DONE) | Q(status=Status.FAILED)).count()
    if count >= LIMITS.max_active_prepares:
        raise QuotaExceeded(f"{count} of your dataset preparations are queued or running; the limit is "
                            f"{LIMITS.max_active_prepares} (ANTINEX_MAX_ACTIVE_PREPARES)")


def cancel_flags() -> CancelFlags:
    """Flags on the Redis of the broker jobs go to (the core's, or the API worker's)."""
    return CancelFlags(settings.ANTINEX_AUTH_URL if settings.ANTINEX_WORKER_ENABLED
                       else settings.CELERY_BROKER_URL)


def cancel_job(job: MLJob) -> bool:
    """Stop ``job`` (running: at its next batch; queued: it never starts); False if it was over already."""
    from antinex.api.ml.records import mark

    if job.status in DONE:
        return False
    try:
        cancel_flags().cancel(job.id)
    except Exception as exc:  # the broker is down: nothing runs there either; the record says cancelled
        import logging

        logging.getLogger(__name__).warning("cancel flag for job %s not set: %s", job.id, exc)
    result = MLJobResult.objects.filter(job=job).values_list("id", flat=True).first()
    mark(job.id, result, Status.CANCELLED, "cancelled by its owner")
    return True
