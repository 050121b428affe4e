"""Training benchmark: the original's 30,200-row / 67-feature classification.

Ours: ``utils.make_predictions`` on the request the original used
(200 relu → 1 sigmoid, batch 32, 15 epochs, scaler on), end to end: load the
CSV, split, scale, fit, evaluate on the held-out rows, predict every row.
Baseline, same run, same rows: a plain Keras ``fit`` of the same network
(MinMax-scaled, the same 80/20 split, batch 32, 15 epochs) and its
held-out accuracy.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _request(dataset: Path, features: list[str], epochs: int) -> dict:
    return {
        "label": "Bench-Full-Django-Scaler-DNN",
        "dataset": str(dataset),
        "ml_type": "classification",
        "predict_feature": "label_value",
        "features_to_process": features,
        "apply_scaler": True,
        "seed": 42,
        "test_size": 0.2,
        "batch_size": 32,
        "epochs": epochs,
        "num_splits": 2,
        "loss": "binary_crossentropy",
        "optimizer": "adam",
        "metrics": ["accuracy"],
        "histories": ["val_loss", "val_acc", "loss", "acc"],
        "model_desc": {"layers": [
            {"num_neurons": 200, "init": "uniform", "activation": "relu"},
            {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"},
        ]},
        "label_rules": {"labels": ["not_attack", "attack"], "label_values": [0, 1]},
        "max_records": 100,
    }


def plain_keras(df, features: list[str], epochs: int) -> tuple[float, float]:
    """Seconds and held-out accuracy of a plain Keras fit of the same network."""
    import keras
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    keras.utils.set_random_seed(42)
    x = df[features].to_numpy(dtype="float32")
    y = df["label_value"].to_numpy(dtype="float32")
    started = time.perf_counter()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(x_tr)
    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
    model = keras.Sequential([
        keras.Input((len(features),)),
        keras.layers.Dense(200, kernel_initializer="random_uniform", activation="relu"),
        keras.layers.Dense(1, kernel_initializer="random_uniform", activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_tr, y_tr, batch_size=32, epochs=epochs, verbose=0)
    acc = float(model.evaluate(x_te, y_te, verbose=0)[1])
    return time.perf_counter() - started, acc


def run(quick: bool = False) -> list[dict]:
    from bench.datasets import django_like, write_csv
    from antinex.utils.make_predictions import make_predictions

    rows = 6_000 if quick else 30_200
    epochs = 3 if quick else 15
    df = django_like(rows)
    features = [c for c in df.columns if c != "label_value"]
    with tempfile.TemporaryDirectory() as tmp:
        csv = write_csv(df, Path(tmp) / "django_like.csv")
        base_s, base_acc = plain_keras(df, features, epochs)
        started = time.perf_counter()
        res = make_predictions(_request(csv, features, epochs))
        ours_s = time.perf_counter() - started
    if res["status"] != 0:
        raise RuntimeError(f"training failed: {res['err']}")
    ours_acc = res["data"]["metrics"]["accuracy"]
    note = f"{rows} rows x {len(features)} features, {epochs} epochs, batch 32"
    return [
        {"name": "train 30,200x67 (s)" if not quick else "train (quick) (s)",
         "value": ours_s, "unit": "s", "baseline_name": "plain Keras fit",
         "baseline_value": base_s, "ratio": base_s / ours_s,
         "notes": note + "; ours includes CSV load, evaluation and predicting every row; ratio = speed-up"},
        {"name": "train held-out accuracy", "value": ours_acc, "unit": "",
         "baseline_name": "plain Keras fit", "baseline_value": base_acc,
         "ratio": ours_acc / base_acc if base_acc else None, "notes": "same rows, same split size"},
    ]


if __name__ == "__main__":
    for r in run():
        print(r)
