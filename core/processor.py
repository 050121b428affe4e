"""One request in, one result out: train or reuse a model, predict, report.

The processor owns the in-memory cache and the model store of a worker
process. It never raises for a bad request: the job gets an error result.
It raises :class:`NeedsTraining` for a predict request it may not train
(the predict worker forwards those), and lets ``JobStopped`` through.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from antinex.core.model_cache import ModelCache
from antinex.utils.consts import ERR, SUCCESS
from antinex.utils.jobcontrol import StopCheck
from antinex.utils.make_predictions import make_predictions
from antinex.utils.model_store import ModelStore, ModelStoreError
from antinex.utils.limits import LIMITS
from antinex.utils.request import RequestError, model_key, parse_request
from antinex.utils.userdata import DataSpace, owner_of_label

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


class NeedsTraining(Exception):
    """A predict request whose model is neither in memory nor in the store."""


class Processor:
    """Train/predict requests against an LRU cache backed by a model store."""

    def __init__(self, store_dir: Path, max_models: int = 100, datasets_dirs: list[Path] | None = None,
                 users_root: Path | None = None):
        self.store = ModelStore(store_dir)
        self.cache = ModelCache(max_models)
        self.datasets_dirs = datasets_dirs
        self.users_root = users_root
        self.trained_count = 0

    def _model_for_predict(self, label: str):
        """(model, source) for a predict request: memory, then the store, else (None, None).

        The cached model is used only while the store holds the same version
        (or none): another worker sharing the store may have retrained it.
        """
        key = model_key(label)
        cached = self.cache.get(key)
        stored = self.store.version(label)
        if cached is not None and stored in (None, (cached.model_ref or {}).get("checksum")):
            return cached, "memory"
        if stored is None:
            return None, None
        try:
            model = self.store.load(label)
        except ModelStoreError as exc:
            if cached is not None:  # e.g. a newer save under way, or a damaged file: the old model answers
                log.warning("stored model %s unreadable, serving the cached one: %s", label, exc)
                return cached, "memory"
            log.warning("stored model %s unusable, will retrain: %s", label, exc)
            return None, None
        self.cache.put(key, model)
        return model, "store"

    def data_space(self, label: str) -> DataSpace:
        """What a request may read: the shared data, and its owner's folder (the API labels models
        ``user_<id>.<label>``); never another user's. No directories configured: anywhere."""
        return DataSpace.build(self.datasets_dirs, self.users_root, owner_of_label(label))

    def handle(self, body, kind: str, *, stop: StopCheck | None = None, train_missing: bool = True) -> dict:
        """Process one request body; returns the JSON-safe ``data`` block to send back.

        ``kind`` "predict" reuses the label's model; when it exists nowhere the
        request trains it, or, with ``train_missing`` False, raises
        :class:`NeedsTraining`. ``stop`` is asked between training batches.
        """
        started = time.perf_counter()
        if not isinstance(body, dict):
            return {"status": ERR, "err": f"request must be a JSON object, got {type(body).__name__}"}
        try:
            req = parse_request(body, datasets_dirs=self.data_space(body.get("label", "")), limits=LIMITS)
        except RequestError as exc:
            return {"status": ERR, "err": str(exc)}
        if not str(body.get("label", "")).strip():
            return {"status": ERR, "err": "label: a model label is required"}
        model, source = (None, None)
        if kind == "predict":
            model, source = self._model_for_predict(req.label)
            if model is None and not train_missing:
                raise NeedsTraining(req.label)
        if model is not None:
            res = make_predictions(req, trained=model, stop=stop)
        else:
            res = make_predictions(req, store=self.store, stop=stop)
            source = "trained"
            if res["status"] == SUCCESS:
                self.trained_count += 1
                self.cache.put(req.model_key, res["model"])
        data = res["data"]
        data["model_source"] = source
        data["core_seconds"] = round(time.perf_counter() - started, 3)
        return data


_processor: Processor | None = None


def processor() -> Processor:
    """This worker process's processor (its cache and store), made on first use from core.settings.

    It lives here, not in core.tasks, so the remote control commands
    (core/control.py) reach it without importing the tasks module that
    imports them.
    """
    global _processor
    if _processor is None:
        from antinex.core import settings

        _processor = Processor(settings.MODEL_STORE, settings.MAX_MODELS, settings.DATASETS_DIRS,
                               users_root=settings.USER_DATA_DIR)
    return _processor
