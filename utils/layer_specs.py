"""The layers a request's ``model_desc.layers`` may name: their options, checks, sizes and Keras form.

Dense and Dropout are the original's layers (validated in ``utils/request.py``,
lenient about extra keys as the original was). The sequence layers
(``embedding``, ``conv1d``, ``maxpooling1d``, ``globalmaxpooling1d``,
``globalaveragepooling1d``, ``flatten``, ``lstm``, ``gru``, ``bidirectional``)
read the ``"bytes"`` encoding of a request's ``content`` (docs/request-features.md)
and are strict: an option that is not in :data:`SEQUENCE_LAYERS` is refused
with the field named, so a typo never silently trains another network.

:func:`plan` walks a whole layer list over its input shape: it refuses a
network Keras would build wrongly (a Dense layer on a sequence, a recurrent
layer after pooling to a vector, a kernel longer than what is left of the
sequence) and counts the weights exactly, for ``ANTINEX_MAX_PARAMETERS``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from antinex.utils.limits import Limits

# option -> kind; kind is "units" (1..ANTINEX_MAX_LAYER_UNITS), "length" (1..ANTINEX_MAX_SEQUENCE_LEN),
# "rate" [0, 1), "bool", "activation", "padding", "merge_mode" or "layer" (bidirectional's inner layer)
SEQUENCE_LAYERS: dict[str, dict[str, str]] = {
    "embedding": {"output_dim": "units"},
    "conv1d": {"filters": "units", "kernel_size": "length", "strides": "length", "dilation_rate": "length",
               "activation": "activation", "padding": "padding"},
    "maxpooling1d": {"pool_size": "length", "strides": "length", "padding": "padding"},
    "globalmaxpooling1d": {},
    "globalaveragepooling1d": {},
    "flatten": {},
    "lstm": {"units": "units", "return_sequences": "bool", "dropout": "rate", "activation": "activation"},
    "gru": {"units": "units", "return_sequences": "bool", "dropout": "rate", "activation": "activation"},
    "bidirectional": {"layer": "layer", "merge_mode": "merge_mode"},
}
REQUIRED = {"embedding": ("output_dim",), "conv1d": ("filters", "kernel_size"), "lstm": ("units",),
            "gru": ("units",), "bidirectional": ("layer",)}
RECURRENT = ("lstm", "gru")
PADDINGS = ("valid", "same")
MERGE_MODES = ("concat", "sum", "mul", "ave")
DENSE_TYPES = ("dense", "dropout")
LAYER_TYPES = DENSE_TYPES + tuple(SEQUENCE_LAYERS)


def _refused(field: str, reason: str):
    """A :class:`~utils.request.RequestError` naming the layer option (``model_desc.layers[2].kernel_size``)."""
    from antinex.utils.request import RequestError  # request.py imports this module: resolved at call time

    return RequestError(field, reason)


def kind_of(layer: dict) -> str:
    return str(layer.get("layer_type", "dense")).strip().lower()


def is_sequence_net(layers: list[dict] | None) -> bool:
    """True when a layer list holds any sequence layer (it then reads byte tokens)."""
    return any(isinstance(layer, dict) and kind_of(layer) in SEQUENCE_LAYERS for layer in layers or ())


def _int(where: str, value: Any, lo: int, hi: int | None, bound: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _refused(where, f"must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise _refused(where, f"must be an integer, got {value!r}") from None
    if number != int(number):
        raise _refused(where, f"must be an integer, got {value!r}")
    if number < lo:
        raise _refused(where, f"must be at least {lo}, got {value!r}")
    if hi is not None and number > hi:
        raise _refused(where, f"must be at most {hi:,}{bound}, got {value!r}")
    return int(number)


def validate_sequence_layer(where: str, layer: dict, limits: Limits | None, activations: tuple[str, ...]) -> dict:
    """The layer with its options checked and normalised (raises a ``RequestError`` naming the field)."""
    kind = kind_of(layer)
    if kind not in SEQUENCE_LAYERS:
        raise _refused(where, f"unknown layer_type {kind!r} (use one of {', '.join(LAYER_TYPES)})")
    options = SEQUENCE_LAYERS[kind]
    out: dict[str, Any] = {"layer_type": kind}
    for key, value in layer.items():
        if key == "layer_type":
            continue
        if key not in options:
            allowed = ", ".join(options) or "none"
            raise _refused(f"{where}.{key}", f"is not an option of a {kind} layer (its options: {allowed})")
        field, kind_opt = f"{where}.{key}", options[key]
        if kind_opt == "units":
            out[key] = _int(field, value, 1, limits.max_layer_units if limits else None,
                            " (the server's limit, ANTINEX_MAX_LAYER_UNITS)")
        elif kind_opt == "length":
            out[key] = _int(field, value, 1, limits.max_sequence_len if limits else None,
                            " (the server's limit, ANTINEX_MAX_SEQUENCE_LEN)")
        elif kind_opt == "rate":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise _refused(field, f"must be a number in [0, 1), got {value!r}")
            out[key] = float(value)
        elif kind_opt == "bool":
            if not isinstance(value, bool):
                raise _refused(field, f"must be true or false, got {value!r}")
            out[key] = value
        elif kind_opt == "activation":
            if value is None:
                continue
            if not isinstance(value, str) or value.strip().lower() not in activations:
                raise _refused(field, f"unknown value {str(value)[:60]!r} (use one of {', '.join(activations)})")
            out[key] = value.strip().lower()
        elif kind_opt in ("padding", "merge_mode"):
            allowed = PADDINGS if kind_opt == "padding" else MERGE_MODES
            if not isinstance(value, str) or value.strip().lower() not in allowed:
                raise _refused(field, f"unknown value {str(value)[:60]!r} (use one of {', '.join(allowed)})")
            out[key] = value.strip().lower()
        else:  # bidirectional's inner recurrent layer
            if not isinstance(value, dict) or kind_of(value) not in RECURRENT:
                raise _refused(field, "must be an lstm or gru layer object, e.g. "
                                        '{"layer_type": "lstm", "units": 32}')
            out[key] = validate_sequence_layer(field, value, limits, activations)
    for key in REQUIRED.get(kind, ()):
        if key not in out:
            raise _refused(f"{where}.{key}", f"is required for a {kind} layer")
    return out


@dataclass
class Shape:
    """What flows between layers: a vector of ``width`` or a sequence of ``steps`` x ``width``."""

    width: int
    steps: int | None = None  # None: a vector


def _conv_steps(where: str, steps: int, size: int, strides: int, dilation: int, padding: str) -> int:
    if padding == "same":
        return -(-steps // strides)
    span = dilation * (size - 1) + 1
    if span > steps:
        raise _refused(where, f"spans {span} steps but the sequence has only {steps} left here")
    return (steps - span) // strides + 1


def plan(layers: list[dict], input_shape: Shape, where: str = "model_desc.layers") -> tuple[int, Shape]:
    """(weights, output shape) of a validated layer list on ``input_shape``; refuses impossible stacks."""
    shape, total = input_shape, 0
    for i, layer in enumerate(layers):
        at, kind = f"{where}[{i}]", kind_of(layer)
        if kind == "embedding":
            if i != 0:
                raise _refused(at, "an embedding layer must be the first layer (it reads the byte tokens)")
            total += shape.width * int(layer["output_dim"])  # width here is the token vocabulary
            shape = Shape(int(layer["output_dim"]), shape.steps)
        elif kind == "dropout":
            pass
        elif kind == "dense":
            if shape.steps is not None:
                raise _refused(at, "a dense layer needs a vector: put flatten, globalmaxpooling1d, "
                                     "globalaveragepooling1d or a recurrent layer without return_sequences first")
            units = int(layer["num_neurons"])
            total += (shape.width + 1) * units
            shape = Shape(units)
        else:
            if i == 0 and kind != "embedding":
                raise _refused(at, "a sequence network starts with an embedding layer")
            if shape.steps is None:
                raise _refused(at, f"a {kind} layer needs a sequence, but the layers before it made a vector")
            total, shape = _sequence_step(at, kind, layer, shape, total)
    return total, shape


def _sequence_step(at: str, kind: str, layer: dict, shape: Shape, total: int) -> tuple[int, Shape]:
    if kind == "conv1d":
        filters, size = int(layer["filters"]), int(layer["kernel_size"])
        steps = _conv_steps(f"{at}.kernel_size", shape.steps, size, int(layer.get("strides", 1)),
                            int(layer.get("dilation_rate", 1)), layer.get("padding", "valid"))
        return total + (size * shape.width + 1) * filters, Shape(filters, steps)
    if kind == "maxpooling1d":
        size = int(layer.get("pool_size", 2))
        steps = _conv_steps(f"{at}.pool_size", shape.steps, size, int(layer.get("strides", size)), 1,
                            layer.get("padding", "valid"))
        return total, Shape(shape.width, steps)
    if kind in ("globalmaxpooling1d", "globalaveragepooling1d"):
        return total, Shape(shape.width)
    if kind == "flatten":
        return total, Shape(shape.width * shape.steps)
    if kind in RECURRENT:
        return total + recurrent_weights(kind, int(layer["units"]), shape.width), _recurrent_shape(layer, shape)
    # bidirectional: two copies of the inner layer, outputs merged
    inner = layer["layer"]
    units = int(inner["units"])
    weights = 2 * recurrent_weights(kind_of(inner), units, shape.width)
    width = 2 * units if layer.get("merge_mode", "concat") == "concat" else units
    out = _recurrent_shape(inner, shape)
    return total + weights, Shape(width, out.steps)


def _recurrent_shape(layer: dict, shape: Shape) -> Shape:
    units = int(layer["units"])
    return Shape(units, shape.steps) if layer.get("return_sequences") else Shape(units)


def recurrent_weights(kind: str, units: int, inputs: int) -> int:
    """Weights of a Keras 3 LSTM (4 gates) or GRU (3 gates, ``reset_after``: two bias vectors)."""
    if kind == "lstm":
        return 4 * (units * (inputs + units) + units)
    return 3 * (units * (inputs + units) + 2 * units)


def keras_layer(spec: dict):
    """The Keras layer of one validated sequence-layer spec."""
    import keras

    kind = kind_of(spec)
    opts = {k: v for k, v in spec.items() if k != "layer_type"}
    if kind == "embedding":
        from antinex.utils.content import BYTE_VOCABULARY

        return keras.layers.Embedding(BYTE_VOCABULARY, opts["output_dim"])
    if kind == "conv1d":
        return keras.layers.Conv1D(opts["filters"], opts["kernel_size"], strides=opts.get("strides", 1),
                                   dilation_rate=opts.get("dilation_rate", 1), padding=opts.get("padding", "valid"),
                                   activation=opts.get("activation") or "linear")
    if kind == "maxpooling1d":
        size = opts.get("pool_size", 2)
        return keras.layers.MaxPooling1D(size, strides=opts.get("strides", size), padding=opts.get("padding", "valid"))
    if kind == "globalmaxpooling1d":
        return keras.layers.GlobalMaxPooling1D()
    if kind == "globalaveragepooling1d":
        return keras.layers.GlobalAveragePooling1D()
    if kind == "flatten":
        return keras.layers.Flatten()
    if kind in RECURRENT:
        cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
        return cls(opts["units"], return_sequences=opts.get("return_sequences", False),
                   dropout=opts.get("dropout", 0.0), activation=opts.get("activation") or "tanh")
    if kind == "bidirectional":
        return keras.layers.Bidirectional(keras_layer(opts["layer"]), merge_mode=opts.get("merge_mode", "concat"))
    raise ValueError(f"not a sequence layer: {kind!r}")
