"""A trained model with everything needed to predict: network, scalers,
features, classes, and the request it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from antinex.utils.dataset import feature_matrix
from antinex.utils.request import RequestError
from antinex.utils.scaling import Scaling


def _relu(x):
    return np.maximum(x, 0, out=x)  # x is always a fresh layer output


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free logistic


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# artifact names (TrainedModel.artifacts; the store writes artifact-<name>.json under the checksum)
CONTENT_ARTIFACT = "request-content"
DECISION_ARTIFACT = "decision"

# rows per block of the numpy forward pass: a 200-unit layer's output for
# 8,192 rows is 6.5 MB, small enough to stay in cache between layers
FORWARD_BLOCK_ROWS = 8192

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
    novelty: Any = None  # utils.novelty.FrozenNoveltyDetector, when the request asked for one
    # fitted preprocessing and profiles beside the network, by name: JSON-safe values only
    # (the model store writes each as <name>.json under its checksum; never pickle)
    artifacts: dict[str, Any] = field(default_factory=dict)
    _dense: list | None = field(default=None, repr=False)
    _fused: list | None = field(default=None, repr=False)
    _content: Any = field(default=None, init=False, repr=False)

    @property
    def content(self):
        """The fitted request-content encoder (utils/content.py) stored as the artifact ``request-content``, or None."""
        if self._content is None and CONTENT_ARTIFACT in self.artifacts:
            from antinex.utils.content import load_content

            try:
                self._content = load_content(self.artifacts[CONTENT_ARTIFACT])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"the model's artifact {CONTENT_ARTIFACT!r} is not a content encoder: {exc}") from None
        return self._content

    @property
    def threshold(self) -> float:
        """The attack probability from which a two-class network says attack (the request's ``threshold``)."""
        return float((self.artifacts.get(DECISION_ARTIFACT) or {}).get("threshold", 0.5))

    @property
    def sequence(self) -> bool:
        """True for a sequence network (it reads byte tokens through Keras)."""
        return self.content is not None and self.content.spec.encoding == "bytes"

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

    def _fused_layers(self) -> list | None:
        """The dense plan with the input scaling folded into the first layer.

        ``(x * s + o) @ W + b == x @ (s[:, None] * W) + (o @ W + b)``: the
        scaling pass over every input cell disappears into the weights.
        """
        if self._fused is None:
            plan = self._dense_layers()
            if plan and (self.content is not None or (self.x_scaling is not None and not self.x_scaling.affine)):
                plan = None  # the scaling cannot be folded: content columns beside, or a log before the affine part
            elif plan and self.x_scaling is not None:
                (w, b, act), rest = plan[0], plan[1:]
                scale = self.x_scaling.scale.astype(np.float64)
                offset = self.x_scaling.offset.astype(np.float64)
                w64 = w.astype(np.float64)
                first = ((scale[:, None] * w64).astype(np.float32), (offset @ w64 + b).astype(np.float32), act)
                plan = [first, *rest]
            self._fused = plan or False
        return self._fused or None

    @staticmethod
    def _run_plan(plan: list, x) -> np.ndarray:
        # in blocks of rows, so each layer's output stays in the CPU cache for the next;
        # x may be a scipy CSR matrix (content columns): its first product is a sparse one
        x = x.astype(np.float32, copy=False)
        n = x.shape[0]
        out = None
        for start in range(0, max(n, 1), FORWARD_BLOCK_ROWS):
            h = x[start:start + FORWARD_BLOCK_ROWS]
            for w, b, act in plan:
                h = np.asarray(h @ w)
                h += b
                h = act(h)
            if n <= FORWARD_BLOCK_ROWS:
                return h
            if out is None:
                out = np.empty((n, h.shape[1]), dtype=np.float32)
            out[start:start + len(h)] = h
        return out

    def forward(self, x) -> np.ndarray:
        """Raw network outputs for the network's inputs (numpy fast path for Dense nets, Keras for the rest)."""
        plan = self._dense_layers()
        if plan is None:
            if x.shape[0] == 0:
                return np.zeros((0, self.model.output_shape[-1]), dtype=np.float32)
            return np.asarray(self.model.predict(x, verbose=0, batch_size=4096 if not self.sequence else 256))
        return self._run_plan(plan, x)

    def transform(self, df: pd.DataFrame):
        """The network's inputs for ``df``: scaled named columns, then the content columns (a CSR matrix),
        or the byte tokens of a sequence network."""
        if self.content is not None:
            column = self.content.spec.column
            if column not in df.columns:
                raise RequestError("predict_rows", f"rows are missing the request-text column {column!r}")
            encoded = self.content.transform(df[column].to_numpy(dtype=object))
            if self.sequence:
                return encoded
            if not self.features:
                return encoded
            x = self._scaled(df)
            out = sp.hstack([sp.csr_matrix(x), encoded], format="csr", dtype=np.float32)
            out.sort_indices()
            return out
        return self._scaled(df)

    def _scaled(self, df: pd.DataFrame) -> np.ndarray:
        x = feature_matrix(df, self.features, self.missing_value)  # a fresh float32 copy: scale it in place
        return self.x_scaling.transform(x, inplace=True) if self.x_scaling else x

    def predict_raw(self, df: pd.DataFrame) -> np.ndarray:
        """Raw network outputs for unscaled rows (the scaling folded into the weights when possible)."""
        plan = self._fused_layers()
        if plan is None:
            return self.forward(self.transform(df))
        return self._run_plan(plan, feature_matrix(df, self.features, self.missing_value))

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted targets: class values for classification (novel rows as attacks), numbers for regression."""
        out = self.predict_raw(df)
        return self.with_novelty(self.decode(out), self.novel(df))

    def novel(self, df: pd.DataFrame) -> np.ndarray | None:
        """1 where a row is unlike the normal training rows (None without a novelty detector)."""
        if self.novelty is None:
            return None
        return self.novelty.predict(feature_matrix(df, self.features, self.missing_value))

    def with_novelty(self, pred: np.ndarray, flags: np.ndarray | None) -> np.ndarray:
        """Predictions with novel rows turned into the attack (highest) class."""
        if flags is None:
            return pred
        return np.where(flags == 1, float(self.classes[-1]), pred)

    def decode(self, out: np.ndarray) -> np.ndarray:
        if self.ml_type == "regression":
            values = out.reshape(-1, 1)
            if self.y_scaling:
                values = self.y_scaling.inverse(values)
            return values.ravel().astype(np.float64)
        classes = np.asarray(self.classes, dtype=np.float64)
        if out.shape[1] == 1:
            idx = (out[:, 0] >= self.threshold).astype(int)
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
