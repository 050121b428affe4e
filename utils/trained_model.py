"""A trained model with everything needed to predict: network, scalers,
features, classes, and the request it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from utils.dataset import feature_matrix
from utils.scaling import Scaling


def _relu(x):
    return np.maximum(x, 0, out=x)  # x is always a fresh layer output


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free logistic


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "softplus": lambda x: np.logaddexp(0, x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
}


@dataclass
class TrainedModel:
    """A fitted network plus its training-time preprocessing.

    ``predict`` reuses the scalers fitted on the training rows (the original
    refitted a scaler on the incoming rows, so a single row collapsed to -1).
    """

    model: Any  # keras.Model
    features: list[str]
    predict_feature: str
    ml_type: str
    x_scaling: Scaling | None = None
    y_scaling: Scaling | None = None
    classes: list[float] = field(default_factory=list)
    label_rules: dict = field(default_factory=dict)
    missing_value: float = -1.0
    request: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    model_ref: dict = field(default_factory=dict)
    _dense: list | None = field(default=None, repr=False)

    # -- forward pass -------------------------------------------------------
    def _dense_layers(self) -> list | None:
        """(W, b, activation) per Dense layer, or None if the net has other layers."""
        if self._dense is None:
            plan = []
            for layer in self.model.layers:
                kind = type(layer).__name__
                if kind == "Dropout":
                    continue  # identity at inference
                act = getattr(getattr(layer, "activation", None), "__name__", None)
                if kind != "Dense" or act not in ACTIVATIONS or not layer.use_bias:
                    plan = False
                    break
                w, b = layer.get_weights()
                plan.append((w.astype(np.float32), b.astype(np.float32), ACTIVATIONS[act]))
            self._dense = plan
        return self._dense or None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Raw network outputs for scaled features (numpy fast path, Keras fallback)."""
        plan = self._dense_layers()
        if plan is None:
            return np.asarray(self.model.predict(x, verbose=0, batch_size=4096))
        out = x.astype(np.float32, copy=False)
        for w, b, act in plan:
            out = out @ w
            out += b
            out = act(out)
        return out

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        x = feature_matrix(df, self.features, self.missing_value)  # a fresh float32 copy: scale it in place
        return self.x_scaling.transform(x, inplace=True) if self.x_scaling else x

    def predict_raw(self, df: pd.DataFrame) -> np.ndarray:
        return self.forward(self.transform(df))

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted targets: class values for classification, numbers for regression."""
        out = self.predict_raw(df)
        return self.decode(out)

    def decode(self, out: np.ndarray) -> np.ndarray:
        if self.ml_type == "regression":
            values = out.reshape(-1, 1)
            if self.y_scaling:
                values = self.y_scaling.inverse(values)
            return values.ravel().astype(np.float64)
        classes = np.asarray(self.classes, dtype=np.float64)
        if out.shape[1] == 1:
            idx = (out[:, 0] >= 0.5).astype(int)
        else:
            idx = out.argmax(axis=1)
        return classes[idx]

    def scores(self, out: np.ndarray) -> np.ndarray:
        """Probability of the positive (last) class, for ROC AUC."""
        return out[:, -1] if out.ndim == 2 else out

    def label_name(self, value: Any) -> str:
        """Name of a predicted value from label_rules (unmapped values are named, not fatal)."""
        rules = self.label_rules or {}
        labels, values = rules.get("labels") or [], rules.get("label_values") or []
        for name, v in zip(labels, values):
            try:
                if float(v) == float(value):
                    return str(name)
            except (TypeError, ValueError):
                continue
        if self.ml_type == "regression":
            return ""
        return f"unknown_{_num(value)}"


def _num(value: Any) -> Any:
    value = float(value)
    return int(value) if value.is_integer() else value
