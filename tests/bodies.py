"""Request bodies for every test area, written once.

``ml_body`` is a short ``POST /ml/`` body (two-layer network, binary
labels); ``original_body`` adds every field the original AntiNex request
files carry, for the compatibility tests.
"""
from __future__ import annotations

LABEL_RULES = {"labels": ["not_attack", "attack"], "label_values": [0, 1]}


def layers(*units: int, init: str | None = None) -> list[dict]:
    """Dense relu layers of ``units`` and one sigmoid output unit."""
    hidden = [{"num_neurons": n, "activation": "relu"} for n in units]
    out = hidden + [{"num_neurons": 1, "activation": "sigmoid"}]
    return [{**layer, "init": init} for layer in out] if init else out


def ml_body(label: str, dataset=None, *, features=("f1", "f2"), hidden: int = 8, **over) -> dict:
    """A training (or, with ``predict_rows``, prediction) request on ``features`` of ``dataset``."""
    body = {"label": label, "predict_feature": "label_value", "features_to_process": list(features),
            "epochs": 2, "seed": 3, "batch_size": 16, "model_desc": {"layers": layers(hidden)},
            "label_rules": LABEL_RULES}
    if dataset is not None:
        body["dataset"] = str(dataset)
    body.update(over)
    return body


def original_body(dataset, label: str = "Api-Test-DNN", **over) -> dict:
    """An ``ml_body`` with every field of the original request files (tests/ of the original repositories)."""
    return ml_body(label, dataset, features=("tcp_dport", "ip_len", "payload_n_quote"), **{
        "ml_type": "classification", "ignore_features": [], "sort_values": [], "seed": 42, "test_size": 0.25,
        "batch_size": 32, "epochs": 3, "num_splits": 2, "loss": "binary_crossentropy", "optimizer": "adam",
        "metrics": ["accuracy"], "histories": ["val_loss", "val_acc", "loss", "acc"], "version": 1,
        "model_desc": {"layers": layers(8, init="uniform")}, **over})
