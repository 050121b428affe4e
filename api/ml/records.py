"""Writing results onto jobs: one function for local training and core callbacks."""
from __future__ import annotations

import json
import logging

from django.db import transaction

from antinex.api.ml.models import DONE, MLJob, MLJobResult
from antinex.api.ml.notify import notify_done
from antinex.utils.consts import ControlState, Result, Status
from antinex.utils.limits import LIMITS

log = logging.getLogger(__name__)
# what writing a status needs: never load the job's manifest (every request row) to change it
JOB_STATUS_FIELDS = ("id", "status", "control_state", "error_data", "tracking_id", "updated")
RESULT_STATUS_FIELDS = ("id", "status", "error_data", "updated")


def _model_json(value) -> dict:
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {"raw": value}
    return value if isinstance(value, dict) else {}


def record_results(job_id: int, result_id: int, data: dict) -> bool:
    """Store a worker's ``data`` block; returns False when the records are gone.

    Idempotent: a redelivered result rewrites the same values, and an error
    arriving after a finished result does not undo it.
    """

    with transaction.atomic():
        job = MLJob.objects.select_for_update().only(*JOB_STATUS_FIELDS).filter(id=job_id).first()
        result = MLJobResult.objects.select_for_update().only(*RESULT_STATUS_FIELDS).filter(id=result_id).first()
        if job is None or result is None:
            log.warning("results for deleted job %s / result %s dropped", job_id, result_id)
            return False
        if job.status == Status.CANCELLED:
            return True  # its owner stopped it: whatever the worker says now stays unsaid
        ok = int(data.get("status") or Result.SUCCESS) == Result.SUCCESS and not data.get("err")
        if not ok:
            if result.status == Status.FINISHED:
                return True
            reason = data.get("err") or "the worker reported an error without a reason"
            result.status = job.status = Status.ERROR
            result.error_data = job.error_data = {"error": reason}
            job.control_state = ControlState.ERROR
        else:
            metrics = data.get("metrics") or {}
            acc = dict(data.get("acc") or {})
            for k in ("precision", "recall", "f1", "roc_auc", "false_positive_rate", "mse", "mae", "r2"):
                if metrics.get(k) is not None:
                    acc[k] = metrics[k]
            # max_records is bounded by the same limit when the job is posted: nothing is cut silently here
            rows = (data.get("sample_predictions") or [])[: LIMITS.max_records]
            result.acc_data = acc
            result.metrics = metrics
            result.history = data.get("history") or {}
            result.model_json = _model_json(data.get("model_json"))
            result.model_weights = data.get("weights") or {}
            result.model_ref = data.get("model_ref") or {}
            result.predictions_json = {"predictions": rows, "num_predictions": data.get("num_predictions", len(rows)),
                                       "trained": data.get("trained"), "model_source": data.get("model_source")}
            result.error_data = {}
            result.status = job.status = Status.FINISHED
            job.control_state = ControlState.FINISHED
        # only what changed: the job's manifest (every predict row) is not rewritten
        result.save(update_fields=["status", "error_data", "acc_data", "metrics", "history", "model_json",
                                   "model_weights", "model_ref", "predictions_json", "updated"] if ok else
                    ["status", "error_data", "updated"])
        job.save(update_fields=["status", "control_state", "error_data", "updated"])
        notify_done(result_id)  # delivered by PostgreSQL at the commit
    return True


def mark(job_id: int, result_id: int | None, status: str, reason: str = "") -> None:
    """Move a job (and its result) to ``status`` unless it is already done.

    Locks the job row like ``record_results`` does, so a result that lands
    while the job is being marked "launched" is never overwritten.
    """
    with transaction.atomic():
        job = MLJob.objects.select_for_update().only(*JOB_STATUS_FIELDS).filter(id=job_id).first()
        if job is None or job.status in DONE:
            return
        job.status = status
        if reason:
            job.error_data = {"error": reason}
        fields = ["status", "error_data", "updated"]
        if status in DONE:
            job.control_state = ControlState.CANCEL if status == Status.CANCELLED else ControlState(status)
            fields.append("control_state")
        job.save(update_fields=fields)
        if result_id:
            res_status = Status.PROCESSING if status == Status.STARTED else status  # a result has no "started"
            fields = {"status": res_status}
            if reason:
                fields["error_data"] = {"error": reason}
            MLJobResult.objects.filter(id=result_id).exclude(status__in=DONE).update(**fields)
            if res_status in DONE:
                notify_done(result_id)
