"""The ML request: parsed once, from the one declaration of its fields (``utils/request_fields.py``).

The original AntiNex request bodies (``/ml/`` posts, core messages, the
client's ``generate_ai_request``) are accepted as they are: strings for
booleans, ``training_data`` as a JSON string, ``predict_rows`` as a list of
dicts or as a ``DataFrame.to_json()`` string. A field nobody declared (a
misspelling such as ``epoch``) is refused, naming the closest known field.

:func:`parse_request` is the one parser: the API's serializer calls it, the
core and the offline CLI call it. :meth:`MLRequest.to_body` is the one way
back to JSON: the API sends the core exactly what it validated.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path
from typing import Any, Optional

from antinex.pipeline.columns import LEAKING_COLUMNS
from antinex.utils.limits import Limits
from antinex.utils.network_options import check_network
from antinex.utils.model_desc import ACTIVATIONS, INITIALIZERS, LAYER_TYPES, count_parameters
from antinex.utils.request_fields import (BY_NAME, DEFAULT_HISTORIES, FIELDS, LOSSES, METRIC_NAMES, ML_TYPES,
                                          OPTIMIZERS, Context, confine_path, parse_label_rules, read_fields,
                                          unknown_field)
from antinex.utils.request_values import RequestError, as_json_obj

# the request's public names, wherever they are declared
__all__ = ["MLRequest", "RequestError", "parse_request", "require_data", "check_model_size", "model_key",
           "confine_path", "parse_label_rules", "count_parameters", "LEAKING_COLUMNS", "ML_TYPES", "LAYER_TYPES",
           "ACTIVATIONS", "INITIALIZERS", "LOSSES", "OPTIMIZERS", "METRIC_NAMES", "DEFAULT_HISTORIES"]

log = logging.getLogger(__name__)
_ANNOTATIONS = {bool: bool, int: int, float: float, str: str, list: list[str], dict: dict, Path: Optional[Path],
                "rows": Optional[list[dict]]}


class _RequestMethods:
    """What a parsed request can do besides holding its fields."""

    @property
    def network(self):
        """What the network reads and how it learns (``content``, ``scaler``, ``class_weight``, ``threshold``)
        as one :class:`~antinex.utils.network_options.NetworkOptions`."""
        from antinex.utils.network_options import options_of

        return options_of(self)

    @property
    def model_key(self) -> str:
        """The cache/store key of the model this request names."""
        return model_key(self.label)

    def effective_loss(self) -> str:
        if self.loss:
            return self.loss
        return "binary_crossentropy" if self.ml_type == "classification" else "mse"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the request (paths as strings, rows left out), as stored with its model.

        The return path (``manifest``, the server's fields in ``extra``) is
        left out: its broker URL may hold a password.
        """
        out = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("manifest", "extra")}
        for key in ("dataset", "csv_file", "meta_file"):
            out[key] = str(out[key]) if out[key] is not None else None
        out.pop("predict_rows")
        out["num_predict_rows"] = len(self.predict_rows) if self.predict_rows is not None else 0
        return out

    def to_body(self) -> dict[str, Any]:
        """The request as a JSON body that :func:`parse_request` reads back to the same request.

        Every training field is written out with its parsed value (paths
        resolved, ``training_data`` merged in, names normalised), so whoever
        reads the body trains with exactly what was validated. The record's
        JSON blobs (``pre_proc``, ...) and ``training_data`` stay on the record.
        """
        out: dict[str, Any] = {}
        for f in FIELDS:
            if not f.stored or (f.role == "record" and f.type is dict):
                continue
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else copy.deepcopy(value)
        return out


def _default(value: Any):
    if isinstance(value, (list, dict)):  # each request its own copy (the declared defaults hold names only)
        return dataclasses.field(default_factory=lambda: copy.copy(value))
    return dataclasses.field(default=value)


MLRequest = dataclasses.make_dataclass(
    "MLRequest",
    [(f.name, _ANNOTATIONS.get(f.type, Any) if f.default is not None else Optional[_ANNOTATIONS.get(f.type, Any)],
      _default(f.default)) for f in FIELDS if f.stored] +
    # the server's and the original's fields as sent, and why each legacy field given a value has no effect
    [("extra", dict, _default({})), ("ignored", dict, _default({}))],
    bases=(_RequestMethods,),
    namespace={"__module__": __name__,
               "__doc__": "A validated ML request: one attribute per stored field of utils/request_fields.py "
                          "(docs/request-schema.md)."},
)


def model_key(label: str) -> str:
    """The original's model key: the label stripped and lower-cased."""
    return str(label).strip().lower()


def parse_request(body: dict | MLRequest, *, datasets_dirs=None, limits: Limits | None = None) -> MLRequest:
    """Validate a request body and return an :class:`MLRequest`.

    ``datasets_dirs``: where ``dataset``/``csv_file``/``meta_file`` may be
    read: a :class:`utils.userdata.DataSpace` (the API: the caller's folder
    and the shared data), a list of directories (the core), or None
    (the offline CLI: anywhere).
    ``limits``: the server's bounds (utils/limits.py); None: unbounded.
    Raises :class:`RequestError` naming the first wrong field.
    """
    if isinstance(body, MLRequest):
        return body
    if not isinstance(body, dict):
        raise RequestError("body", f"must be a JSON object, got {type(body).__name__}")
    # training_data (a JSON string in the original) overrides top-level keys
    overrides = as_json_obj("training_data", body.get("training_data"))
    for key in overrides:
        if key not in BY_NAME:
            raise unknown_field(str(key), "training_data")
    merged = {**body, **{k: v for k, v in overrides.items() if k != "training_data"}, "training_data": overrides}
    values, extra, ignored = read_fields(BY_NAME, merged, Context(datasets_dirs=datasets_dirs, limits=limits))
    req = MLRequest(**values, extra=extra, ignored=ignored)
    _check_together(req)
    check_network(req, limits)  # sequence layers need byte tokens; the whole network within the bounds
    for name, why in ignored.items():  # said wherever the request is read: the API's answer, the CLI, the core
        log.warning("request %r: %s has no effect here: %s", req.label, name, why)
    return req


def _check_together(req: MLRequest) -> None:
    """Rules between fields (each field's own rules are in its declaration)."""
    if req.min_scaler_range >= req.max_scaler_range:
        raise RequestError("min_scaler_range", "must be below max_scaler_range")
    if req.cross_validate and req.predict_rows is not None and req.dataset is None and \
            req.num_splits > len(req.predict_rows):
        raise RequestError("num_splits", f"{req.num_splits} folds need at least as many rows; "
                                         f"predict_rows has {len(req.predict_rows)}")
    if req.novelty is not None and req.ml_type != "classification":
        raise RequestError("novelty", "needs ml_type classification (normal rows are the lowest class)")
    if req.predict_feature in req.ignore_features:
        raise RequestError("ignore_features", f"ignores the target {req.predict_feature!r}")


def check_model_size(req: MLRequest, num_features: int, limits: Limits) -> None:
    """The network on ``num_features`` inputs stays within ANTINEX_MAX_PARAMETERS.

    A network reading the request's content is sized on its own input width by :func:`check_network` at parse
    time; here only its extra numeric columns count against ANTINEX_MAX_FEATURES.
    """
    if req.content is not None:
        if len(req.features_to_process) > limits.max_features:
            raise RequestError("features_to_process", f"{len(req.features_to_process):,} feature columns; the "
                                                      f"server's limit is {limits.max_features:,} (ANTINEX_MAX_FEATURES)")
        return
    if num_features > limits.max_features:
        raise RequestError("features_to_process", f"{num_features:,} feature columns; the server's limit is "
                                                  f"{limits.max_features:,} (ANTINEX_MAX_FEATURES)")
    weights = count_parameters(num_features, req.model_desc)
    if weights > limits.max_parameters:
        raise RequestError("model_desc", f"the network has {weights:,} weights on {num_features:,} inputs; the "
                                         f"server's limit is {limits.max_parameters:,} (ANTINEX_MAX_PARAMETERS)")


def require_data(req: MLRequest) -> None:
    """A request that trains or predicts needs rows from somewhere."""
    if req.dataset is None and req.predict_rows is None and req.csv_file is None:
        raise RequestError("dataset", "send a dataset path or predict_rows")
