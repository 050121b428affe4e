"""MLPrepare, MLJob and MLJobResult: the original's records and field names.

Every record belongs to exactly one user; views never query without
``user=request.user``.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from antinex.utils.consts import DONE_STATUSES, ControlState, Status

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

S = Status
PREPARE_STATUS = (S.REQUESTED, S.INITIAL, S.RUNNING, S.PREPROC, S.POSTPROC, S.UPLOADING, S.ARCHIVING, S.FINISHED,
                  S.NOTIFYING, S.ERROR, S.FAILED, S.CANCELLED)
JOB_STATUS = (S.REQUESTED, S.INITIAL, S.TRAINING, S.PREDICTING, S.ANALYZING, S.COMPILING, S.EVALUATING, S.PLOTTING,
              S.UPLOADING, S.CACHING, S.WAITING, S.COMPLETED, S.LAUNCHED, S.SETUP, S.EMAILING, S.PENDING, S.STARTED,
              S.RUNNING, S.POSTPROC, S.ARCHIVING, S.FINISHED, S.NOTIFYING, S.ERROR, S.FAILED, S.CANCELLED)
RESULT_STATUS = (S.INITIAL, S.WAITING, S.PROCESSING, S.UPLOADING, S.PAUSE, S.CANCEL, S.DELETE, S.FINISHED,
                 S.COMPLETED, S.LAUNCHED, S.ERROR, S.FAILED, S.CANCELLED)
DONE = DONE_STATUSES
CONTROL_STATE = tuple(ControlState)


def _choices(values):
    return [(str(v), str(v)) for v in values]


def _fmt(when):
    return when.strftime(DATE_FORMAT) if when else None


class Base(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    version = models.IntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    deleted = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ("-created", "-id")

    def common(self) -> dict:
        return {"id": self.id, "user_id": self.user_id, "user_name": self.user.username, "version": self.version,
                "created": _fmt(self.created), "updated": _fmt(self.updated), "deleted": _fmt(self.deleted)}


class MLPrepare(Base):
    status = models.CharField(max_length=20, default=Status.INITIAL, choices=_choices(PREPARE_STATUS))
    control_state = models.CharField(max_length=20, default=ControlState.ACTIVE, choices=_choices(CONTROL_STATE))
    title = models.CharField(max_length=256, default="no title")
    desc = models.TextField(default="no desc")
    full_file = models.CharField(max_length=1024, default="")
    clean_file = models.CharField(max_length=1024, default="")
    meta_suffix = models.CharField(max_length=256, default="metadata.json")
    output_dir = models.CharField(max_length=1024, default="")
    ds_dir = models.CharField(max_length=1024, default="")
    ds_glob_path = models.CharField(max_length=1024, default="")
    pipeline_files = models.JSONField(default=dict, blank=True)
    post_proc = models.JSONField(default=dict, blank=True)
    label_rules = models.JSONField(default=dict, blank=True)
    meta_data = models.JSONField(default=dict, blank=True)
    error_data = models.JSONField(default=dict, blank=True)
    tracking_id = models.CharField(max_length=64, default="", db_index=True)

    def save(self, *args, **kwargs):
        if not self.tracking_id:
            self.tracking_id = f"prep_{uuid.uuid4()}"
        super().save(*args, **kwargs)

    def public(self) -> dict:
        out = self.common()
        out.update({f: getattr(self, f) for f in (
            "status", "control_state", "title", "desc", "full_file", "clean_file", "meta_suffix", "output_dir",
            "ds_dir", "ds_glob_path", "pipeline_files", "post_proc", "label_rules", "error_data", "tracking_id")})
        return out


class MLJob(Base):
    title = models.CharField(max_length=256, default="no title")
    desc = models.TextField(default="no desc")
    ds_name = models.CharField(max_length=256, default="")
    algo_name = models.CharField(max_length=256, default="")
    ml_type = models.CharField(max_length=20, default="classification")
    status = models.CharField(max_length=20, default=Status.INITIAL, choices=_choices(JOB_STATUS), db_index=True)
    control_state = models.CharField(max_length=20, default=ControlState.ACTIVE, choices=_choices(CONTROL_STATE))
    predict_feature = models.CharField(max_length=256, default="label_value")
    predict_manifest = models.JSONField(default=dict, blank=True)
    training_data = models.JSONField(default=dict, blank=True)
    pre_proc = models.JSONField(default=dict, blank=True)
    post_proc = models.JSONField(default=dict, blank=True)
    meta_data = models.JSONField(default=dict, blank=True)
    error_data = models.JSONField(default=dict, blank=True)
    tracking_id = models.CharField(max_length=64, default="", db_index=True)
    # rows the job trains or predicts on: the per-user quota of rows in flight
    num_rows = models.BigIntegerField(default=0)

    def save(self, *args, **kwargs):
        if not self.tracking_id:
            self.tracking_id = f"ml_{uuid.uuid4()}"
        super().save(*args, **kwargs)

    def public(self) -> dict:
        out = self.common()
        out.update({f: getattr(self, f) for f in (
            "title", "desc", "ds_name", "algo_name", "ml_type", "status", "control_state", "predict_feature",
            "predict_manifest", "training_data", "pre_proc", "post_proc", "meta_data", "error_data", "tracking_id")})
        return out


class MLJobResult(Base):
    job = models.ForeignKey(MLJob, null=True, on_delete=models.CASCADE, related_name="results")
    status = models.CharField(max_length=20, default=Status.INITIAL, choices=_choices(RESULT_STATUS), db_index=True)
    test_size = models.FloatField(default=0.2)
    csv_file = models.CharField(max_length=1024, default="", blank=True)
    meta_file = models.CharField(max_length=1024, default="", blank=True)
    model_weights_file = models.CharField(max_length=1024, default="", blank=True)
    acc_image_file = models.CharField(max_length=1024, default="", blank=True)
    acc_data = models.JSONField(default=dict, blank=True)
    error_data = models.JSONField(default=dict, blank=True)
    model_json = models.JSONField(default=dict, blank=True)
    model_weights = models.JSONField(default=dict, blank=True)
    predictions_json = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=dict, blank=True)
    model_ref = models.JSONField(default=dict, blank=True)

    def public(self, include_predictions: bool = True) -> dict:
        out = self.common()
        out["job_id"] = self.job_id
        fields = ["status", "test_size", "csv_file", "meta_file", "acc_image_file", "acc_data", "error_data",
                  "model_json", "model_weights", "metrics", "history", "model_ref"]
        if include_predictions:
            fields.append("predictions_json")
        out.update({f: getattr(self, f) for f in fields})
        return out
