"""Up to MAX_MODELS trained models in memory, least recently used evicted first."""
from __future__ import annotations

import threading
from collections import OrderedDict

from antinex.utils.trained_model import TrainedModel


class ModelCache:
    """A thread-safe LRU map from model key to :class:`TrainedModel`."""

    def __init__(self, max_models: int = 100):
        if max_models < 1:
            raise ValueError("max_models must be at least 1")
        self.max_models = max_models
        self._models: OrderedDict[str, TrainedModel] = OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: str) -> TrainedModel | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
            return model

    def put(self, key: str, model: TrainedModel) -> list[str]:
        """Cache ``model``; returns the keys evicted to make room."""
        evicted = []
        with self._lock:
            self._models[key] = model
            self._models.move_to_end(key)
            while len(self._models) > self.max_models:
                old, _ = self._models.popitem(last=False)
                evicted.append(old)
                self.evictions += 1
        return evicted

    def discard(self, key: str) -> None:
        with self._lock:
            self._models.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, key: str) -> bool:
        return key in self._models
