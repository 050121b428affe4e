"""The benign-traffic profile: how far normal clients ever go, and the limits derived from it.

Slow-rate denial of service and brute force look normal request by
request; what gives them away is timing and repetition. A detector trained
on attack examples only knows the tools it saw, so these verdicts come
from limits learned on *benign* traffic instead: for each measure, the
most extreme value normal clients showed (the slowest request head, the
most concurrent connections from one address, ...), times a margin, and
never below a floor that keeps an almost-idle profile from alerting on
the first odd client. An attack tool never seen in training is caught
when it goes past what benign clients do, which is what slow-rate attacks
are made of.

A profile is JSON (``Profile.to_json``): stored beside a model as its
``flow_profile`` artifact (``antinex-pcap profile BENIGN.pcap --model
NAME``), or the one shipped with AntiNex (``default_profile.json``, fitted
on the dataset lab's simulated users) when the model carries none.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

ARTIFACT = "flow_profile"  # the name under which a model store entry keeps its profile
SHIPPED = Path(__file__).with_name("default_profile.json")
FORMAT = 1


@dataclass(frozen=True)
class LimitSpec:
    """How one limit follows from what benign traffic showed."""

    name: str
    kind: str  # "max": alert above the limit; "min": alert below it
    floor: float  # "max": never below this; "min": never above this
    unit: str
    what: str


LIMITS: dict[str, LimitSpec] = {s.name: s for s in (
    LimitSpec("head_seconds", "max", 3.0, "s", "time from a request's first byte to the end of its headers"),
    LimitSpec("body_seconds", "max", 3.0, "s", "time from the end of a request's headers to the end of its body"),
    LimitSpec("client_window", "min", 2048.0, "bytes",
              "smallest receive window a client advertised after the handshake"),
    LimitSpec("client_zero_windows", "max", 2.0, "packets", "zero-window advertisements of a client in one flow"),
    LimitSpec("src_open_flows", "max", 32.0, "connections", "connections one source holds open at once"),
    LimitSpec("src_auth_failures", "max", 5.0, "answers",
              "401 answers (and 403 to a POST) to one source within the window"),
    LimitSpec("src_passwords_max", "max", 5.0, "passwords",
              "different passwords one source posted for one account to one path within the window"),
    # 50, not 20: the lab's simulated users asked for up to 24 missing paths a minute in one round and 6 in
    # another (pipeline/lab/flow_eval.py, cross-fitted); a scanner asks for hundreds
    LimitSpec("src_missing_paths", "max", 50.0, "paths", "distinct paths answered 404 to one source within the window"),
)}
SLOW_BODY_RATE = 1000.0  # bytes/s: an upload faster than this is slow network, not a slow-body attack


@dataclass
class Profile:
    """Limits for the timing and window rules, with what they were derived from."""

    name: str
    limits: dict[str, float]
    observed: dict[str, float | None] = field(default_factory=dict)
    margin: float = 3.0
    window: float = 60.0
    fitted_on: dict = field(default_factory=dict)
    origin: str = ""  # where this profile was loaded from (not stored)

    def limit(self, name: str) -> float:
        return self.limits[name]

    def explain(self, name: str) -> str:
        """``limit 3.0 s (benign max 0.02 s × 3, floor 3.0 s)``: how a limit came about."""
        spec = LIMITS[name]
        seen = self.observed.get(name)
        op = "×" if spec.kind == "max" else "÷"
        base = f"benign {'max' if spec.kind == 'max' else 'min'} {_num(seen)} {spec.unit} {op} {_num(self.margin)}" \
            if seen is not None else "no benign observation"
        return f"limit {_num(self.limits[name])} {spec.unit} ({base}, {'floor' if spec.kind == 'max' else 'ceiling'} " \
               f"{_num(spec.floor)} {spec.unit})"

    def to_json(self) -> dict:
        return {"format": FORMAT, "name": self.name, "limits": self.limits, "observed": self.observed,
                "margin": self.margin, "window": self.window, "fitted_on": self.fitted_on}

    @classmethod
    def from_json(cls, data: dict, origin: str = "") -> "Profile":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a flow profile of format {FORMAT}")
        limits = {k: float(v) for k, v in (data.get("limits") or {}).items() if k in LIMITS}
        missing = sorted(set(LIMITS) - set(limits))
        if missing:
            raise ValueError(f"flow profile without limits for {', '.join(missing)}")
        return cls(name=str(data.get("name") or "profile"), limits=limits, observed=data.get("observed") or {},
                   margin=float(data.get("margin", 3.0)), window=float(data.get("window", 60.0)),
                   fitted_on=data.get("fitted_on") or {}, origin=origin)

    @classmethod
    def from_observed(cls, name: str, observed: dict[str, float | None], *, margin: float = 3.0,
                      window: float = 60.0, fitted_on: dict | None = None) -> "Profile":
        """Limits from benign extremes: ``max(floor, seen × margin)`` or ``min(ceiling, seen ÷ margin)``."""
        if margin < 1:
            raise ValueError(f"margin must be at least 1, got {margin}")
        limits = {}
        for key, spec in LIMITS.items():
            seen = observed.get(key)
            if spec.kind == "max":
                limits[key] = spec.floor if seen is None else max(spec.floor, seen * margin)
            else:
                limits[key] = spec.floor if seen is None else min(spec.floor, seen / margin)
        return cls(name=name, limits=limits, observed=dict(observed), margin=margin, window=window,
                   fitted_on=fitted_on or {})


def _num(v) -> str:
    if v is None:
        return "–"
    v = float(v)
    if v.is_integer():
        return str(int(v))
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


class Observer:
    """Collects the benign extremes an :class:`~pipeline.analyzer.Analyzer` sees (``Analyzer(observer=...)``)."""

    def __init__(self) -> None:
        self.observed: dict[str, float | None] = dict.fromkeys(LIMITS)
        self.flows = 0
        self.requests = 0

    def _max(self, key: str, value: float) -> None:
        cur = self.observed[key]
        self.observed[key] = value if cur is None or value > cur else cur

    def _min(self, key: str, value: float) -> None:
        cur = self.observed[key]
        self.observed[key] = value if cur is None or value < cur else cur

    def request(self, req) -> None:
        self.requests += 1
        if req.head_complete and req.ts_head is not None and req.ts is not None:
            self._max("head_seconds", req.ts_head - req.ts)
        if req.complete and req.ts_end is not None and req.ts_head is not None:
            self._max("body_seconds", req.ts_end - req.ts_head)

    def flow_end(self, flow) -> None:
        self.flows += 1
        if flow.up.min_window is not None and flow.down.payload:
            self._min("client_window", float(flow.up.min_window))
        self._max("client_zero_windows", float(flow.up.zero_windows))

    def source(self, features: dict) -> None:
        for key in ("src_open_flows", "src_auth_failures", "src_passwords_max", "src_missing_paths"):
            self._max(key, float(features[key]))


def load_profile(path: str | Path) -> Profile:
    """A profile from a JSON file (ValueError with the reason when it is not one)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the flow profile {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the flow profile {path} is not JSON: {exc}") from None
    return Profile.from_json(data, origin=str(path))


def shipped_profile() -> Profile:
    """The profile AntiNex ships (fitted on the dataset lab's benign users)."""
    prof = load_profile(SHIPPED)
    prof.origin = "shipped with AntiNex"
    return prof


def profile_for(trained) -> Profile:
    """The profile stored beside a model, or the shipped one when it has none."""
    data = (getattr(trained, "artifacts", None) or {}).get(ARTIFACT)
    if data is None:
        return shipped_profile()
    ref = getattr(trained, "model_ref", None) or {}
    return Profile.from_json(data, origin=f"model {ref.get('name')} ({str(ref.get('checksum', ''))[:12]})")


def score_past(value: float, limit: float, kind: str = "max") -> float:
    """A rule's score: 0.5 at the limit, towards 1 the further past it (how sure, not a probability)."""
    if kind == "min":
        value, limit = (limit, value) if value > 0 else (limit, limit / 1e6)
    if limit <= 0:
        return 1.0
    ratio = max(value / limit, 1.0)
    return round(1.0 - 0.5 / ratio, 4) if math.isfinite(ratio) else 1.0
