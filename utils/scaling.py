"""Input scaling fitted on training rows only and stored with the model.

``kind`` (a request's ``scaler``, utils/network_options.py): ``minmax`` (the
original's MinMaxScaler to [lo, hi], the default), ``standard`` (zero mean,
unit variance) and their ``log-`` forms, which first compress every value
with ``sign(x) * log1p(|x|)``. Heavy-tailed columns (payload length, counts of
quotes or percent signs) need the log: min-max maps a column whose training
maximum is 4,000 but whose typical value is 3 to nearly one value, so the
network cannot tell 0 from 30 (docs/request-features.md measures it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import MinMaxScaler

KINDS = ("minmax", "log-minmax", "standard", "log-standard")


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)`` as float32 (0 stays 0, -1 missing values stay negative)."""
    x = np.asarray(x, dtype=np.float32)
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass
class Scaling:
    """``f(x) * scale + offset``: a fitted scaler reduced to numbers (JSON-safe); ``f`` is the log or nothing."""

    scale: np.ndarray
    offset: np.ndarray
    kind: str = "minmax"

    @property
    def log(self) -> bool:
        return self.kind.startswith("log-")

    @property
    def affine(self) -> bool:
        """True when the scaling is ``x * scale + offset`` alone (it can be folded into a Dense layer)."""
        return not self.log

    @classmethod
    def fit(cls, x: np.ndarray, lo: float = -1.0, hi: float = 1.0, kind: str = "minmax") -> "Scaling":
        if kind not in KINDS:
            raise ValueError(f"unknown scaler {kind!r} (use one of {', '.join(KINDS)})")
        if kind.startswith("log-"):
            x = signed_log(x)
        if kind.endswith("minmax"):
            fitted = MinMaxScaler(feature_range=(lo, hi)).fit(x)
            return cls(fitted.scale_.astype(np.float64), fitted.min_.astype(np.float64), kind)
        x64 = np.asarray(x, dtype=np.float64)
        mean, std = x64.mean(axis=0), x64.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return cls(1.0 / std, -mean / std, kind)

    def transform(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """Scaled float32 features; ``inplace`` reuses ``x`` when it is already a float32 array."""
        out = x if inplace and isinstance(x, np.ndarray) and x.dtype == np.float32 else \
            np.array(x, dtype=np.float32)
        if self.log:
            np.multiply(np.sign(out), np.log1p(np.abs(out)), out=out)
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
        if self.log:
            raise ValueError("a log scaling is for inputs only (targets are scaled min-max)")
        return (x - self.offset) / self.scale

    def to_json(self) -> dict:
        out = {"scale": self.scale.tolist(), "offset": self.offset.tolist()}
        if self.kind != "minmax":  # stores of minmax models stay byte for byte what they were
            out["kind"] = self.kind
        return out

    @classmethod
    def from_json(cls, data: dict | None) -> "Scaling | None":
        if not data:
            return None
        return cls(np.asarray(data["scale"], dtype=np.float64), np.asarray(data["offset"], dtype=np.float64),
                   str(data.get("kind", "minmax")))
