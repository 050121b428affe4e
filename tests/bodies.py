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


# -- the original AntiNex bodies ----------------------------------------------------------
# The request files of the original repositories (the API's tests/ and tests/stocks/,
# tests/simulations/, antinex-core's training/, the core messages the API published),
# rebuilt field for field from their description (../shared/reference/original-api.md §4,
# original-core_utils_client.md A3, C4); only the data paths point at OriginalData's files.

SIMPLE_DJANGO_FEATURES = ("eth_type", "idx", "ip_ihl", "ip_len", "ip_tos", "ip_version", "tcp_dport",
                          "tcp_fields_options.MSS", "tcp_fields_options.Timestamp", "tcp_fields_options.WScale",
                          "tcp_seq", "tcp_sport")
STOCK_FEATURES = ("high", "low", "open", "volume")
THREE_LABEL_RULES = {"labels": ["not_attack", "not_attack", "attack"], "label_values": [-1, 0, 1]}
SIMULATED_LABEL_RULES = {"set_if_above": 85, "labels": ["not_attack", "attack"], "label_values": [0, 1]}
HISTORIES = ["val_loss", "val_acc", "loss", "acc"]


def original_layers(*units: int, init: str = "uniform", output: str | None = "sigmoid",
                    output_init: str = "uniform") -> dict:
    """The original's ``model_desc``: relu layers of ``units`` and one output unit."""
    hidden = [{"num_neurons": n, "init": init, "activation": "relu"} for n in units]
    return {"layers": hidden + [{"num_neurons": 1, "init": output_init, "activation": output}]}


class OriginalData:
    """Files shaped like the original's datasets, written into ``root`` (a shared datasets directory).

    ``v1_django_cleaned.csv``: the 67 columns of the full Django model plus
    ``label_value`` (1: an attack on port 8080); ``stock.csv``: SPY-like
    prices; ``cleaned_*_metadata.json``: the prepare step's metadata of the
    legacy ``csv_file``/``meta_file`` bodies; ``original-recordings/*/*.csv`` for
    the prepare bodies.
    """

    def __init__(self, root, rows: int = 160, seed: int = 1):
        import json

        import numpy as np
        import pandas as pd

        from antinex.pipeline.columns import FULL_DJANGO_FEATURES

        self.root = root
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, rows)
        django = {c: np.full(rows, -1.0) for c in FULL_DJANGO_FEATURES}
        django.update({
            "idx": np.arange(rows, dtype=float), "eth_type": np.full(rows, 2048.0), "ip_ihl": np.full(rows, 5.0),
            "ip_version": np.full(rows, 4.0), "ip_tos": np.zeros(rows),
            "ip_len": np.where(y == 1, rng.integers(300, 900, rows), rng.integers(40, 200, rows)).astype(float),
            "tcp_dport": np.where(y == 1, 8080, 80).astype(float),
            "tcp_sport": rng.integers(30000, 60000, rows).astype(float),
            "tcp_seq": rng.integers(0, 2**31, rows).astype(float),
            "tcp_fields_options.MSS": np.full(rows, 65495.0), "tcp_fields_options.WScale": np.full(rows, 7.0),
            "tcp_fields_options.Timestamp": rng.integers(1_600_000_000, 1_700_000_000, rows).astype(float),
        })
        self.django = pd.DataFrame(django)
        self.django["label_value"] = y
        self.django.to_csv(root / "v1_django_cleaned.csv", index=False)
        close = 250 + np.cumsum(rng.normal(0, 1, rows))
        self.stock = pd.DataFrame({"open": close + rng.normal(0, 0.5, rows), "high": close + 1.5,
                                   "low": close - 1.5, "close": close, "volume": rng.integers(1e6, 5e6, rows)})
        self.stock.to_csv(root / "stock.csv", index=False)
        self.stock.to_csv(root / "cleaned_spy.csv", index=False)
        for name, features, target in (("cleaned_v1_django_metadata.json", SIMPLE_DJANGO_FEATURES, "label_value"),
                                       ("cleaned_spy_metadata.json", STOCK_FEATURES, "close")):
            (root / name).write_text(json.dumps({"features_to_process": list(features),
                                                 "feature_to_predict": target, "ignore_features": []}))
        # recordings labelled as the lab records them (the original drew random labels: set_if_above)
        for kind, port, label in (("attack", 8080, 1), ("normal", 80, 0)):
            (root / "original-recordings" / kind).mkdir(parents=True, exist_ok=True)
            (root / "original-recordings" / kind / f"{kind}.csv").write_text(
                "idx,ip_len,tcp_dport,ip_src,src_file,label_value\n" +
                "".join(f"{i},{60 + i},{port},10.0.0.{i % 9},x,{label}\n" for i in range(12)))

    def rows(self, features, n: int = 2, with_index: bool = True) -> list[dict]:
        """The last ``n`` rows, as the original's convert_bottom_rows_to_json.py printed them."""
        out = []
        for i, row in self.django.tail(n).iterrows():
            rec = {c: float(row[c]) for c in features}
            rec["label_value"] = float(row["label_value"])
            if with_index:
                rec["_dataset_index"] = int(i)
            out.append(rec)
        return out


def original_ml_bodies(data: OriginalData, path=str) -> dict[str, dict]:
    """Every ``POST /ml/`` body of the original, by its file name; ``path(name)`` spells a data file's path.

    In the order a user would send them: the models that the predict
    bodies reuse are trained first.
    """
    from antinex.pipeline.columns import FULL_DJANGO_FEATURES

    keras = {"seed": 42, "test_size": 0.2, "batch_size": 32, "num_splits": 2, "loss": "binary_crossentropy",
             "optimizer": "adam", "metrics": ["accuracy"], "histories": HISTORIES}
    full = {"label": "Full-Django-AntiNex-Simple-Scaler-DNN", "dataset": path("v1_django_cleaned.csv"),
            "ml_type": "classification", "predict_feature": "label_value",
            "features_to_process": list(FULL_DJANGO_FEATURES), "ignore_features": [], "sort_values": [],
            **keras, "epochs": 15, "model_desc": original_layers(200), "label_rules": THREE_LABEL_RULES,
            "version": 1}
    simple = {**full, "label": "Django-AntiNex-Simple-Scaler-DNN", "dataset": path("v1_django_cleaned.csv"),
              "features_to_process": list(SIMPLE_DJANGO_FEATURES), "epochs": 10, "model_desc": original_layers(250)}
    simple_rows = {"label": simple["label"], "predict_rows": data.rows(SIMPLE_DJANGO_FEATURES), "apply_scaler": True,
                   **{k: v for k, v in simple.items() if k not in ("label", "dataset")}}
    legacy = {"csv_file": path("v1_django_cleaned.csv"), "meta_file": path("cleaned_v1_django_metadata.json"),
              "title": "AntiNex Django Defensive Neural Network",
              "desc": "build a deep neural network to defend django applications", "ml_type": "classification",
              **keras, "epochs": 5, "num_splits": 5, "model_desc": original_layers(250, 200, 150, 100, 50),
              "ds_name": "cleaned", "algo_name": "dnn", "predict_feature": "label_value", "training_data": "{}",
              "pre_proc": "{}", "post_proc": "{}",
              "meta_data": '{ "label_rules": { "set_if_above": 85, "labels": ["not_attack", "attack"], '
                           '"label_values": [0, 1]  } }',
              "label_rules": SIMULATED_LABEL_RULES, "version": 1}
    keras_dnn = {"csv_file": path("v1_django_cleaned.csv"), "meta_file": path("cleaned_v1_django_metadata.json"),
                 "title": "Keras DNN - network-pipeline==1.0.10", "desc": "Tensorflow backend with simulated data",
                 "ds_name": "cleaned", "algo_name": "dnn", "ml_type": "classification",
                 "predict_feature": "label_value", "training_data": "{}", "pre_proc": "{}", "post_proc": "{}",
                 "meta_data": "{}", "version": 1}
    return {
        "scaler-full-django-antinex-simple.json": full,
        "only-publish-scaler-full-django.json": {**full, "publish_to_core": True},
        "predict-rows-scaler-full-django.json": {
            **{k: v for k, v in full.items() if k != "dataset"}, "apply_scaler": True,
            "predict_rows": data.rows(FULL_DJANGO_FEATURES)},
        "scaler-django-antinex-simple.json": simple,
        "predict-rows-scaler-django-simple.json": simple_rows,
        "only-publish-predict-rows-simple.json": {**simple_rows, "publish_to_core": True, "apply_scaler": True},
        "scaler-regression.json": {
            "label": "Scaler-Close-Regression", "dataset": path("stock.csv"), "apply_scaler": True,
            "ml_type": "regression", "predict_feature": "close", "features_to_process": list(STOCK_FEATURES),
            "ignore_features": [], "sort_values": [], **keras, "seed": 7, "epochs": 50, "loss": "mse",
            "model_desc": original_layers(200, output=None), "version": 1},
        "readme-predict-demo-1.json": {
            "label": "Prediction-Model-Prototyping",
            "predict_rows": [{"_dataset_index": 1, "label_value": 1, "more_keys": 54.0},
                             {"_dataset_index": 2, "label_value": 1, "more_keys": 24.0},
                             {"_dataset_index": 2, "label_value": 0, "more_keys": 33.0}],
            "ml_type": "classification", "predict_feature": "label_value", "features_to_process": ["more_keys"],
            "ignore_features": [], "sort_values": [], **keras, "epochs": 15, "model_desc": original_layers(200),
            "label_rules": THREE_LABEL_RULES, "version": 1},
        "django-antinex.json": legacy,
        "django-deep-antinex.json": {**legacy, "model_desc": original_layers(50, 45, 40, 35, 30, 25, 20, 15, 10, 9,
                                                                             7, 5, 3)},
        "test-keras-dnn.json": keras_dnn,
        "simulations/user1/train1.json": {**keras_dnn, "title": "Keras DNN - User 1 Training Result"},
        "stocks/dnn-spy.json": {
            "csv_file": path("cleaned_spy.csv"), "meta_file": path("cleaned_spy_metadata.json"),
            "predict_feature": "close", "title": "Keras DNN - SPY", "desc": "Tensorflow backend with simulated data",
            "ml_type": "regression", **keras, "epochs": 2, "loss": "mse",
            "model_desc": {"layers": [{"num_neurons": 250, "init": "normal", "activation": "relu"},
                                      {"num_neurons": 20, "init": "normal", "activation": "relu"},
                                      {"num_neurons": 1, "init": "uniform", "activation": None}]},
            "metrics": ["mse", "mae", "mape", "cosine"], "ds_name": "SPY", "algo_name": "SPY DNN",
            "image_file": "/media/sf_shared/spy_dnn_plots.png", "training_data": "{}", "pre_proc": "{}",
            "post_proc": "{}", "meta_data": "{}", "version": 1},
    }


def original_core_message(body: dict) -> dict:
    """A body as the original API published it to the core (its tests/pubsub/publish-to-core.json): the
    request plus ``manifest`` (the job's predict_manifest), ``predict_rows`` as a ``DataFrame.to_json()``
    string, and the model fields it always sent empty."""
    import pandas as pd

    rows = body.get("predict_rows") or []
    manifest = {**body, "job_id": 34, "result_id": 34, "csv_file": None, "meta_file": None, "dataset": None,
                "model_weights_file": "/tmp/ml_weights_job_34_result_34.h5", "post_proc_rules": None,
                "training_data": {}, "use_model_name": body["label"], "verbose": 1,
                "worker_result_node": {"auth_url": "redis://localhost:6379/9", "delivery_mode": 2,
                                       "exchange": "drf_network_pipeline.pipeline.tasks.task_ml_process_results",
                                       "manifest": {"job_id": 34, "job_type": "train-and-predict", "result_id": 34},
                                       "source": "drf", "ssl_options": {}}}
    return {**{k: v for k, v in body.items() if k != "predict_rows"}, "manifest": manifest, "max_records": 100000,
            "model_json": None, "weights_json": None, "predict_rows": pd.DataFrame(rows).to_json(),
            "created": "2018-05-01 10:00:00", "show_model_json": "0"}


def original_prepare_bodies() -> dict[str, dict]:
    """Every ``POST /mlprepare/`` body of the original; outputs relative to the caller's folder (the
    original wrote to /tmp/, which a server now refuses), inputs in ``original-recordings/`` of the shared data."""
    drop = ["src_file", "raw_id", "raw_load", "raw_hex_load", "raw_hex_field_load", "pad_load", "eth_dst", "eth_src",
            "ip_dst", "ip_src"]
    return {
        "prepare-new-dataset.json": {
            "title": "Prepare new Dataset from recordings", "desc": "", "ds_name": "new_recording",
            "full_file": "prep/fulldata_attack_scans.csv", "clean_file": "prep/cleaned_attack_scans.csv",
            "meta_suffix": "metadata.json", "output_dir": "prep/", "ds_dir": "original-recordings",
            "ds_glob_path": "original-recordings/*/*.csv", "pipeline_files": {"attack_files": []},
            "meta_data": {"apply_scaler": True}, "post_proc": {"drop_columns": drop, "predict_feature": "label_name"},
            "label_rules": SIMULATED_LABEL_RULES, "version": 1},
        "stocks/spy.json": {
            "title": "Prepare SPY dataset", "desc": "", "ds_name": "SPY Analysis", "full_file": "spy/full_spy.csv",
            "clean_file": "spy/cleaned_spy.csv", "meta_suffix": "spy_metadata.json", "output_dir": "spy/",
            "ds_dir": "original-recordings", "ds_glob_path": "original-recordings/*/*.csv", "pipeline_files": "",
            "meta_data": "{}",
            "post_proc": '{ "drop_columns": [ "src_file", "ticker", "date", "exp_date" ] }', "version": 1},
        "simulations/user1/prepare1.json": {
            "title": "Prepare User 1 Dataset from recordings", "desc": "", "ds_name": "new_recording",
            "full_file": "sim/1_full_user1.csv", "clean_file": "sim/1_clean_user1.csv",
            "meta_suffix": "1_user1_metadata.json", "output_dir": "sim/", "ds_dir": "original-recordings",
            "ds_glob_path": "original-recordings/*/*.csv", "pipeline_files": '{"attack_files": []}',
            "meta_data": "{}",
            "post_proc": '{ "drop_columns": ["src_file", "raw_id", "raw_load", "raw_hex_load", '
                         '"raw_hex_field_load", "pad_load", "eth_dst", "eth_src", "ip_dst", "ip_src" ], '
                         '"predict_feature": "label_name" }',
            "label_rules": '{ "set_if_above": 85, "labels": ["not_attack", "attack"], "label_values": [0, 1] }',
            "version": 1},
    }
