"""The request fields that say what a network sees and how it learns, beyond the original's.

Each is one field of the request's declaration (``utils/request_fields.py``,
read by the functions here); ``MLRequest.network`` puts them together as a
:class:`NetworkOptions`, and :func:`check_network` checks them against the
request's other fields (``parse_request`` calls it):

``content``
    the request-content representation (``utils/content.py``): an object, or
    ``true`` for the defaults. ``{"column": "http_request", "encoding":
    "features", "ngrams": [1, 3], "hash_dims": 2048, "tokens": true,
    "headers": "values", "profile": "app", "aggregate": true, "conflicts":
    "keep"}`` (the defaults) for a Dense network, ``{"encoding": "bytes", "max_len": 512}``
    for a sequence network.
``scaler``
    ``minmax`` (the original's, the default), ``log-minmax``, ``standard`` or
    ``log-standard`` (``log``: ``sign(x) * log1p(|x|)`` first, for heavy-tailed
    counts; see docs/request-features.md for why it matters).
``class_weight``
    ``null`` (the default), ``"balanced"`` (each class weighs as much as the
    other in the loss) or ``{"<class value>": weight}``.
``threshold``
    the attack probability from which a two-class network says "attack"
    (0.5 by default).

Every error is a :class:`~utils.request.RequestError` naming the field.
docs/request-schema.md documents them beside the original fields.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from antinex.utils.content import BYTE_VOCABULARY, CONFLICT_MODES, ENCODINGS, HEADER_MODES, PROFILE_MODES, ContentSpec
from antinex.utils.layer_specs import Shape, is_sequence_net, plan
from antinex.utils.limits import Limits

SCALERS = ("minmax", "log-minmax", "standard", "log-standard")
KEYS = ("content", "scaler", "class_weight", "threshold")
_CONTENT_KEYS = ("column", "encoding", "ngrams", "hash_dims", "tokens", "headers", "profile", "aggregate", "max_len",
                 "folds", "conflicts")
MAX_NGRAM = 7  # byte n-grams are hashed from 64-bit keys of up to 7 bytes


@dataclass
class NetworkOptions:
    """What the network sees (``content``) and how it learns (``scaler``, ``class_weight``, ``threshold``)."""

    content: ContentSpec | None = None
    scaler: str = "minmax"
    class_weight: str | dict | None = None
    threshold: float = 0.5

    @property
    def sequence(self) -> bool:
        """True when the network reads byte tokens (a sequence network)."""
        return self.content is not None and self.content.encoding == "bytes"


def _error(field: str, reason: str):
    from antinex.utils.request_values import RequestError

    return RequestError(field, reason)


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _error(field, f"must be true or false, got {value!r}")
    return value


def _int(field: str, value: Any, lo: int, hi: int | None, env: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value):
        raise _error(field, f"must be an integer, got {value!r}")
    if value < lo:
        raise _error(field, f"must be at least {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise _error(field, f"must be at most {hi:,}" + (f" (the server's limit, {env})" if env else "")
                     + f", got {value!r}")
    return int(value)


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise _error(field, f"unknown value {str(value)[:60]!r} (use one of {', '.join(allowed)})")
    return value.strip().lower()


def parse_content(value: Any, limits: Limits | None) -> ContentSpec | None:
    """The ``content`` field: None/false (no content), true (defaults) or an object of the options above."""
    if value is None or value is False:
        return None
    if value is True:
        return ContentSpec()
    if not isinstance(value, dict):
        raise _error("content", f"must be an object such as {{\"column\": \"http_request\"}}, got {value!r}")
    unknown = [k for k in value if k not in _CONTENT_KEYS]
    if unknown:
        raise _error(f"content.{unknown[0]}", f"is not a content option (use {', '.join(_CONTENT_KEYS)})")
    spec = ContentSpec()
    if "column" in value:
        if not isinstance(value["column"], str) or not value["column"].strip():
            raise _error("content.column", "must be the name of the request-text column")
        spec.column = value["column"].strip()
    if "encoding" in value:
        spec.encoding = _choice("content.encoding", value["encoding"], ENCODINGS)
    if "ngrams" in value:
        ng = value["ngrams"]
        if not isinstance(ng, (list, tuple)) or len(ng) != 2:
            raise _error("content.ngrams", f"must be [shortest, longest], e.g. [1, 3], got {ng!r}")
        lo = _int("content.ngrams", ng[0], 1, MAX_NGRAM)
        hi = _int("content.ngrams", ng[1], lo, MAX_NGRAM)
        spec.ngrams = (lo, hi)
    if "hash_dims" in value:
        spec.hash_dims = _int("content.hash_dims", value["hash_dims"], 16,
                              limits.max_features if limits else None, "ANTINEX_MAX_FEATURES")
    for key in ("tokens", "aggregate"):
        if key in value:
            setattr(spec, key, _bool(f"content.{key}", value[key]))
    if "headers" in value:
        spec.headers = _choice("content.headers", value["headers"], HEADER_MODES)
    if "profile" in value:
        profile = value["profile"]
        if isinstance(profile, bool):
            profile = "all" if profile else "none"
        spec.profile = _choice("content.profile", profile, PROFILE_MODES)
    if "max_len" in value:
        spec.max_len = _int("content.max_len", value["max_len"], 8,
                            limits.max_sequence_len if limits else None, "ANTINEX_MAX_SEQUENCE_LEN")
    if "folds" in value:
        spec.folds = _int("content.folds", value["folds"], 2, 20)
    if "conflicts" in value:
        spec.conflicts = _choice("content.conflicts", value["conflicts"], CONFLICT_MODES)
    if spec.encoding == "features" and limits and spec.width > limits.max_features:
        raise _error("content.hash_dims", f"{spec.width:,} input columns with the profile and aggregate ones; "
                                          f"the server's limit is {limits.max_features:,} (ANTINEX_MAX_FEATURES)")
    return spec


def _class_weight(value: Any) -> str | dict | None:
    if value in (None, "", "none", False):
        return None
    if isinstance(value, str):
        return _choice("class_weight", value, ("balanced",))
    if not isinstance(value, dict) or not value:
        raise _error("class_weight", f"must be \"balanced\" or an object {{class value: weight}}, got {value!r}")
    out = {}
    for k, w in value.items():
        try:
            key = float(k)
        except (TypeError, ValueError):
            raise _error("class_weight", f"keys must be class values (numbers), got {k!r}") from None
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise _error(f"class_weight.{k}", f"must be a positive number, got {w!r}")
        out[str(int(key)) if key == int(key) else str(key)] = float(w)
    return out


def read_content(name: str, value: Any, ctx) -> dict | None:
    """The ``content`` field's reader (utils/request_fields.py): its options, normalised, as JSON."""
    spec = parse_content(value, getattr(ctx, "limits", None))
    return spec.to_json() if spec is not None else None


def read_class_weight(name: str, value: Any, ctx) -> str | dict | None:
    """The ``class_weight`` field's reader."""
    return _class_weight(value)


def read_threshold(name: str, value: Any, ctx) -> float:
    """The ``threshold`` field's reader: a probability strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise _error("threshold", f"must be a probability between 0 and 1, got {value!r}")
    return float(value)


def options_of(req) -> NetworkOptions:
    """A parsed request's network options (``MLRequest.network``)."""
    content = getattr(req, "content", None)
    return NetworkOptions(content=ContentSpec.from_json(content) if content else None,
                          scaler=getattr(req, "scaler", "minmax") or "minmax",
                          class_weight=getattr(req, "class_weight", None),
                          threshold=getattr(req, "threshold", 0.5))


def check_network(req, limits: Limits | None) -> None:
    """The network options against the request's other fields (``parse_request`` calls it)."""
    opts = options_of(req)
    if (opts.class_weight is not None or opts.threshold != 0.5) and req.ml_type != "classification":
        raise _error("class_weight" if opts.class_weight is not None else "threshold",
                     "applies to classification only")
    if opts.content is not None and opts.content.conflicts != "keep" and req.ml_type != "classification":
        raise _error("content.conflicts", "applies to classification only (it compares attack rows with normal "
                                          "ones)")
    _check_network(opts, req, limits)


def _check_network(opts: NetworkOptions, req, limits: Limits | None) -> None:
    """Sequence layers need byte tokens and vice versa; the whole network's size within the server's bound."""
    layers = (req.model_desc or {}).get("layers")
    sequence_layers = is_sequence_net(layers)
    if sequence_layers and not opts.sequence:
        raise _error("model_desc.layers", 'sequence layers read byte tokens: add "content": {"encoding": "bytes", '
                                          '"max_len": 512}')
    if opts.sequence:
        if not sequence_layers:
            raise _error("content.encoding", "bytes feeds a sequence network: model_desc.layers must start with an "
                                             "embedding layer")
        if req.features_to_process:
            raise _error("features_to_process", "a sequence network reads the request bytes only; leave "
                                                "features_to_process empty")
        if opts.scaler != "minmax":
            raise _error("scaler", "byte tokens are not scaled (a sequence network embeds them)")
    if not layers:
        return
    if opts.sequence:
        shape = Shape(BYTE_VOCABULARY, opts.content.max_len)
    elif opts.content is not None:
        shape = Shape(opts.content.width + len(req.features_to_process))
    else:
        return  # a Dense network on named columns: utils.request.check_model_size counts it
    weights, out = plan(layers, shape)
    if out.steps is not None:
        raise _error("model_desc.layers", "the network ends on a sequence: end with a dense output layer")
    if limits and weights > limits.max_parameters:
        raise _error("model_desc", f"the network has {weights:,} weights on its {shape.width:,}-wide input; the "
                                   f"server's limit is {limits.max_parameters:,} (ANTINEX_MAX_PARAMETERS)")
