"""The request fields content, scaler, class_weight, threshold and the sequence layers: validated when posted."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from antinex.utils.content import ContentSpec
from antinex.utils.layer_specs import Shape, plan, recurrent_weights
from antinex.utils.limits import Limits
from antinex.utils.request import RequestError, parse_request
from antinex.utils.scaling import Scaling

LIMITS = Limits()
CNN = {"layers": [
    {"layer_type": "embedding", "output_dim": 16},
    {"layer_type": "conv1d", "filters": 32, "kernel_size": 5, "activation": "relu"},
    {"layer_type": "maxpooling1d", "pool_size": 2},
    {"layer_type": "globalmaxpooling1d"},
    {"num_neurons": 1, "activation": "sigmoid"}]}
BYTES = {"encoding": "bytes", "max_len": 256}


def refused(body: dict, limits: Limits | None = LIMITS) -> RequestError:
    with pytest.raises(RequestError) as err:
        parse_request(body, limits=limits)
    return err.value


def with_layer(i: int, **changes) -> dict:
    desc = copy.deepcopy(CNN)
    desc["layers"][i].update(changes)
    return desc


def test_defaults_leave_an_original_request_unchanged():
    req = parse_request({"label": "x", "model_desc": {"layers": [{"num_neurons": 1, "activation": "sigmoid"}]}})
    assert req.network.content is None and req.network.scaler == "minmax"
    assert req.network.class_weight is None and req.network.threshold == 0.5
    assert "content" not in req.extra and "scaler" not in req.extra


def test_content_declaration():
    req = parse_request({"content": {"column": "req", "ngrams": [2, 4], "hash_dims": 1024, "profile": False,
                                     "headers": "shape", "aggregate": False}, "scaler": "log-minmax",
                         "class_weight": {"0": 1, "1": 3}, "threshold": 0.8}, limits=LIMITS)
    spec = req.network.content
    assert (spec.column, spec.ngrams, spec.hash_dims, spec.profile, spec.headers) == ("req", (2, 4), 1024, "none",
                                                                                     "shape")
    assert req.network.class_weight == {"0": 1.0, "1": 3.0} and req.network.threshold == 0.8
    assert parse_request({"content": True}).network.content == ContentSpec()
    assert parse_request({"content": True}).network.content.conflicts == "keep"
    assert parse_request({"content": {"conflicts": "DROP"}}).network.content.conflicts == "drop"
    assert req.to_dict()["content"]["hash_dims"] == 1024  # stored with the model's request
    assert parse_request(req.to_body()).network == req.network  # the core reads back what the API validated


@pytest.mark.parametrize("body,field", [
    ({"content": "yes"}, "content"),
    ({"content": {"colum": "x"}}, "content.colum"),
    ({"content": {"column": ""}}, "content.column"),
    ({"content": {"encoding": "words"}}, "content.encoding"),
    ({"content": {"ngrams": [3, 1]}}, "content.ngrams"),
    ({"content": {"ngrams": [1, 9]}}, "content.ngrams"),
    ({"content": {"hash_dims": 8}}, "content.hash_dims"),
    ({"content": {"hash_dims": 10**6}}, "content.hash_dims"),
    ({"content": {"hash_dims": 4990}}, "content.hash_dims"),  # + the dense columns: beyond ANTINEX_MAX_FEATURES
    ({"content": {"headers": "all"}}, "content.headers"),
    ({"content": {"profile": "most"}}, "content.profile"),
    ({"content": {"tokens": "yes"}}, "content.tokens"),
    ({"content": {"conflicts": "ignore"}}, "content.conflicts"),
    ({"content": {"conflicts": "drop"}, "ml_type": "regression"}, "content.conflicts"),
    ({"content": {**BYTES, "max_len": 10**6}, "model_desc": CNN}, "content.max_len"),
    ({"scaler": "log"}, "scaler"),
    ({"class_weight": "even"}, "class_weight"),
    ({"class_weight": {"attack": 2}}, "class_weight"),
    ({"class_weight": {"1": 0}}, "class_weight.1"),
    ({"threshold": 1}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"threshold": 0.7, "ml_type": "regression"}, "threshold"),
])
def test_bad_options_name_their_field(body, field):
    assert refused(body).field == field


@pytest.mark.parametrize("desc,field", [
    (with_layer(1, kernel_size=0), "model_desc.layers[1].kernel_size"),
    (with_layer(1, kernel_size=10**5), "model_desc.layers[1].kernel_size"),
    (with_layer(1, kernel_size=300), "model_desc.layers[1].kernel_size"),  # longer than the 256 bytes
    (with_layer(1, kernal_size=3), "model_desc.layers[1].kernal_size"),
    (with_layer(1, filters=5000), "model_desc.layers[1].filters"),
    (with_layer(1, filters=True), "model_desc.layers[1].filters"),
    (with_layer(1, activation="relux"), "model_desc.layers[1].activation"),
    (with_layer(1, padding="full"), "model_desc.layers[1].padding"),
    (with_layer(0, output_dim=0), "model_desc.layers[0].output_dim"),
    (with_layer(0, input_dim=300), "model_desc.layers[0].input_dim"),
    (with_layer(2, pool_size=1000), "model_desc.layers[2].pool_size"),
    ({"layers": [CNN["layers"][0], {"layer_type": "lstm"}, CNN["layers"][-1]]}, "model_desc.layers[1].units"),
    ({"layers": [CNN["layers"][0], {"layer_type": "lstm", "units": 8, "dropout": 1.5}, CNN["layers"][-1]]},
     "model_desc.layers[1].dropout"),
    ({"layers": [CNN["layers"][0], {"layer_type": "bidirectional", "layer": {"layer_type": "conv1d"}},
                 CNN["layers"][-1]]}, "model_desc.layers[1].layer"),
    ({"layers": [CNN["layers"][0], {"layer_type": "bidirectional", "layer": {"layer_type": "gru", "units": -1}},
                 CNN["layers"][-1]]}, "model_desc.layers[1].layer.units"),
    ({"layers": [CNN["layers"][0], {"layer_type": "transformer"}, CNN["layers"][-1]]}, "model_desc.layers[1]"),
    ({"layers": [CNN["layers"][0], CNN["layers"][-1]]}, "model_desc.layers[1]"),  # Dense on a sequence
    ({"layers": [CNN["layers"][1], CNN["layers"][3], CNN["layers"][-1]]}, "model_desc.layers[0]"),  # no embedding
    ({"layers": [CNN["layers"][0], CNN["layers"][3], CNN["layers"][1], CNN["layers"][-1]]},
     "model_desc.layers[2]"),  # conv after pooling to a vector
    ({"layers": [*CNN["layers"][:2], CNN["layers"][0], *CNN["layers"][3:]]}, "model_desc.layers[2]"),
])
def test_bad_sequence_layers_name_their_field(desc, field):
    assert refused({"content": BYTES, "model_desc": desc}).field == field


def test_sequence_layers_need_byte_tokens_and_vice_versa():
    assert refused({"model_desc": CNN}).field == "model_desc.layers"
    assert refused({"content": BYTES}).field == "content.encoding"
    assert refused({"content": BYTES, "model_desc": CNN, "features_to_process": ["a"]}).field == "features_to_process"
    assert refused({"content": BYTES, "model_desc": CNN, "scaler": "log-minmax"}).field == "scaler"
    ok = parse_request({"content": BYTES, "model_desc": CNN}, limits=LIMITS)
    assert ok.network.sequence and ok.model_desc["layers"][1]["kernel_size"] == 5


def test_network_size_is_bounded():
    big = {"layers": [{"layer_type": "embedding", "output_dim": 64},
                      {"layer_type": "bidirectional", "layer": {"layer_type": "lstm", "units": 1024}},
                      {"num_neurons": 1, "activation": "sigmoid"}]}
    err = refused({"content": BYTES, "model_desc": big})
    assert err.field == "model_desc" and "ANTINEX_MAX_PARAMETERS" in err.reason
    wide = {"layers": [{"num_neurons": 4096, "activation": "relu"}, {"num_neurons": 1}]}
    assert refused({"content": {"hash_dims": 4096}, "model_desc": wide}).field == "model_desc"
    assert parse_request({"content": BYTES, "model_desc": big}).network.sequence  # unbounded offline


def test_parameter_count_matches_keras():
    import keras

    from antinex.utils.layer_specs import keras_layer

    layers = [{"layer_type": "embedding", "output_dim": 8},
              {"layer_type": "conv1d", "filters": 6, "kernel_size": 3, "strides": 2, "padding": "same"},
              {"layer_type": "maxpooling1d", "pool_size": 3},
              {"layer_type": "lstm", "units": 5, "return_sequences": True},
              {"layer_type": "bidirectional", "layer": {"layer_type": "gru", "units": 4}, "merge_mode": "concat"},
              {"layer_type": "dense", "num_neurons": 3}]
    weights, shape = plan(layers, Shape(257, 40))
    model = keras.Sequential([keras.Input((40,), dtype="int32")]
                             + [keras_layer(s) if s["layer_type"] != "dense" else keras.layers.Dense(3)
                                for s in layers])
    assert weights == model.count_params() and shape == Shape(3)
    flat = [{"layer_type": "embedding", "output_dim": 4}, {"layer_type": "flatten"}, {"layer_type": "dense",
                                                                                      "num_neurons": 2}]
    assert plan(flat, Shape(257, 10))[0] == 257 * 4 + (40 + 1) * 2
    assert recurrent_weights("lstm", 2, 3) == 4 * (2 * 5 + 2)


def test_log_scaling_compresses_heavy_tails_and_round_trips():
    x = np.array([[0.0, -1.0], [3.0, 0.0], [4000.0, 2.0]], dtype=np.float32)
    minmax = Scaling.fit(x)
    log = Scaling.fit(x, kind="log-minmax")
    # the typical values 0 and 3: 0.0015 apart after min-max, a third of the range after the log
    assert abs(minmax.transform(x)[1, 0] - minmax.transform(x)[0, 0]) < 0.002
    assert log.transform(x)[1, 0] - log.transform(x)[0, 0] > 0.3
    assert "kind" not in minmax.to_json()  # stores of minmax models stay what they were
    again = Scaling.from_json(log.to_json())
    np.testing.assert_array_equal(again.transform(x), log.transform(x))
    assert not again.affine and minmax.affine
    standard = Scaling.fit(x, kind="standard").transform(x)
    np.testing.assert_allclose(standard.mean(axis=0), 0, atol=1e-6)
