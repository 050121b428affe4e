"""Core: cached-model prediction latency, load time from the store, memory of 100 models.

Ours: the core's predict path (``TrainedModel.predict``: the training scaler
plus a numpy forward pass). Baseline, same run, same model and rows:
Keras ``model.predict`` on the already-scaled rows.
"""
from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(quick: bool = False) -> list[dict]:
    from bench.datasets import django_like
    from antinex.utils.make_predictions import make_predictions
    from antinex.utils.model_store import ModelStore

    df = django_like(30_200)
    features = [c for c in df.columns if c != "label_value"]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/d.csv"
        df.to_csv(path, index=False)
        body = {"label": "bench-core", "dataset": path, "features_to_process": features, "epochs": 1,
                "model_desc": {"layers": [{"num_neurons": 200, "init": "uniform", "activation": "relu"},
                                          {"num_neurons": 1, "init": "uniform", "activation": "sigmoid"}]},
                "max_records": 10}
        store = ModelStore(f"{tmp}/store")
        res = make_predictions(body, store=store)
        model = res["model"]
        for n in (1, 100, 30_200):
            part = df.iloc[:n]
            x = model.transform(part)
            repeat = 50 if n < 30_200 else (5 if quick else 15)
            ours = _median_seconds(lambda: model.predict(part), repeat)
            base = _median_seconds(lambda: model.model.predict(x, verbose=0), repeat)
            rows.append({"name": f"cached predict {n} rows", "value": ours * 1000, "unit": "ms",
                         "baseline_name": "Keras model.predict (pre-scaled)", "baseline_value": base * 1000,
                         "ratio": base / ours, "notes": "median; ours includes scaling; ratio = speed-up"})
        load = _median_seconds(lambda: store.load("bench-core"), 5 if quick else 15)
        rows.append({"name": "load model from store", "value": load * 1000, "unit": "ms",
                     "baseline_name": "target", "baseline_value": 100.0, "ratio": 100.0 / (load * 1000),
                     "notes": ".keras + scalers, checksum verified, safe_mode"})
        n_models = 20 if quick else 100
        gc.collect()
        before = _rss_mib()
        cache = [store.load("bench-core") for _ in range(n_models)]
        gc.collect()
        after = _rss_mib()
        per = (after - before) / n_models
        rows.append({"name": f"memory of {n_models} cached models", "value": after - before, "unit": "MiB",
                     "baseline_name": "target 1 GiB for 100", "baseline_value": 1024.0 * n_models / 100,
                     "ratio": (1024.0 * n_models / 100) / max(after - before, 1e-6),
                     "notes": f"{per:.2f} MiB per 67x200x1 model (RSS delta)"})
        del cache
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
