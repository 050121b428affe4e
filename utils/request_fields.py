"""The ML request schema, declared once: every field of a ``POST /ml/`` body (and core message), its type,
its default, its meaning and how it is read.

Everything else is made from :data:`FIELDS`: the parsed request class
(``utils.request.MLRequest``), ``parse_request``, the refusal of unknown
fields (with the closest known name), the Swagger fields of ``POST /ml/``
(``api/ml/serializers.py``) and the tables of docs/request-schema.md
(``python -m antinex.utils.doctables``; a test fails when they drift).

**Adding a field is one entry here**: ``Field(name, type, default,
meaning, ...)``; a field with its own rules gets ``read=`` (a function
``(name, value, ctx) -> value`` raising ``RequestError``), written in its own
module when it is more than a few lines. Then regenerate the docs tables.

Roles (``role=``): ``request`` (used by training and prediction),
``record`` (stored on the job record, descriptive), ``server`` (set by the
API for the core; a client's value is replaced) and ``legacy`` (fields of
the original accepted for compatibility that have no effect here: a request
carrying one with a value is told so in ``MLRequest.ignored``).
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from antinex.utils.limits import Limits
from antinex.utils.model_desc import check_model_desc
from antinex.utils.network_options import SCALERS, read_class_weight, read_content, read_threshold
from antinex.utils.request_values import (RequestError, as_bool, as_float, as_int, as_json_obj, as_rows, as_str,
                                          as_str_list, is_empty, one_of)

ML_TYPES = ("classification", "regression")
# names the original accepted for a classifier
ML_TYPE_ALIASES = ("keras", "keras-ai-tf", "standalone-classification")
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
ROLES = ("request", "record", "server", "legacy")
MAX_NAMES = 50  # entries of metrics and histories


@dataclass(frozen=True)
class Context:
    """What reading a field may depend on: where files may be read, the server's bounds (None: offline)."""

    datasets_dirs: Any = None
    limits: Limits | None = None


Reader = Callable[[str, Any, Context], Any]


_LIMIT_ENV = {f.name: f.metadata["env"] for f in dataclasses.fields(Limits)}


def limit_of(ctx: Context, attr: str) -> tuple[int | float | None, str]:
    """(value, environment variable) of one of the server's bounds, or (None, "") offline."""
    if not attr or ctx.limits is None:
        return None, ""
    return getattr(ctx.limits, attr), _LIMIT_ENV[attr]


@dataclass(frozen=True)
class Field:
    """One request field. ``type`` is bool, int, float, str, list (of names), dict (a JSON object, or a
    string holding one), Path (a file the caller may read), ``"rows"`` or ``typing.Any`` (kept as sent)."""

    name: str
    type: Any
    default: Any
    meaning: str
    role: str = "request"
    minimum: float | None = None
    maximum: float | None = None
    limit: str = ""  # the Limits attribute bounding it on a server (values, or entries of a list)
    choices: tuple[str, ...] = ()  # allowed values (of a str, or of each entry of a list), case-insensitive
    read: Reader | None = None  # its own reader, instead of the type's
    read_empty: bool = False  # null and "" go to the reader too (otherwise they mean: the default)
    doc_type: str = ""  # the docs' type column, when the type's name says too little
    required: bool = False  # absent or empty: a RequestError

    @property
    def stored(self) -> bool:
        """Kept on the parsed request (``MLRequest.<name>``); server and legacy fields are not."""
        return self.role in ("request", "record") or (self.role == "server" and self.type is not Any)

    def bound(self, ctx: Context) -> tuple[float | None, str]:
        """The largest value (of a number; entries of a list or rows) allowed, and the environment variable
        that set it: the field's own maximum or the server's limit, whichever is smaller."""
        server, env = limit_of(ctx, self.limit)
        if server is None or (self.maximum is not None and self.maximum < server):
            return self.maximum, ""
        return server, env

    def parse(self, value: Any, ctx: Context) -> Any:
        """The typed value of ``value`` (already known not to be empty, unless ``read_empty``)."""
        if self.read is not None:
            return self.read(self.name, value, ctx)
        if self.type is bool:
            return as_bool(self.name, value)
        if self.type is int:
            maximum, env = self.bound(ctx)
            return as_int(self.name, value, None if self.minimum is None else int(self.minimum),
                          None if maximum is None else int(maximum), env)
        if self.type is float:
            number = as_float(self.name, value)
            if self.minimum is not None and number < self.minimum:
                raise RequestError(self.name, f"must be at least {self.minimum:g}, got {number:g}")
            if self.maximum is not None and number > self.maximum:
                raise RequestError(self.name, f"must be at most {self.maximum:g}, got {number:g}")
            return number
        if self.type is str:
            text = as_str(self.name, value)
            return one_of(self.name, text, self.choices) if self.choices else text
        if self.type is list:
            bound, _ = self.bound(ctx)
            names = as_str_list(self.name, value, None if bound is None else int(bound))
            return [one_of(self.name, n, self.choices) for n in names] if self.choices else names
        if self.type is dict:
            return as_json_obj(self.name, value)
        if self.type is Path:
            return confine_path(self.name, value, ctx.datasets_dirs)
        if self.type == "rows":
            rows = as_rows(self.name, value)
            bound, env = self.bound(ctx)
            if bound is not None and len(rows) > bound:
                raise RequestError(self.name, f"has {len(rows):,} rows; the server's limit is {bound:,} per "
                                              f"request ({env}): send them in several requests")
            return rows
        return value

    # -- documentation (docs/request-schema.md, Swagger) ----------------------
    def type_text(self) -> str:
        if self.doc_type:
            return self.doc_type
        text = {bool: "bool or \"true\"/\"false\"", int: "int", float: "number", str: "string",
                list: "list of names or a comma string", dict: "object or JSON string", Path: "path",
                "rows": "list of objects or a `DataFrame.to_json()` string", Any: "any"}.get(self.type, "any")
        if self.choices and self.type is str and len(self.choices) <= 4:
            text = " \\| ".join(f"`{c}`" for c in self.choices)
        bounds = []
        if self.minimum is not None:
            bounds.append(f"≥ {self.minimum:g}")
        if self.limit:
            bounds.append(f"≤ {_LIMIT_ENV[self.limit]}")
        return text + (f" ({', '.join(bounds)})" if bounds else "")

    def default_text(self) -> str:
        if self.role in ("server", "legacy"):
            return ""
        value = self.default
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{}"
        return "\"\"" if value == "" else f"{value:,}" if isinstance(value, int) else str(value)


def confine_path(name: str, value: Any, allowed_dirs) -> Path:
    """Resolve a dataset path and require it readable: ``allowed_dirs`` is a DataSpace or a list of directories.

    A list (or None: unconfined) means shared directories only; the API
    passes the caller's DataSpace (their own folder plus the shared data).
    """
    from antinex.utils.userdata import DataSpace

    space = allowed_dirs if isinstance(allowed_dirs, DataSpace) else DataSpace.build(allowed_dirs)
    return space.read_path(name, value)


# -- readers of fields with rules of their own --------------------------------
def _label(name: str, value: Any, ctx: Context) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(name, "must be a non-empty string")
    return value.strip()


def _ml_type(name: str, value: Any, ctx: Context) -> str:
    if value in ML_TYPE_ALIASES:
        return "classification"
    if value not in ML_TYPES:
        raise RequestError(name, f"must be one of {', '.join(ML_TYPES)}, got {str(value)[:60]!r}")
    return value


def _test_size(name: str, value: Any, ctx: Context) -> float:
    share = as_float(name, value)
    if not 0 < share < 1:
        raise RequestError(name, f"must be between 0 and 1, got {share}")
    return share


def _novelty(name: str, value: Any, ctx: Context) -> float | None:
    if value in (False, 0):
        return None  # 0 / false: no novelty detector
    share = as_float(name, value)
    if not 0 < share <= 0.5:
        raise RequestError(name, f"must be a share of normal rows between 0 and 0.5, got {share}")
    return share


def _model_desc(name: str, value: Any, ctx: Context) -> dict | None:
    return check_model_desc(value, ctx.limits)


def parse_label_rules(value: Any, limits: Limits | None) -> dict:
    """``label_rules``: ``{"labels": [...], "label_values": [...]}`` of the same length (both, or neither)."""
    rules = as_json_obj("label_rules", value)
    if limits:
        for key, entries in rules.items():
            if isinstance(entries, (list, dict)) and len(entries) > limits.max_labels:
                raise RequestError(f"label_rules.{str(key)[:40]}",
                                   f"has {len(entries):,} entries; the server's limit is {limits.max_labels:,} "
                                   "(ANTINEX_MAX_LABELS)")
    labels, values = rules.get("labels"), rules.get("label_values")
    if labels is None and values is None:
        return rules
    if not isinstance(labels, list) or not isinstance(values, list) or len(labels) != len(values):
        raise RequestError("label_rules", "labels and label_values must be lists of the same length")
    return rules


def _label_rules(name: str, value: Any, ctx: Context) -> dict:
    return parse_label_rules(value, ctx.limits)


def _server(name: str, meaning: str) -> Field:
    return Field(name, Any, None, meaning, role="server")


def _legacy(name: str, why: str) -> Field:
    return Field(name, Any, None, why, role="legacy")


_WEIGHTS = "the original's HDF5 weights: models live in the model store (`.keras` with a checksum); no `.h5` " \
           "file is read or written"

FIELDS: tuple[Field, ...] = (
    # -- what to learn, from which rows ---------------------------------------
    Field("label", str, "no-label-set", "model name: the key of the model cache and store (stripped, lower-cased); "
          "the API prefixes the user (`user_<id>.<label>`). Reusing a label predicts with its trained model",
          read=_label, read_empty=True),
    Field("ml_type", str, "classification", "`keras`, `keras-ai-tf` and `standalone-classification` are read as "
          "classification", read=_ml_type, doc_type="`classification` \\| `regression`"),
    Field("predict_feature", str, "label_value", "the target column"),
    Field("features_to_process", list, [], "input columns; must exist and be numeric. With none named: every "
          "numeric column that is neither leaking nor ignored (text columns are left out and reported)",
          limit="max_features"),
    Field("ignore_features", list, [], "never used as features; may not name the target", limit="max_features"),
    Field("sort_values", list, [], "sort the rows by these columns before use", limit="max_features"),
    Field("dataset", Path, None, "a CSV: relative to your folder (then the shared datasets), or absolute inside "
          "one of them"),
    Field("predict_rows", "rows", None, "rows to predict (or to train on, when there is no dataset)",
          limit="max_predict_rows"),
    Field("csv_file", Path, None, "legacy data source: a prepared CSV, with `meta_file`"),
    Field("meta_file", Path, None, "legacy: the prepare step's metadata; its features are used"),
    # -- scaling ----------------------------------------------------------------
    Field("apply_scaler", bool, True, "min-max scaling to [`min_scaler_range`, `max_scaler_range`], fitted on the "
          "training rows only and stored with the model; a regression also scales its target (its loss is in "
          "scaled units)"),
    Field("min_scaler_range", float, -1.0, "lower end of the scaled range"),
    Field("max_scaler_range", float, 1.0, "upper end of the scaled range (above `min_scaler_range`)"),
    Field("missing_value", float, -1.0, "fills missing cells (the v1 datasets used -1)"),
    # -- training ---------------------------------------------------------------
    Field("seed", int, 9, "split and weight initialisation", minimum=0, maximum=2**32 - 1, limit="max_seed"),
    Field("test_size", float, 0.2, "held-out share, in (0, 1); stratified for classification", read=_test_size),
    Field("batch_size", int, 32, "rows per training batch", minimum=1, limit="max_batch_size"),
    Field("epochs", int, 5, "passes over the training rows", minimum=1, limit="max_epochs"),
    Field("num_splits", int, 2, "folds of the cross-validation", minimum=2, limit="max_num_splits"),
    Field("cross_validate", bool, False, "k-fold (stratified) cross-validation on the training rows (the original "
          "always ran it; it multiplies training time)"),
    Field("verbose", int, 1, "Keras progress output in the worker's log", minimum=0),
    Field("loss", str, None, "Keras loss; none: `binary_crossentropy` (classification) or `mse` (regression)",
          choices=LOSSES),
    Field("optimizer", str, "adam", "Keras optimizer", choices=OPTIMIZERS),
    Field("metrics", list, ["accuracy"], "Keras metrics; legacy names (`acc`, `mse`, `mae`, `mape`, `cosine`) are "
          "mapped to Keras 3 names", choices=METRIC_NAMES, maximum=MAX_NAMES),
    Field("histories", list, DEFAULT_HISTORIES, "history series reported; `acc`/`val_acc` alias Keras 3's "
          "`accuracy`", maximum=MAX_NAMES),
    Field("model_desc", dict, None, "`{\"layers\": [...]}`: `{\"layer_type\": \"dense\", \"num_neurons\", \"init\", "
          "\"activation\"}` or `{\"layer_type\": \"dropout\", \"rate\"}`, the last layer dense. None: 8-6-1. More "
          "than two classes: the output becomes softmax over the classes. With `content.encoding` `bytes`, the "
          "sequence layers `embedding` (first), `conv1d`, `maxpooling1d`, `globalmaxpooling1d`, "
          "`globalaveragepooling1d`, `flatten`, `lstm`, `gru`, `bidirectional` (docs/request-features.md); any "
          "other option is refused naming it, sizes are bounded and weights counted exactly", read=_model_desc,
          doc_type="object (`layers`)"),
    # -- what the network reads and how it learns (utils/network_options.py) ---------------------------
    Field("content", Any, None, "the network reads the request's content from a text column: "
          "`{\"column\": \"http_request\", \"encoding\": \"features\"|\"bytes\", \"ngrams\": [1, 3], \"hash_dims\": "
          "2048, \"tokens\": true, \"headers\": \"values\"|\"shape\"|\"none\", \"profile\": \"app\"|\"all\"|\"none\", "
          "\"aggregate\": true, \"max_len\": 512, \"folds\": 5, \"conflicts\": \"keep\"|\"drop\"}` (the defaults; "
          "`true` takes them). Fitted on the training split only, stored with the model (artifact "
          "`request-content`); `features_to_process` then names extra numeric columns only; `conflicts: drop` "
          "leaves attack rows whose content equals a normal row's out of the training split "
          "(`dropped_conflicts` in the metrics; docs/request-features.md)", read=read_content,
          doc_type="object, `true` or null"),
    Field("scaler", str, "minmax", "how `apply_scaler` scales the numeric columns: `minmax` (the original's), "
          "`log-minmax`, `standard`, `log-standard` (`log-`: `sign(x)·log1p(|x|)` first, for heavy-tailed counts)",
          choices=SCALERS),
    Field("class_weight", Any, None, "weights of the classes in the loss: `\"balanced\"` (each class as much as "
          "the other in total) or `{\"<class value>\": weight}`; classification only", read=read_class_weight,
          doc_type="null, `\"balanced\"` or object"),
    Field("threshold", float, 0.5, "the attack probability from which a two-class network predicts the attack "
          "class; stored with the model (artifact `decision`)", read=read_threshold),
    Field("label_rules", dict, {}, "`{\"labels\": [...], \"label_values\": [...]}`: names of predicted values "
          "(`label_name`); an unmapped value is named `unknown_<v>`", read=_label_rules),
    Field("novelty", float, None, "also fit a novelty detector on the training split's normal rows (the lowest "
          "class): the share of normal rows it may call novel, in (0, 0.5]; 0, false or none: no detector. Rows "
          "it flags are predicted as the attack class and carry `\"_novel\": 1`; metrics gain `novelty`. "
          "Two-class classification only; stored with the model", read=_novelty),
    # -- what comes back --------------------------------------------------------
    Field("max_records", int, 100_000, "prediction rows returned and stored with the result (`antinex train -o` "
          "writes every row to `predictions.csv`)", minimum=0, limit="max_records"),
    Field("publish_to_core", bool, False, "use the label's trained model if there is one (a predict request)"),
    # -- the job record -----------------------------------------------------------
    Field("training_data", dict, {}, "its keys override the top-level ones (the original's habit); unknown keys "
          "are refused like top-level ones", role="record"),
    Field("title", str, "", "shown on the job (default: the label)", role="record"),
    Field("desc", str, "", "description (default: the label)", role="record"),
    Field("ds_name", str, "", "dataset name (default: the label)", role="record"),
    Field("algo_name", str, "", "algorithm name (default: the label)", role="record"),
    Field("version", int, 1, "request version", minimum=0, role="record"),
    Field("pre_proc", dict, {}, "stored on the job as sent", role="record"),
    Field("post_proc", dict, {}, "stored on the job as sent", role="record"),
    Field("meta_data", dict, {}, "stored on the job as sent", role="record"),
    # -- set by the API in the core's message ----------------------------------------
    Field("manifest", dict, {}, "the job's ids and `worker_result_node`: the core's return path", role="server"),
    _server("job_id", "the job's id"),
    _server("result_id", "the result's id"),
    _server("use_model_name", "the label, as the original core read it"),
    _server("worker_result_node", "the return path (also in `manifest`)"),
    # -- the original's, accepted and without effect -----------------------------------
    _legacy("image_file", "the original wrote a PNG of the training history on the server: plots are files the "
            "client saves (`antinex train -o`)"),
    _legacy("model_weights_file", _WEIGHTS),
    _legacy("model_weights_dir", _WEIGHTS),
    _legacy("weights_file", _WEIGHTS),
    _legacy("weights_json", _WEIGHTS),
    _legacy("model_json", "a Keras JSON model is never loaded from a request: describe the network in "
            "`model_desc`"),
    _legacy("use_existing_model", "the core finds the label's model itself (memory, then the model store)"),
    _legacy("show_model_json", "`model_json` is always in the results"),
    _legacy("created", "a publisher's timestamp: the records keep their own"),
    _legacy("scaler_cast_type", "scaling always works in float32"),
    _legacy("predict_type", "every request predicts its rows"),
    _legacy("should_predict", "every request predicts its rows"),
    _legacy("filter_features", "name the columns in `features_to_process` / `ignore_features`"),
    _legacy("headers", "the CSV's own header names its columns"),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
assert len(BY_NAME) == len(FIELDS), "a field is declared twice"


def _prepare_path(name: str, value: Any, ctx: Context) -> str:
    # resolved inside the caller's folder together with output_dir (api/ml/serializers.py)
    text = as_str(name, value)
    if "\x00" in text:
        raise RequestError(name, "contains a NUL byte")
    return text


def _meta_suffix(name: str, value: Any, ctx: Context) -> str:
    from antinex.utils.userdata import plain_file_name

    return plain_file_name(name, value)


# The POST /mlprepare/ body (the original's fields): merge recorded CSVs into training files.
PREPARE_FIELDS: tuple[Field, ...] = (
    Field("ds_glob_path", str, None, "glob of recorded CSVs: in your folder (relative) or the shared datasets",
          read=_prepare_path, required=True),
    Field("title", str, "no title", "shown on the record"),
    Field("desc", str, "no desc", "description"),
    Field("ds_dir", str, "", "the recordings' directory, as the original noted it", read=_prepare_path),
    Field("output_dir", str, "prepared", "a folder inside yours for the outputs", read=_prepare_path),
    Field("full_file", str, "<output_dir>/fulldata_attack_scans.csv", "the merged CSV with every column, in your "
          "folder", read=_prepare_path),
    Field("clean_file", str, "<output_dir>/cleaned_attack_scans.csv", "the training-ready CSV, in your folder",
          read=_prepare_path),
    Field("meta_suffix", str, "metadata.json", "a plain file name: the metadata files are "
          "`fulldata_<meta_suffix>` and `cleaned_<meta_suffix>` beside the CSVs", read=_meta_suffix),
    Field("pipeline_files", dict, {}, "`{\"attack_files\": []}`: replaced with the files found"),
    Field("post_proc", dict, {}, "`drop_columns`, `predict_feature` of the merged data"),
    Field("label_rules", dict, {}, "how rows are labelled (`attack_ips`, `set_if_above` with `labels` and "
          "`label_values`)", read=_label_rules),
    Field("meta_data", dict, {}, "stored on the record"),
    Field("version", int, 1, "request version", minimum=0),
    _legacy("ds_name", "the original ignored it too"),
)
PREPARE_BY_NAME: dict[str, Field] = {f.name: f for f in PREPARE_FIELDS}


def closest_field(name: str, known=None) -> str | None:
    """The declared field ``name`` most likely meant (a misspelling), or None."""
    names = list(BY_NAME if known is None else known)
    match = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6) or \
        difflib.get_close_matches(str(name).strip().lower(), names, n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_field(name: str, where: str = "", known=None) -> RequestError:
    """The refusal of a field nobody declared, naming it and the closest known one."""
    field = f"{where}.{name}" if where else str(name)
    near = closest_field(name, known)
    hint = f"did you mean {near!r}?" if near else "see docs/request-schema.md for the fields"
    return RequestError(field[:120], f"unknown field; {hint}")


def read_fields(fields: dict[str, Field], body: dict, ctx: Context) -> tuple[dict, dict, dict]:
    """(values, extra, ignored) of ``body`` read with ``fields``.

    ``values``: each stored field given a value, parsed (absent ones are not
    in it: their defaults apply). ``extra``: server and legacy fields as
    sent. ``ignored``: why each legacy field given a value has no effect.
    Unknown fields are refused first, naming the closest known one.
    """
    for key in body:
        if key not in fields:
            raise unknown_field(str(key), known=fields)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    for f in fields.values():
        value = body.get(f.name)
        if f.name not in body or (is_empty(value) and not f.read_empty):
            if f.required:
                raise RequestError(f.name, "missing")
            continue
        if not f.stored:
            extra[f.name] = value
            if f.role == "legacy" and not _without_effect(value):
                ignored[f.name] = f.meaning
        else:
            values[f.name] = f.parse(value, ctx)
    return values, extra, ignored


def _without_effect(value: Any) -> bool:
    """A legacy field left at "nothing" (the original's files wrote these): no need to say it is ignored."""
    return value in (None, "", "{}", "0", "false", {}, [], False)
