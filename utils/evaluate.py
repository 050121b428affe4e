"""Held-out evaluation: classification and regression metrics, JSON-safe."""
from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None,
                           classes: list[float]) -> dict:
    """accuracy, precision, recall, f1, roc_auc and the confusion matrix.

    Binary problems report the positive (largest) class; more classes
    report weighted averages. ROC AUC is None when only one class is present.
    """
    binary = len(classes) <= 2
    avg = "binary" if binary else "weighted"
    pos = classes[-1] if classes else 1
    kw = {"average": avg, "zero_division": 0}
    if binary:
        kw["pos_label"] = pos
    out = {
        "accuracy": _finite(skm.accuracy_score(y_true, y_pred)),
        "precision": _finite(skm.precision_score(y_true, y_pred, **kw)),
        "recall": _finite(skm.recall_score(y_true, y_pred, **kw)),
        "f1": _finite(skm.f1_score(y_true, y_pred, **kw)),
        "roc_auc": None,
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "classes": [_plain(c) for c in classes],
        "num_rows": int(len(y_true)),
    }
    if binary and scores is not None and len(np.unique(y_true)) == 2:
        out["roc_auc"] = _finite(skm.roc_auc_score(y_true == pos, scores))
    if binary and len(classes) == 2:
        tn, fp, fn, tp = np.asarray(out["confusion_matrix"]).ravel()
        out["false_positive_rate"] = _finite(fp / (fp + tn)) if fp + tn else None
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    return {
        "mse": _finite(skm.mean_squared_error(y_true, y_pred)),
        "mae": _finite(skm.mean_absolute_error(y_true, y_pred)),
        "r2": _finite(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
        "num_rows": int(len(y_true)),
    }


def _plain(v: float):
    v = float(v)
    return int(v) if v.is_integer() else v
