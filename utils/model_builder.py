"""Keras networks from a request's ``model_desc`` (or a sensible default)."""
from __future__ import annotations

import keras

from antinex.utils.layer_specs import SEQUENCE_LAYERS, keras_layer
from antinex.utils.request import MLRequest

INITIALIZERS = {"uniform": "random_uniform", "normal": "random_normal"}
# legacy metric names the original requests use
METRICS = {"acc": "accuracy", "cosine": "cosine_similarity", "mape": "mean_absolute_percentage_error",
           "mse": "mean_squared_error", "mae": "mean_absolute_error"}

DEFAULT_LAYERS = {
    "classification": [
        {"num_neurons": 8, "init": "uniform", "activation": "relu"},
        {"num_neurons": 6, "init": "uniform", "activation": "relu"},
        {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"},
    ],
    "regression": [
        {"num_neurons": 8, "init": "normal", "activation": "relu"},
        {"num_neurons": 6, "init": "normal", "activation": "relu"},
        {"num_neurons": 1, "init": "normal", "activation": None},
    ],
}


def layer_specs(req: MLRequest, n_outputs: int = 1) -> list[dict]:
    """The layer list to build: the request's, or the default for its ml_type.

    For more than two classes the output layer becomes ``n_outputs`` softmax
    units whatever the request said, because one sigmoid unit cannot
    separate three classes.
    """
    layers = [dict(layer) for layer in (req.model_desc or {}).get("layers") or DEFAULT_LAYERS[req.ml_type]]
    if n_outputs > 1:
        layers[-1].update(num_neurons=n_outputs, activation="softmax")
    return layers


def build_model(num_features: int, req: MLRequest, n_outputs: int = 1) -> keras.Sequential:
    """A compiled Sequential network: Dense and Dropout layers on ``num_features`` columns, or (a request
    whose ``content`` has the ``bytes`` encoding) the sequence layers of utils/layer_specs.py on byte tokens."""
    model = keras.Sequential(name=_safe_name(req.label))
    if req.network.sequence:
        model.add(keras.Input(shape=(req.network.content.max_len,), dtype="int32"))
    else:
        model.add(keras.Input(shape=(num_features,)))
    for spec in layer_specs(req, n_outputs):
        kind = str(spec.get("layer_type", "dense")).lower()
        if kind in SEQUENCE_LAYERS:
            model.add(keras_layer(spec))
            continue
        if kind == "dropout":
            model.add(keras.layers.Dropout(float(spec["rate"])))
            continue
        init = spec.get("init") or "glorot_uniform"
        model.add(keras.layers.Dense(
            int(spec["num_neurons"]),
            kernel_initializer=INITIALIZERS.get(init, init),
            activation=spec.get("activation") or "linear",
        ))
    compile_model(model, req, n_outputs)
    return model


def compile_model(model: keras.Model, req: MLRequest, n_outputs: int = 1) -> None:
    loss = "sparse_categorical_crossentropy" if n_outputs > 1 else req.effective_loss()
    metrics = [METRICS.get(m, m) for m in req.metrics]
    if req.ml_type == "regression":
        metrics = [m for m in metrics if m != "accuracy"] or ["mean_absolute_error"]
    model.compile(
        loss=loss,
        optimizer=req.optimizer,
        metrics=metrics,
        # many small steps per call: the fit loop's Python overhead dominates
        # small Dense networks otherwise
        steps_per_execution=32,
    )


def _safe_name(label: str) -> str:
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in label)[:60].strip("_")
    return name or "antinex_model"
