"""Training: split, scale on training rows, fit, evaluate on held-out rows."""
from __future__ import annotations

import json
import time

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from antinex.utils.dataset import choose_features, dropped_columns, feature_matrix, target_vector
from antinex.utils.evaluate import classification_metrics, regression_metrics
from antinex.utils.jobcontrol import StopCheck
from antinex.utils.model_builder import build_model
from antinex.utils.progress import EpochProgress
from antinex.utils.request import MLRequest, RequestError
from antinex.utils.scaling import Scaling
from antinex.utils.trained_model import CONTENT_ARTIFACT, DECISION_ARTIFACT, TrainedModel


def _classes(req: MLRequest, y: np.ndarray) -> list[float]:
    classes = sorted(np.unique(y).tolist())
    if len(classes) < 2:
        raise RequestError("predict_feature", f"needs at least two classes to train, found {classes}")
    if len(classes) > 50:
        raise RequestError("ml_type", f"{len(classes)} distinct target values: use ml_type regression")
    return classes


class StopAtBatch(keras.callbacks.Callback):
    """Asks a :class:`StopCheck` after every batch; the :class:`JobStopped` it raises ends ``fit``.

    With ``steps_per_execution=32`` (utils/model_builder.py) Keras calls this
    once per 32 steps, and after an epoch's last (partial) run of steps.
    """

    def __init__(self, stop: StopCheck):
        super().__init__()
        self.stop = stop

    def on_train_batch_end(self, batch, logs=None):
        self.stop.check()


def _callbacks(stop: StopCheck | None) -> list[keras.callbacks.Callback]:
    return [StopAtBatch(stop)] if stop is not None else []


def _fit(req: MLRequest, x_tr, y_tr, x_val, y_val, n_out: int, progress: bool,
         stop: StopCheck | None = None, class_weight: dict | None = None) -> tuple[keras.Model, dict]:
    model = build_model(x_tr.shape[1], req, n_out)
    callbacks = _callbacks(stop) + ([EpochProgress(req.epochs, req.label)] if progress else [])
    hist = model.fit(
        x_tr, y_tr,
        validation_data=(x_val, y_val) if x_val.shape[0] else None,
        epochs=req.epochs, batch_size=req.batch_size,
        shuffle=True, verbose=0, callbacks=callbacks, class_weight=class_weight,
    )
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    # the original's history names ("acc", "val_acc") point at Keras 3's
    for old, new in (("acc", "accuracy"), ("val_acc", "val_accuracy")):
        if new in history and old not in history:
            history[old] = history[new]
    return model, history


def train(req: MLRequest, df: pd.DataFrame, *, progress: bool = False, stop: StopCheck | None = None) -> TrainedModel:
    """Train a new model for ``req`` on ``df`` and evaluate it on held-out rows.

    Everything fitted (scalers, the content encoder and its application
    profile) is fitted on the training split only and stored with the model.
    ``stop`` is asked after every batch (cross-validation folds included);
    the :class:`~utils.jobcontrol.JobStopped` it raises propagates.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(req.seed)
    features = choose_features(req, df)
    x = feature_matrix(df, features, req.missing_value) if features else np.zeros((len(df), 0), np.float32)
    y = target_vector(req, df)
    if len(x) < 4:
        raise RequestError("dataset", f"needs at least 4 rows to train and evaluate, got {len(x)}")
    classification = req.ml_type == "classification"
    classes = _classes(req, y) if classification else []
    stratify = None
    if classification:
        counts = np.unique(y, return_counts=True)[1]
        n_test = int(np.ceil(req.test_size * len(y)))
        if counts.min() >= 2 and n_test >= len(classes):
            stratify = y
    # split row numbers: the same split as splitting the matrix itself, and the text column follows it
    rows_tr, rows_te = train_test_split(np.arange(len(y)), test_size=req.test_size, random_state=req.seed,
                                        stratify=stratify)
    conflicts = _conflicts(req, df, rows_tr, y[rows_tr])
    if conflicts is not None:
        rows_tr = rows_tr[~conflicts]  # the held-out rows keep them: their metrics stay honest
    x_tr, x_te, y_tr, y_te = x[rows_tr], x[rows_te], y[rows_tr], y[rows_te]

    if req.novelty and not features:
        raise RequestError("novelty", "needs numeric features_to_process (a content network reads its "
                                      "application profile instead)")
    novelty = _fit_novelty(req, x_tr, y_tr, classes) if req.novelty else None
    x_te_raw = x_te  # the novelty detector reads unscaled rows (it scales them itself)
    x_scaling = None
    if req.apply_scaler and x.shape[1]:
        x_scaling = Scaling.fit(x_tr, req.min_scaler_range, req.max_scaler_range, req.network.scaler)
    y_scaling = None
    if x_scaling:
        x_tr, x_te = x_scaling.transform(x_tr), x_scaling.transform(x_te)
    artifacts = {}
    if req.network.content is not None:
        x_tr, x_te, artifacts[CONTENT_ARTIFACT] = _with_content(req, df, rows_tr, rows_te, y_tr, x_tr, x_te)
    if classification:
        index = {c: i for i, c in enumerate(classes)}
        yt_tr = np.array([index[v] for v in y_tr], dtype=np.float32)
        yt_te = np.array([index[v] for v in y_te], dtype=np.float32)
        n_out = len(classes) if len(classes) > 2 else 1
        if n_out == 1 and req.network.threshold != 0.5:
            artifacts[DECISION_ARTIFACT] = {"threshold": req.network.threshold}
    else:
        if req.apply_scaler:
            y_scaling = Scaling.fit(y_tr.reshape(-1, 1), req.min_scaler_range, req.max_scaler_range)
            yt_tr = y_scaling.transform(y_tr.reshape(-1, 1)).ravel()
            yt_te = y_scaling.transform(y_te.reshape(-1, 1)).ravel()
        else:
            yt_tr, yt_te = y_tr.astype(np.float32), y_te.astype(np.float32)
        n_out = 1
    weights = class_weights(req, classes, yt_tr) if classification else None

    cv = cross_validate(req, x_tr, yt_tr, n_out, stop, weights) if req.cross_validate else None
    model, history = _fit(req, x_tr, yt_tr, x_te, yt_te, n_out, progress, stop, weights)
    trained = TrainedModel(
        model=model, features=features, predict_feature=req.predict_feature, ml_type=req.ml_type,
        x_scaling=x_scaling, y_scaling=y_scaling, classes=classes, label_rules=req.label_rules,
        missing_value=req.missing_value, request=req.to_dict(), history=history, artifacts=artifacts,
    )
    out = trained.forward(x_te)
    pred = trained.decode(out)
    if classification:
        metrics = classification_metrics(y_te, pred, trained.scores(out), classes)
    else:
        metrics = regression_metrics(y_te, pred)
    if novelty is not None:
        trained.novelty = novelty
        metrics["novelty"] = _novelty_metrics(req, novelty, x_te_raw, y_te, pred, classes)
    if conflicts is not None:
        metrics["dropped_conflicts"] = int(conflicts.sum())
    dropped = dropped_columns(req, df)
    if dropped:  # text columns automatic feature choice left out: said, never silent
        metrics["dropped_columns"] = dropped
    metrics.update(
        evaluated_on="held-out",
        train_rows=int(x_tr.shape[0]),
        test_rows=int(x_te.shape[0]),
        train_seconds=round(time.perf_counter() - started, 3),
    )
    if cv is not None:
        metrics["cross_validation"] = cv
    trained.metrics = metrics
    return trained


def _conflicts(req: MLRequest, df: pd.DataFrame, rows_tr: np.ndarray, y_tr: np.ndarray) -> np.ndarray | None:
    """With ``content.conflicts: drop``, which training rows are attacks whose content is a normal
    training row's (``utils.content.conflicting_rows``); None when the request keeps them."""
    spec = req.network.content
    if spec is None or spec.conflicts != "drop":
        return None
    from antinex.utils.content import conflicting_rows

    out = conflicting_rows(df[spec.column].to_numpy(dtype=object)[rows_tr], y_tr)
    if np.unique(y_tr[~out]).size < np.unique(y_tr).size:  # only non-normal rows are ever dropped
        raise RequestError("content.conflicts", "every training row of a class has the content of a normal row: "
                                                "nothing would be left to learn that class from")
    return out


def _with_content(req: MLRequest, df: pd.DataFrame, rows_tr, rows_te, y_tr, x_tr, x_te):
    """The training and held-out inputs with the request content (utils/content.py), and its artifact.

    The encoder is fitted on the training rows only; a Dense network gets
    the scaled named columns beside the content columns (one sparse matrix),
    a sequence network the byte tokens alone.
    """
    from antinex.utils.content import content_encoder, load_content

    cells = df[req.network.content.column].to_numpy(dtype=object)
    encoder = content_encoder(req.network.content)
    # the profile learns from the normal rows, the lowest class; a regression has no classes: every row
    normal = y_tr if req.ml_type == "classification" else np.zeros(len(y_tr))
    c_tr = encoder.fit_transform(cells[rows_tr], normal)
    artifact = encoder.to_json()
    # held-out rows through the stored form (JSON), exactly as a reloaded model will read them
    c_te = load_content(artifact).transform(cells[rows_te])
    if req.network.sequence:
        return c_tr, c_te, artifact
    return _beside(x_tr, c_tr), _beside(x_te, c_te), artifact


def _beside(x: np.ndarray, content) -> sp.csr_matrix:
    """Named numeric columns, then the content columns, as one CSR matrix (Keras reads it batch by batch)."""
    if x.shape[1] == 0:
        return content
    out = sp.hstack([sp.csr_matrix(x), content], format="csr", dtype=np.float32)
    out.sort_indices()
    return out


def class_weights(req: MLRequest, classes: list[float], y_index: np.ndarray) -> dict[int, float] | None:
    """Keras ``class_weight`` ({class index: weight}) from the request's ``class_weight``."""
    asked = req.network.class_weight
    if asked is None:
        return None
    if asked == "balanced":
        counts = np.bincount(y_index.astype(int), minlength=len(classes))
        return {i: float(len(y_index) / (len(classes) * c)) if c else 1.0 for i, c in enumerate(counts)}
    out = {}
    for i, value in enumerate(classes):
        key = str(int(value)) if float(value).is_integer() else str(value)
        out[i] = float(asked.get(key, 1.0))
    unknown = set(asked) - {str(int(c)) if float(c).is_integer() else str(c) for c in classes}
    if unknown:
        raise RequestError("class_weight", f"names classes the data does not have: {', '.join(sorted(unknown))}")
    return out


def _fit_novelty(req: MLRequest, x_tr: np.ndarray, y_tr: np.ndarray, classes: list[float]):
    """A novelty detector on the training split's normal rows (the lowest class: AntiNex's 0)."""
    from antinex.utils.novelty import FrozenNoveltyDetector, NoveltyDetector

    if len(classes) != 2:
        raise RequestError("novelty", f"needs exactly two classes (normal and attack), found {len(classes)}")
    normal = x_tr[y_tr == classes[0]]
    if len(normal) < 2:
        raise RequestError("novelty", "needs at least two normal rows in the training split")
    return FrozenNoveltyDetector.from_detector(
        NoveltyDetector(contamination=req.novelty, random_state=req.seed).fit(normal))


def _novelty_metrics(req: MLRequest, novelty, x_te, y_te, pred, classes) -> dict:
    """Held-out rows: how often the novelty detector fires, and the combined detector's scores."""
    flags = novelty.predict(x_te)
    normal = y_te == classes[0]
    combined = np.where(flags == 1, classes[-1], pred)
    return {"contamination": req.novelty,
            "normal_flagged": float(flags[normal].mean()) if normal.any() else None,
            "attack_flagged": float(flags[~normal].mean()) if (~normal).any() else None,
            "combined": classification_metrics(y_te, combined, None, classes)}


def cross_validate(req: MLRequest, x: np.ndarray, y: np.ndarray, n_out: int,
                   stop: StopCheck | None = None, class_weight: dict | None = None) -> dict:
    """k-fold (stratified for classification) scores on the training rows."""
    splitter = (StratifiedKFold if req.ml_type == "classification" else KFold)(
        n_splits=req.num_splits, shuffle=True, random_state=req.seed)
    scores = []
    for fold_tr, fold_te in splitter.split(x, y.astype(int) if req.ml_type == "classification" else y):
        model = build_model(x.shape[1], req, n_out)
        model.fit(x[fold_tr], y[fold_tr], epochs=req.epochs, batch_size=req.batch_size, verbose=0,
                  callbacks=_callbacks(stop), class_weight=class_weight)
        scores.append(float(model.evaluate(x[fold_te], y[fold_te], verbose=0, return_dict=True).get(
            "accuracy" if req.ml_type == "classification" else "loss")))
    return {"num_splits": req.num_splits, "scores": scores,
            "mean": float(np.mean(scores)), "std": float(np.std(scores))}


def model_json(trained: TrainedModel) -> str:
    """The Keras architecture as JSON text (what the original stored in model_json).

    Cached on the model: the architecture never changes, and serialising it
    cost more than predicting 100 rows.
    """
    cached = getattr(trained, "_model_json", None)
    if cached is None:
        cached = json.dumps(json.loads(trained.model.to_json()))
        trained._model_json = cached
    return cached
