"""The library's entry point: train and/or predict for one request.

``make_predictions`` never raises for bad input: it returns
``{"status": ERR, "err": "<field>: <reason>", ...}`` so workers can record
the error on the job instead of crashing. A job stopped by its
:class:`~utils.jobcontrol.StopCheck` raises :class:`~utils.jobcontrol.JobStopped`:
the worker decides what that means (a cancelled job ends, a job stopped by a
shutdown is queued again).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from antinex.utils.consts import ERR, SUCCESS
from antinex.utils.dataset import load_frame, target_vector
from antinex.utils.evaluate import classification_metrics, regression_metrics
from antinex.utils.jobcontrol import StopCheck
from antinex.utils.merge import merge_predictions
from antinex.utils.model_store import ModelStore, ModelStoreError
from antinex.utils.request import MLRequest, RequestError, parse_request, require_data
from antinex.utils.train import model_json, train
from antinex.utils.trained_model import TrainedModel

log = logging.getLogger(__name__)


def _error(err: str) -> dict:
    return {"status": ERR, "err": err, "data": {"err": err, "status": ERR}, "model": None}


def predict_with(trained: TrainedModel, req: MLRequest) -> dict:
    """Predict the request's rows with an existing model (no training)."""
    df = load_frame(req)
    out = trained.predict_raw(df)
    flags = trained.novel(df)
    pred = trained.with_novelty(trained.decode(out), flags)
    metrics = dict(trained.metrics)
    if trained.predict_feature in df.columns:
        metrics = {**metrics, **_request_row_metrics(trained, req, df, pred, out)}
    if flags is not None:
        metrics["novel_rows"] = int(flags.sum())
    return {"rows": merge_predictions(df, pred, trained, req.max_records, novel=flags),
            "num_predictions": int(len(pred)), "metrics": metrics}


def _request_row_metrics(trained: TrainedModel, req: MLRequest, df, pred, out) -> dict:
    """Metrics on the predicted rows when they carry real target values (never fails the job).

    Rows from the pipeline carry the target as a placeholder (-1, "missing"):
    values outside the model's classes mean there is nothing to score.
    """
    try:
        y = target_vector(req, df)
    except RequestError:
        return {}
    if trained.ml_type == "classification":
        if not set(np.unique(y).tolist()) <= set(trained.classes):
            return {}
        return {"on_request_rows": classification_metrics(y, pred, trained.scores(out), trained.classes)}
    return {"on_request_rows": regression_metrics(y, pred)}


def result_data(trained: TrainedModel, req: MLRequest, predicted: dict, *, trained_now: bool) -> dict:
    """The JSON-safe ``data`` block every worker sends back."""
    m = trained.metrics
    accuracy = m.get("accuracy") if trained.ml_type == "classification" else m.get("r2")
    acc = {"accuracy": accuracy * 100 if accuracy is not None else None}
    metrics = predicted["metrics"]
    return {
        "status": SUCCESS,
        "err": "",
        "acc": acc,
        "scores": [0.0, accuracy] if accuracy is not None else [],
        "metrics": metrics,
        "confusion_matrix": m.get("confusion_matrix"),
        "history": trained.history,
        "histories": req.histories,
        "sample_predictions": predicted["rows"],
        "num_predictions": predicted["num_predictions"],
        "model_json": model_json(trained),
        "model_desc": req.model_desc or {},
        "features": trained.features,
        "weights": {},
        "model_ref": trained.model_ref,
        "trained": trained_now,
        "label": req.label,
        "ml_type": trained.ml_type,
        "apply_scaler": trained.x_scaling is not None,
    }


def make_predictions(req: dict | MLRequest, *, trained: TrainedModel | None = None,
                     store: ModelStore | None = None, datasets_dirs: list[Path] | None = None,
                     progress: bool = False, stop: StopCheck | None = None) -> dict:
    """Train (unless ``trained`` is given) and predict; returns status, err, data, model.

    With ``store`` a newly trained model is saved under the request's label.
    ``stop`` is asked after every training batch and before predicting; its
    ``JobStopped`` propagates (a stopped training saves nothing).
    """
    started = time.perf_counter()
    try:
        req = parse_request(req, datasets_dirs=datasets_dirs)
        require_data(req)
        trained_now = trained is None
        if trained is None:
            df = load_frame(req)
            trained = train(req, df, progress=progress, stop=stop)
            if store is not None:
                store.save(trained, req.label)
        if stop is not None:
            stop.check()
        predicted = predict_with(trained, req)
        data = result_data(trained, req, predicted, trained_now=trained_now)
        data["seconds"] = round(time.perf_counter() - started, 3)
        json.dumps(data, allow_nan=False)  # fail here, not in a broker, if anything slipped through
    except RequestError as exc:
        return _error(str(exc))
    except ModelStoreError as exc:
        return _error(f"model store: {exc}")
    except (ValueError, TypeError, MemoryError, np.linalg.LinAlgError) as exc:
        log.exception("request %s failed", getattr(req, "label", "?"))
        return _error(f"{type(exc).__name__}: {exc}")
    return {"status": SUCCESS, "err": "", "data": data, "model": trained}
