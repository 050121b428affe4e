"""The API worker's tasks: local training, dataset preparation, core results."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from antinex.api.ml.models import MLJob, MLPrepare
from antinex.api.ml.records import DONE, mark, record_results
from antinex.utils.jobcontrol import celery_time_limits
from antinex.utils.limits import LIMITS
from antinex.utils.consts import API_JOB_TASK, API_PREPARE_TASK, RESULTS_TASK_NAME, ControlState, Result, Status

log = logging.getLogger(__name__)

# PostgreSQL down or restarting: retry with backoff (the message is re-published,
# then acked) instead of acking a result that was never written.
DB_RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 1, "retry_backoff_max": 30,
            "retry_jitter": False, "max_retries": settings.ANTINEX_DB_RETRIES}


# a job stops itself at the time limit (utils/jobcontrol.py); Celery's limits
# (enforced by the prefork pool) are the backstop for anything outside training
TIME_LIMITS = celery_time_limits(LIMITS.job_time_limit)


@shared_task(name=API_JOB_TASK, acks_late=True, **TIME_LIMITS, **DB_RETRY)
def task_ml_job(job_id: int, result_id: int) -> None:
    """Train (or reuse the label's stored model) and predict, in the API worker."""
    from antinex.api.ml.dispatch import is_predict_request
    from antinex.api.ml.jobs import data_space
    from antinex.utils.jobcontrol import CANCELLED, CancelFlags, JobStopped, StopCheck
    from antinex.utils.make_predictions import make_predictions
    from antinex.utils.model_store import ModelStore, ModelStoreError

    job = MLJob.objects.filter(id=job_id).first()
    if job is None or job.status in DONE:
        return  # deleted, or a redelivery of a job already done
    mark(job_id, result_id, Status.STARTED)
    body = dict(job.predict_manifest)
    store = ModelStore(settings.ANTINEX_MODEL_STORE)  # labels carry the user: "user_<id>.<label>"
    trained = None
    if is_predict_request(body) and store.exists(body.get("label", "")):
        try:
            trained = store.load(body["label"])
        except ModelStoreError as exc:
            log.warning("stored model unusable, retraining: %s", exc)
    flags = CancelFlags(settings.CELERY_BROKER_URL)
    stop = StopCheck.for_job(LIMITS.job_time_limit, is_cancelled=lambda: flags.is_cancelled(job_id))
    try:
        res = make_predictions(body, trained=trained, store=None if trained else store,
                               datasets_dirs=data_space(job.user_id), stop=stop)
    except JobStopped as exc:
        if exc.reason == CANCELLED:
            return  # the records say cancelled already
        res = {"data": exc.result()}
    except Exception as exc:  # a worker must record the failure, never lose the job
        log.exception("job %s failed", job_id)
        res = {"data": {"status": Result.ERR, "err": f"{type(exc).__name__}: {exc}"}}
    res["data"]["model_source"] = "store" if trained else "trained"
    record_results(job_id, result_id, res["data"])


@shared_task(name=RESULTS_TASK_NAME, acks_late=True, ignore_result=True, **DB_RETRY)
def task_ml_process_results(payload: dict) -> None:
    """Results from the core: ``{"results": {"data": ..., "created": ...}, "manifest": {...}}``."""
    if not isinstance(payload, dict):
        log.error("results payload is not an object: %r", type(payload))
        return
    manifest = payload.get("manifest") or {}
    data = (payload.get("results") or {}).get("data") or {}
    try:
        job_id, result_id = int(manifest["job_id"]), int(manifest["result_id"])
    except (KeyError, TypeError, ValueError):
        log.error("results without job_id/result_id: %r", manifest)
        return
    record_results(job_id, result_id, data)


@shared_task(name=API_PREPARE_TASK, acks_late=True, **DB_RETRY)
def task_ml_prepare(prepare_id: int) -> None:
    """Merge recorded CSVs into full and cleaned training files."""
    from antinex.api.ml.jobs import data_space
    from antinex.pipeline.prepare import PrepareError, find_pipeline_csvs, prepare_dataset

    prep = MLPrepare.objects.filter(id=prepare_id).first()
    if prep is None or prep.status in DONE:
        return
    prep.status = Status.RUNNING
    prep.save(update_fields=["status", "updated"])
    space = data_space(prep.user_id)  # read: the owner's folder and the shared data; write: the folder only
    try:
        files = find_pipeline_csvs(prep.ds_glob_path, space)
        meta = prepare_dataset(files, prep.full_file, prep.clean_file, label_rules=prep.label_rules,
                               post_proc=prep.post_proc, meta_suffix=prep.meta_suffix, space=space)
    except PrepareError as exc:
        prep.status, prep.control_state = Status.ERROR, ControlState.ERROR
        prep.error_data = {"error": space.redact(str(exc))}
    else:
        prep.pipeline_files = {"files": [space.public(f) for f in files], **{
            k: v for k, v in (prep.pipeline_files or {}).items() if k != "files"}}
        prep.post_proc = {**prep.post_proc, "features_to_process": meta["features_to_process"],
                          "ignore_features": meta["ignore_features"],
                          "feature_to_predict": meta["feature_to_predict"]}
        prep.meta_data = meta
        prep.status, prep.control_state = Status.FINISHED, ControlState.FINISHED
    prep.save()
