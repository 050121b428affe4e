"""Submitting work: from a validated request to records and a queued task, in one place per kind.

A job: its data is checked against the server's bounds (``jobs.py``), the
job and its result are recorded under the user's quota in one transaction,
the core's message is built from the parsed request (:func:`core_message`),
and the message is queued; a broker that refuses it leaves the records in
status ``error`` saying why. A dataset preparation goes the same way.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from antinex.api.ml import dispatch, jobs
from antinex.api.ml.models import MLJob, MLJobResult, MLPrepare
from antinex.api.ml.records import mark
from antinex.utils.consts import API_JOB_TASK, API_PREPARE_TASK, ControlState, Status
from antinex.utils.request import MLRequest
from antinex.utils.userdata import DataSpace

log = logging.getLogger(__name__)


@dataclass
class Submission:
    """The records of a submitted job; ``queued`` is False when the broker refused it (status ``error``)."""

    job: MLJob
    result: MLJobResult
    queued: bool


def model_label(user_id: int, label: str) -> str:
    """The model's name in the cache and store: models are per user, like every record."""
    return f"user_{user_id}.{label}"


def core_message(req: MLRequest, user_id: int, job_id: int, result_id: int) -> dict:
    """The body a worker runs: exactly the validated request (:meth:`MLRequest.to_body`), plus what only the
    API knows: the user's model label, the job's ids and the return path of the results."""
    node = dispatch.worker_result_node(job_id, result_id)
    return {**req.to_body(), "label": model_label(user_id, req.label), "use_model_name": req.label,
            "job_id": job_id, "result_id": result_id, "worker_result_node": node,
            "manifest": {"job_id": job_id, "result_id": result_id, "worker_result_node": node}}


def submit_job(user: User, req: MLRequest) -> Submission:
    """Record ``req`` as a job of ``user`` and queue it (on the core, or on the API worker).

    Raises RequestError (the data does not fit the request or the server's
    bounds) or QuotaExceeded before anything is recorded.
    """
    rows = jobs.inspect_dataset(req)
    # one commit for the records, made before the job can reach a worker
    with transaction.atomic():
        jobs.lock_user(user)
        jobs.check_job_quota(user, rows)
        job = MLJob.objects.create(
            user=user, title=req.title or req.label, desc=req.desc or req.label, ds_name=req.ds_name or req.label,
            algo_name=req.algo_name or req.label, ml_type=req.ml_type, predict_feature=req.predict_feature,
            training_data=req.training_data, pre_proc=req.pre_proc, post_proc=req.post_proc,
            meta_data=req.meta_data, version=req.version, num_rows=rows)
        result = MLJobResult.objects.create(user=user, job=job, test_size=req.test_size,
                                            csv_file=str(req.dataset or req.csv_file or ""),
                                            meta_file=str(req.meta_file or ""), acc_data={"accuracy": -1.0})
        job.predict_manifest = core_message(req, user.id, job.id, result.id)
        fields = ["predict_manifest"]
        if settings.ANTINEX_WORKER_ENABLED:
            # "launched" goes in with the records: a failed publish below turns it into an error,
            # and a result that arrives first is never overwritten (no second transaction to race)
            job.status = result.status = Status.LAUNCHED
            fields.append("status")
            result.save(update_fields=["status"])
        job.save(update_fields=fields)
    try:
        if settings.ANTINEX_WORKER_ENABLED:
            dispatch.publish_to_core(job.predict_manifest)
        else:
            dispatch.run_in_api_worker(API_JOB_TASK, job.id, result.id)
    except Exception as exc:  # broker down: the job is recorded with the reason, never lost silently
        log.exception("could not queue job %s", job.id)
        mark(job.id, result.id, Status.ERROR, f"could not queue the job: {type(exc).__name__}: {exc}")
        queued = False
    else:
        queued = True
    # a fast worker may have finished already: answer with the current status
    job.refresh_from_db(fields=["status", "control_state", "error_data", "updated"])
    result.refresh_from_db()
    return Submission(job, result, queued)


def submit_prepare(user: User, plan: dict, space: DataSpace) -> MLPrepare:
    """Record a dataset preparation (``plan``: the validated body, paths resolved) and queue it."""
    with transaction.atomic():
        jobs.lock_user(user)
        jobs.check_prepare_quota(user)
        prep = MLPrepare.objects.create(
            user=user, title=plan["title"] or "no title", desc=plan["desc"] or "no desc",
            full_file=space.public(plan["full_file"]), clean_file=space.public(plan["clean_file"]),
            output_dir=space.public(plan["output_dir"]), meta_suffix=plan["meta_suffix"], ds_dir=plan["ds_dir"],
            ds_glob_path=plan["ds_glob_path"], version=plan["version"], pipeline_files=plan["pipeline_files"],
            post_proc=plan["post_proc"], label_rules=plan["label_rules"], meta_data=plan["meta_data"])
    try:
        dispatch.run_in_api_worker(API_PREPARE_TASK, prep.id)
    except Exception as exc:  # broker down: the record says why, nothing is lost silently
        log.exception("could not queue prepare %s", prep.id)
        prep.status, prep.control_state = Status.ERROR, ControlState.ERROR
        prep.error_data = {"error": f"could not queue: {type(exc).__name__}: {exc}"}
        prep.save()
    prep.refresh_from_db()
    return prep
