"""One request in, one result out: train or reuse a model, predict, report.

The processor owns the in-memory cache and the model store of a worker
process. It never raises for a bad request: the job gets an error result.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from core.model_cache import ModelCache
from utils.consts import ERR
from utils.make_predictions import make_predictions
from utils.model_store import ModelStore, ModelStoreError
from utils.request import RequestError, model_key, parse_request

log = logging.getLogger(__name__)


def result_node(body: dict) -> dict | None:
    """The return path of a request (``manifest.worker_result_node``), if any."""
    if not isinstance(body, dict):
        return None
    manifest = body.get("manifest") if isinstance(body.get("manifest"), dict) else {}
    node = manifest.get("worker_result_node") or body.get("worker_result_node")
    if isinstance(node, dict) and node.get("task_name") and node.get("auth_url"):
        return node
    return None


class Processor:
    """Train/predict requests against an LRU cache backed by a model store."""

    def __init__(self, store_dir: Path, max_models: int = 100, datasets_dirs: list[Path] | None = None):
        self.store = ModelStore(store_dir)
        self.cache = ModelCache(max_models)
        self.datasets_dirs = datasets_dirs
        self.trained_count = 0

    def _model_for_predict(self, label: str):
        """(model, source) for a predict request: memory, then the store, else (None, None)."""
        key = model_key(label)
        model = self.cache.get(key)
        if model is not None:
            return model, "memory"
        if self.store.exists(label):
            try:
                model = self.store.load(label)
            except ModelStoreError as exc:
                log.warning("stored model %s unusable, will retrain: %s", label, exc)
                return None, None
            self.cache.put(key, model)
            return model, "store"
        return None, None

    def handle(self, body, kind: str) -> dict:
        """Process one request body; returns the JSON-safe ``data`` block to send back."""
        started = time.perf_counter()
        if not isinstance(body, dict):
            return {"status": ERR, "err": f"request must be a JSON object, got {type(body).__name__}"}
        try:
            req = parse_request(body, datasets_dirs=self.datasets_dirs)
        except RequestError as exc:
            return {"status": ERR, "err": str(exc)}
        if not str(body.get("label", "")).strip():
            return {"status": ERR, "err": "label: a model label is required"}
        model, source = (None, None)
        if kind == "predict":
            model, source = self._model_for_predict(req.label)
        if model is not None:
            res = make_predictions(req, trained=model)
        else:
            res = make_predictions(req, store=self.store)
            source = "trained"
            if res["status"] == 0:
                self.trained_count += 1
                self.cache.put(req.model_key, res["model"])
        data = res["data"]
        data["model_source"] = source
        data["core_seconds"] = round(time.perf_counter() - started, 3)
        return data
