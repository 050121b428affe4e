"""``model_desc``: the network a request describes, checked layer by layer before anything is queued.

Every layer type is one entry of :data:`LAYER_TYPES`: the keys its layer
object may carry and the function that checks them. Adding a layer type is
adding one entry (and teaching ``utils/model_builder.py`` to build it);
:func:`check_model_desc` is the one function that validates a whole
``model_desc`` and stays the same.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable

from antinex.utils.limits import Limits
from antinex.utils.request_values import RequestError, as_float, as_int, as_json_obj, one_of

# Names Keras 3 accepts, checked when a job is posted instead of failing in
# the worker (tests/utils/test_request.py builds each one with Keras).
ACTIVATIONS = ("relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "softplus", "softsign", "swish",
               "silu", "gelu", "exponential", "hard_sigmoid", "leaky_relu", "relu6", "mish", "log_softmax")
INITIALIZERS = ("uniform", "normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                "lecun_uniform", "lecun_normal", "random_uniform", "random_normal", "truncated_normal", "zeros",
                "ones", "orthogonal", "variance_scaling")
MODEL_DESC_KEYS = frozenset({"layers"})  # keys of model_desc itself
DEFAULT_UNITS = (8, 6, 1)  # the original's default network (utils/model_builder.py DEFAULT_LAYERS)


@dataclass(frozen=True)
class LayerType:
    """One kind of layer: the keys its object may carry, and the check of their values.

    ``check(where, layer, limits)`` normalises ``layer`` in place (names
    lower-cased, as Keras wants them) and raises ``RequestError`` naming
    ``where.<key>``.
    """

    keys: frozenset[str]
    check: Callable[[str, dict, Limits | None], None]
    output: bool = False  # may be the last layer (the network's output)


def _dense(where: str, layer: dict, limits: Limits | None) -> None:
    layer["num_neurons"] = as_int(f"{where}.num_neurons", layer.get("num_neurons"), minimum=1,
                                  maximum=limits.max_layer_units if limits else None,
                                  limit_name="ANTINEX_MAX_LAYER_UNITS")
    if layer.get("activation") not in (None, ""):
        layer["activation"] = one_of(f"{where}.activation", layer["activation"], ACTIVATIONS)
    if layer.get("init") not in (None, ""):
        layer["init"] = one_of(f"{where}.init", layer["init"], INITIALIZERS)


def _dropout(where: str, layer: dict, limits: Limits | None) -> None:
    rate = as_float(f"{where}.rate", layer.get("rate"))
    if not 0 <= rate < 1:
        raise RequestError(f"{where}.rate", f"must be in [0, 1), got {rate}")
    layer["rate"] = rate


def _sequence(where: str, layer: dict, limits: Limits | None) -> None:
    from antinex.utils.layer_specs import validate_sequence_layer

    layer.update(validate_sequence_layer(where, layer, limits, ACTIVATIONS))


def _sequence_types() -> dict[str, LayerType]:
    """The sequence layers of utils/layer_specs.py (their options, checks and sizes live there)."""
    from antinex.utils.layer_specs import SEQUENCE_LAYERS

    return {kind: LayerType(frozenset({"layer_type", *options}), _sequence) for kind, options in SEQUENCE_LAYERS.items()}


LAYER_TYPES: dict[str, LayerType] = {
    "dense": LayerType(frozenset({"layer_type", "num_neurons", "init", "activation"}), _dense, output=True),
    "dropout": LayerType(frozenset({"layer_type", "rate"}), _dropout),
    **_sequence_types(),
}


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else f" (known: {', '.join(sorted(known))})"


def check_model_desc(value: Any, limits: Limits | None) -> dict | None:
    """A normalised copy of ``model_desc`` (None: the default network), or a RequestError naming the layer and key."""
    if value in (None, "", {}):
        return None
    desc = as_json_obj("model_desc", value)
    for key in desc:
        if key not in MODEL_DESC_KEYS:
            raise RequestError(f"model_desc.{str(key)[:40]}", "unknown key" + _closest(str(key), MODEL_DESC_KEYS))
    layers = desc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise RequestError("model_desc.layers", "must be a non-empty list of layers")
    if limits and len(layers) > limits.max_layers:
        raise RequestError("model_desc.layers", f"has {len(layers):,} layers; the server's limit is "
                                                f"{limits.max_layers} (ANTINEX_MAX_LAYERS)")
    checked = []
    for i, layer in enumerate(layers):
        where = f"model_desc.layers[{i}]"
        if not isinstance(layer, dict):
            raise RequestError(where, "must be an object")
        layer = dict(layer)
        kind = str(layer.get("layer_type") or "dense").strip().lower()
        spec = LAYER_TYPES.get(kind)
        if spec is None:
            raise RequestError(where, f"unknown layer_type {kind!r} (use one of {', '.join(LAYER_TYPES)})")
        for key in layer:
            if key not in spec.keys:
                raise RequestError(f"{where}.{str(key)[:40]}", f"unknown key for a {kind} layer" +
                                   _closest(str(key), spec.keys))
        if "layer_type" in layer:
            layer["layer_type"] = kind
        spec.check(where, layer, limits)
        checked.append(layer)
    last = str(checked[-1].get("layer_type", "dense"))
    if not LAYER_TYPES[last].output:
        outputs = ", ".join(k for k, t in LAYER_TYPES.items() if t.output)
        raise RequestError("model_desc.layers", f"the last layer must be an output layer ({outputs}), not {last}")
    return {**desc, "layers": checked}


def count_parameters(num_features: int, model_desc: dict | None) -> int:
    """Weights of the dense network a request describes on ``num_features`` inputs (dropout layers have none)."""
    layers = (model_desc or {}).get("layers") or [{"num_neurons": n} for n in DEFAULT_UNITS]
    units = [int(layer["num_neurons"]) for layer in layers if str(layer.get("layer_type", "dense")).lower() == "dense"]
    total, inputs = 0, num_features
    for n in units:
        total += (inputs + 1) * n
        inputs = n
    return total
