"""Min-max scaling fitted on training rows only and stored with the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import MinMaxScaler


@dataclass
class Scaling:
    """``x * scale + offset``: a fitted MinMaxScaler reduced to numbers (JSON-safe)."""

    scale: np.ndarray
    offset: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> "Scaling":
        fitted = MinMaxScaler(feature_range=(lo, hi)).fit(x)
        return cls(fitted.scale_.astype(np.float64), fitted.min_.astype(np.float64))

    def transform(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """Scaled float32 features; ``inplace`` reuses ``x`` when it is already a float32 array."""
        out = x if inplace and isinstance(x, np.ndarray) and x.dtype == np.float32 else \
            np.array(x, dtype=np.float32)
        out *= self._f32[0]  # float32 throughout: no float64 temporaries on 30,000-row batches
        out += self._f32[1]
        return out

    @property
    def _f32(self) -> tuple[np.ndarray, np.ndarray]:
        cached = self.__dict__.get("_f32_cache")
        if cached is None:
            cached = (self.scale.astype(np.float32), self.offset.astype(np.float32))
            self.__dict__["_f32_cache"] = cached
        return cached

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return (x - self.offset) / self.scale

    def to_json(self) -> dict:
        return {"scale": self.scale.tolist(), "offset": self.offset.tolist()}

    @classmethod
    def from_json(cls, data: dict | None) -> "Scaling | None":
        if not data:
            return None
        return cls(np.asarray(data["scale"], dtype=np.float64), np.asarray(data["offset"], dtype=np.float64))
