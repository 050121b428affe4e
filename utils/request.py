"""The ML request schema: one place that knows every field of a training or
prediction request, its type, its default and how it is validated.

The original AntiNex request bodies (``/ml/`` posts, core messages, the
client's ``generate_ai_request``) are accepted as they are: strings for
booleans, ``training_data`` as a JSON string, ``predict_rows`` as a list of
dicts or as a ``DataFrame.to_json()`` string.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from antinex.utils.layer_specs import LAYER_TYPES, SEQUENCE_LAYERS, validate_sequence_layer
from antinex.utils.limits import Limits
from antinex.utils.network_options import NetworkOptions, parse_network_options

ML_TYPES = ("classification", "regression")
# Names Keras 3 accepts, checked when a job is posted instead of failing in
# the worker (tests/utils/test_request.py builds each one with Keras).
ACTIVATIONS = ("relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "softplus", "softsign", "swish",
               "silu", "gelu", "exponential", "hard_sigmoid", "leaky_relu", "relu6", "mish", "log_softmax")
INITIALIZERS = ("uniform", "normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                "lecun_uniform", "lecun_normal", "random_uniform", "random_normal", "truncated_normal", "zeros",
                "ones", "orthogonal", "variance_scaling")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "binary_focal_crossentropy", "mse", "mae", "mape", "msle", "mean_squared_error", "mean_absolute_error",
          "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "hinge", "squared_hinge",
          "categorical_hinge", "huber", "log_cosh", "kl_divergence", "poisson", "cosine_similarity")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "adamw", "ftrl", "lion")
METRIC_NAMES = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                "mse", "mae", "mape", "msle", "cosine", "mean_squared_error", "mean_absolute_error",
                "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "cosine_similarity",
                "root_mean_squared_error", "auc", "precision", "recall")

DEFAULT_HISTORIES = ["val_loss", "val_acc", "loss", "acc"]
# Columns that identify a row or carry the answer: never features unless a
# request names them in features_to_process.
LEAKING_COLUMNS = frozenset(
    {"idx", "label_name", "label_value", "_dataset_index", "src_file", "_row_idx", "_count"}
)


class RequestError(ValueError):
    """A request field is missing or wrong; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class MLRequest:
    """A validated ML request (see docs/request-schema.md)."""

    label: str = "no-label-set"
    ml_type: str = "classification"
    predict_feature: str = "label_value"
    features_to_process: list[str] = field(default_factory=list)
    ignore_features: list[str] = field(default_factory=list)
    sort_values: list[str] = field(default_factory=list)
    dataset: Path | None = None
    predict_rows: list[dict] | None = None
    csv_file: Path | None = None
    meta_file: Path | None = None
    apply_scaler: bool = True
    min_scaler_range: float = -1.0
    max_scaler_range: float = 1.0
    missing_value: float = -1.0
    seed: int = 9
    test_size: float = 0.2
    batch_size: int = 32
    epochs: int = 5
    num_splits: int = 2
    cross_validate: bool = False
    verbose: int = 1
    loss: str | None = None
    optimizer: str = "adam"
    metrics: list[str] = field(default_factory=lambda: ["accuracy"])
    histories: list[str] = field(default_factory=lambda: list(DEFAULT_HISTORIES))
    model_desc: dict | None = None
    label_rules: dict = field(default_factory=dict)
    max_records: int = 100_000
    publish_to_core: bool = False
    novelty: float | None = None
    version: int = 1
    title: str = ""
    desc: str = ""
    ds_name: str = ""
    algo_name: str = ""
    manifest: dict = field(default_factory=dict)
    network: NetworkOptions = field(default_factory=NetworkOptions)  # content, scaler, class_weight, threshold
    extra: dict = field(default_factory=dict)

    @property
    def model_key(self) -> str:
        """The cache/store key of the model this request names."""
        return model_key(self.label)

    def effective_loss(self) -> str:
        if self.loss:
            return self.loss
        return "binary_crossentropy" if self.ml_type == "classification" else "mse"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the request (paths as strings, rows left out)."""
        out = dataclasses.asdict(self)
        for key in ("dataset", "csv_file", "meta_file"):
            out[key] = str(out[key]) if out[key] is not None else None
        out.pop("predict_rows")
        out["num_predict_rows"] = len(self.predict_rows) if self.predict_rows is not None else 0
        return out


def model_key(label: str) -> str:
    """The original's model key: the label stripped and lower-cased."""
    return str(label).strip().lower()


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise RequestError(name, f"must be a boolean, got {value!r}")


def _as_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise RequestError(name, f"must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(name, f"must be an integer, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise RequestError(name, f"must be an integer, got {value!r}")
    if minimum is not None and number < minimum:
        raise RequestError(name, f"must be at least {minimum}, got {value!r}")
    if maximum is not None and number > maximum:
        raise RequestError(name, f"must be at most {maximum:,} (the server's limit), got {value!r}")
    return int(number)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise RequestError(name, f"must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise RequestError(name, f"must be a finite number, got {value!r}")
    return number


def _as_str_list(name: str, value: Any, limit: int | None = None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        # env-style comma separated lists are accepted, like the client's
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RequestError(name, f"must be a list of column names, got {str(value)[:80]!r}")
    if limit is not None and len(value) > limit:
        raise RequestError(name, f"has {len(value):,} entries; the server's limit is {limit:,}")
    return list(value)


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise RequestError(name, f"unknown value {str(value)[:60]!r} (use one of {', '.join(allowed)})")
    return value.strip().lower()


def _as_json_obj(name: str, value: Any) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError(name, f"is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise RequestError(name, f"must be a JSON object, got {type(value).__name__}")
    return value


def _as_rows(value: Any) -> list[dict]:
    """predict_rows: a list of dicts, or a DataFrame.to_json() string (column-oriented)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError("predict_rows", f"is not valid JSON: {exc.msg}") from None
        if isinstance(value, dict):
            # DataFrame.to_json(): {column: {index: value}}
            if not all(isinstance(v, dict) for v in value.values()):
                raise RequestError("predict_rows", "a JSON object must map columns to {index: value}")
            index = sorted({k for col in value.values() for k in col}, key=_index_order)
            value = [{c: value[c].get(i) for c in value} for i in index]
    if not isinstance(value, list):
        raise RequestError("predict_rows", f"must be a list of row objects, got {type(value).__name__}")
    if not value:
        raise RequestError("predict_rows", "is empty: send at least one row")
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError("predict_rows", f"row {i} must be an object, got {type(row).__name__}")
    return value


def _index_order(key: str) -> tuple[int, Any]:
    try:
        return (0, int(key))
    except (TypeError, ValueError):
        return (1, key)


def confine_path(name: str, value: Any, allowed_dirs) -> Path:
    """Resolve a dataset path and require it readable: ``allowed_dirs`` is a DataSpace or a list of directories.

    A list (or None: unconfined) means shared directories only; the API
    passes the caller's DataSpace (their own folder plus the shared data).
    """
    from antinex.utils.userdata import DataSpace

    space = allowed_dirs if isinstance(allowed_dirs, DataSpace) else DataSpace.build(allowed_dirs)
    return space.read_path(name, value)


def _layers(value: Any, limits: Limits | None) -> dict | None:
    if value in (None, "", {}):
        return None
    desc = _as_json_obj("model_desc", value)
    layers = desc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise RequestError("model_desc.layers", "must be a non-empty list of layers")
    layers = [dict(layer) if isinstance(layer, dict) else layer for layer in layers]
    desc = {**desc, "layers": layers}  # names below are stored normalised (Keras wants lower case)
    if limits and len(layers) > limits.max_layers:
        raise RequestError("model_desc.layers", f"has {len(layers):,} layers; the server's limit is "
                                                f"{limits.max_layers} (ANTINEX_MAX_LAYERS)")
    for i, layer in enumerate(layers):
        where = f"model_desc.layers[{i}]"
        if not isinstance(layer, dict):
            raise RequestError(where, "must be an object")
        kind = str(layer.get("layer_type", "dense")).lower()
        if kind in SEQUENCE_LAYERS:  # utils/layer_specs.py: strict options, bounded sizes
            layers[i] = validate_sequence_layer(where, layer, limits, ACTIVATIONS)
            continue
        if kind not in LAYER_TYPES:
            raise RequestError(where, f"unknown layer_type {kind!r} (use one of {', '.join(LAYER_TYPES)})")
        if kind == "dense":
            _as_int(f"{where}.num_neurons", layer.get("num_neurons"), minimum=1,
                    maximum=limits.max_layer_units if limits else None)
            if layer.get("activation") is not None:
                layer["activation"] = _one_of(f"{where}.activation", layer["activation"], ACTIVATIONS)
            if layer.get("init") not in (None, ""):
                layer["init"] = _one_of(f"{where}.init", layer["init"], INITIALIZERS)
        else:
            rate = _as_float(f"{where}.rate", layer.get("rate"))
            if not 0 <= rate < 1:
                raise RequestError(f"{where}.rate", f"must be in [0, 1), got {rate}")
    if str(layers[-1].get("layer_type", "dense")).lower() != "dense":
        raise RequestError("model_desc.layers", "the last layer must be a dense output layer")
    return desc


def count_parameters(num_features: int, model_desc: dict | None) -> int:
    """Weights of the network a request describes on ``num_features`` inputs (dropout layers have none)."""
    units = [int(layer["num_neurons"]) for layer in (model_desc or {}).get("layers") or [{"num_neurons": 8},
                                                                                          {"num_neurons": 6},
                                                                                          {"num_neurons": 1}]
             if str(layer.get("layer_type", "dense")).lower() == "dense"]
    total, inputs = 0, num_features
    for n in units:
        total += (inputs + 1) * n
        inputs = n
    return total


def check_model_size(req: "MLRequest", num_features: int, limits: Limits) -> None:
    """The network on ``num_features`` inputs stays within ANTINEX_MAX_PARAMETERS."""
    if num_features > limits.max_features:
        raise RequestError("features_to_process", f"{num_features:,} feature columns; the server's limit is "
                                                  f"{limits.max_features:,} (ANTINEX_MAX_FEATURES)")
    weights = count_parameters(num_features, req.model_desc)
    if weights > limits.max_parameters:
        raise RequestError("model_desc", f"the network has {weights:,} weights on {num_features:,} inputs; the "
                                         f"server's limit is {limits.max_parameters:,} (ANTINEX_MAX_PARAMETERS)")


def parse_label_rules(value: Any, limits: Limits | None) -> dict:
    rules = _as_json_obj("label_rules", value)
    if limits:
        for key, entries in rules.items():
            if isinstance(entries, (list, dict)) and len(entries) > limits.max_labels:
                raise RequestError(f"label_rules.{str(key)[:40]}", f"has {len(entries):,} entries; the server's "
                                                                   f"limit is {limits.max_labels:,} (ANTINEX_MAX_LABELS)")
    labels, values = rules.get("labels"), rules.get("label_values")
    if labels is None and values is None:
        return rules
    if not isinstance(labels, list) or not isinstance(values, list) or len(labels) != len(values):
        raise RequestError("label_rules", "labels and label_values must be lists of the same length")
    return rules


def parse_request(body: dict | MLRequest, *, datasets_dirs=None, limits: Limits | None = None) -> MLRequest:
    """Validate a request body and return an :class:`MLRequest`.

    ``datasets_dirs``: where ``dataset``/``csv_file``/``meta_file`` may be
    read: a :class:`utils.userdata.DataSpace` (the API: the caller's folder
    and the shared data), a list of directories (the core), or None
    (the offline CLI: anywhere).
    ``limits``: the server's bounds (utils/limits.py); None: unbounded.
    """
    if isinstance(body, MLRequest):
        return body
    if not isinstance(body, dict):
        raise RequestError("body", f"must be a JSON object, got {type(body).__name__}")
    body = dict(body)
    # training_data (a JSON string in the original) overrides top-level keys
    overrides = _as_json_obj("training_data", body.pop("training_data", None))
    body.update({k: v for k, v in overrides.items() if k != "training_data"})

    req = MLRequest()
    known = {f.name for f in dataclasses.fields(MLRequest)}
    if "label" in body:
        if not isinstance(body["label"], str) or not body["label"].strip():
            raise RequestError("label", "must be a non-empty string")
        req.label = body["label"].strip()
    ml_type = body.get("ml_type") or "classification"
    if ml_type in ("keras", "keras-ai-tf", "standalone-classification"):
        ml_type = "classification"  # names the original accepted for a classifier
    if ml_type not in ML_TYPES:
        raise RequestError("ml_type", f"must be one of {', '.join(ML_TYPES)}, got {ml_type!r}")
    req.ml_type = ml_type
    if body.get("predict_feature") not in (None, ""):
        if not isinstance(body["predict_feature"], str):
            raise RequestError("predict_feature", "must be a column name")
        req.predict_feature = body["predict_feature"]
    columns_limit = limits.max_features if limits else None
    for name in ("features_to_process", "ignore_features", "sort_values"):
        if name in body:
            setattr(req, name, _as_str_list(name, body[name], columns_limit))
    if body.get("metrics") not in (None, ""):
        req.metrics = [_one_of("metrics", m, METRIC_NAMES) for m in _as_str_list("metrics", body["metrics"], 50)]
    if body.get("histories") not in (None, ""):
        req.histories = _as_str_list("histories", body["histories"], 50)

    for name in ("dataset", "csv_file", "meta_file"):
        if body.get(name) not in (None, ""):
            setattr(req, name, confine_path(name, body[name], datasets_dirs))
    if body.get("predict_rows") not in (None, "", []):
        req.predict_rows = _as_rows(body["predict_rows"])
        if limits and len(req.predict_rows) > limits.max_predict_rows:
            raise RequestError("predict_rows", f"has {len(req.predict_rows):,} rows; the server's limit is "
                                               f"{limits.max_predict_rows:,} per request (ANTINEX_MAX_PREDICT_ROWS): "
                                               "send them in several requests")
    elif body.get("predict_rows") == []:
        raise RequestError("predict_rows", "is empty: send at least one row")

    for name in ("apply_scaler", "publish_to_core", "cross_validate"):
        if body.get(name) is not None:
            setattr(req, name, _as_bool(name, body[name]))
    for name in ("min_scaler_range", "max_scaler_range", "missing_value"):
        if body.get(name) is not None:
            setattr(req, name, _as_float(name, body[name]))
    if req.min_scaler_range >= req.max_scaler_range:
        raise RequestError("min_scaler_range", "must be below max_scaler_range")
    bounds = {"seed": limits.max_seed, "batch_size": limits.max_batch_size, "epochs": limits.max_epochs,
              "num_splits": limits.max_num_splits, "max_records": limits.max_records} if limits else {}
    bounds.setdefault("seed", 2**32 - 1)  # NumPy's limit, whatever the server says
    for name, minimum in (("seed", 0), ("batch_size", 1), ("epochs", 1), ("num_splits", 2),
                          ("verbose", 0), ("max_records", 0), ("version", 0)):
        if body.get(name) not in (None, ""):
            setattr(req, name, _as_int(name, body[name], minimum, bounds.get(name)))
    if req.cross_validate and req.predict_rows is not None and req.dataset is None and \
            req.num_splits > len(req.predict_rows):
        raise RequestError("num_splits", f"{req.num_splits} folds need at least as many rows; "
                                         f"predict_rows has {len(req.predict_rows)}")
    if body.get("novelty") not in (None, "", False, 0):
        req.novelty = _as_float("novelty", body["novelty"])
        if not 0 < req.novelty <= 0.5:
            raise RequestError("novelty", f"must be a share of normal rows between 0 and 0.5, got {req.novelty}")
        if req.ml_type != "classification":
            raise RequestError("novelty", "needs ml_type classification (normal rows are the lowest class)")
    if body.get("test_size") not in (None, ""):
        req.test_size = _as_float("test_size", body["test_size"])
        if not 0 < req.test_size < 1:
            raise RequestError("test_size", f"must be between 0 and 1, got {req.test_size}")
    for name in ("loss", "optimizer", "title", "desc", "ds_name", "algo_name"):
        if body.get(name) not in (None, ""):
            if not isinstance(body[name], str):
                raise RequestError(name, f"must be a string, got {str(body[name])[:80]!r}")
            setattr(req, name, body[name])
    if req.loss:
        req.loss = _one_of("loss", req.loss, LOSSES)
    req.optimizer = _one_of("optimizer", req.optimizer, OPTIMIZERS)
    req.model_desc = _layers(body.get("model_desc"), limits)
    req.network = parse_network_options(body, req, limits)  # takes its fields off body (not in extra)
    req.label_rules = parse_label_rules(body.get("label_rules"), limits)
    req.manifest = _as_json_obj("manifest", body.get("manifest"))
    req.extra = {k: v for k, v in body.items() if k not in known}
    if req.predict_feature in req.ignore_features:
        raise RequestError("ignore_features", f"ignores the target {req.predict_feature!r}")
    return req


def require_data(req: MLRequest) -> None:
    """A request that trains or predicts needs rows from somewhere."""
    if req.dataset is None and req.predict_rows is None and req.csv_file is None:
        raise RequestError("dataset", "send a dataset path or predict_rows")
