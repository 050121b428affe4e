"""Judging reassembled requests with a stored model: the one narrow interface.

A request detector is anything with a ``name`` and ``score(requests)``
returning one :class:`RequestScore` per :class:`HttpRequest` (a score in
[0, 1], attack or not, and a reason a defender can read). The analyzer,
``antinex-pcap predict`` and the subscriber only ever call that.

:class:`ModelRequestScorer` adapts any classification model of the model
store: it builds the model's input rows with :func:`request_frame`, which
offers every request-level column a model may read:

* the 21 payload features (:mod:`pipeline.payload_features`) computed on
  the *whole* request as it was reassembled (head and body, retransmitted
  bytes once), the columns the shipped quick-start detector reads;
* ``http_request``: the request's bytes as one line of text
  (:func:`~pipeline.http_message.request_to_text`), the column a
  request-content model reads;
* the request's timing and size (``req_*``).

A model that needs columns a request does not have (packet header fields)
is refused with their names, never fed missing values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import pandas as pd

from antinex.pipeline.http_message import HttpRequest, request_to_text
from antinex.pipeline.payload_features import PAYLOAD_FEATURES, payload_features

REQUEST_TEXT_COLUMN = "http_request"
REQUEST_COLUMNS: tuple[str, ...] = (
    "req_head_seconds", "req_body_seconds", "req_segments", "req_retransmitted", "req_body_len",
    "req_head_complete", "req_body_complete",
)
TOP_FEATURES = 3  # features named in a reason


@dataclass
class RequestScore:
    score: float  # the model's attack probability (1.0 for a novelty flag)
    attack: bool
    reason: str


class RequestScorer(Protocol):
    """What the analyzer needs from a request detector."""

    name: str

    def score(self, requests: Sequence[HttpRequest]) -> list[RequestScore]: ...


def request_row(req: HttpRequest) -> dict:
    """The request-level columns of one request (see the module docstring)."""
    row: dict = payload_features(req.raw)
    row[REQUEST_TEXT_COLUMN] = request_to_text(req.raw)
    head = req.ts_head - req.ts if req.ts_head is not None and req.ts is not None else -1.0
    body = req.ts_end - req.ts_head if req.ts_end is not None and req.ts_head is not None else -1.0
    row.update(req_head_seconds=head, req_body_seconds=body, req_segments=float(req.segments),
               req_retransmitted=float(req.retransmitted), req_body_len=float(len(req.body)),
               req_head_complete=float(req.head_complete), req_body_complete=float(req.body_complete))
    return row


def request_frame(requests: Sequence[HttpRequest]) -> pd.DataFrame:
    """One row per request, the columns of :func:`request_row`."""
    return pd.DataFrame.from_records([request_row(r) for r in requests],
                                     columns=list(PAYLOAD_FEATURES) + [REQUEST_TEXT_COLUMN, *REQUEST_COLUMNS])


class ModelError(ValueError):
    """A stored model that cannot judge requests: the message says why."""


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


class ModelRequestScorer:
    """Scores requests with a classification model of the store (``TrainedModel``)."""

    def __init__(self, trained):
        ref = trained.model_ref or {}
        self.trained = trained
        # the model's own decision (the request's ``threshold``, TrainedModel.decode); named in the reasons
        self.threshold = float(getattr(trained, "threshold", 0.5))
        self.name = f"{ref.get('name') or trained.request.get('label', 'model')} ({str(ref.get('checksum', ''))[:12]})"
        if trained.ml_type != "classification":
            raise ModelError(f"model {ref.get('name')!r} is a {trained.ml_type} model, not a request detector")
        offered = set(PAYLOAD_FEATURES) | {REQUEST_TEXT_COLUMN, *REQUEST_COLUMNS}
        missing = [f for f in trained.features if f not in offered]
        if missing:
            raise ModelError(
                f"model {ref.get('name')!r} reads columns a reassembled request does not have: "
                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''} (a per-packet model: "
                f"use antinex predict on packet rows, or a model trained on request features)")
        self.attack_value = float(trained.classes[-1]) if trained.classes else 1.0
        self._numeric = [f for f in trained.features if f in PAYLOAD_FEATURES or f in REQUEST_COLUMNS]

    def _plan(self):
        """The dense network's layers with the scaling folded in, or None (other layers, text inputs)."""
        if any(f not in self._numeric for f in self.trained.features):
            return None
        fused = getattr(self.trained, "_fused_layers", None)
        return fused() if fused is not None else None

    @staticmethod
    def _evidence(plan, x: np.ndarray) -> np.ndarray:
        """The attack logit of every row (a saturated probability of 1.00 hides which feature mattered;
        the logit does not)."""
        h = x
        for w, b, act in plan[:-1]:
            h = act(h @ w + b)
        w, b, _ = plan[-1]
        z = (h @ w + b).astype(np.float64)
        return z[:, 0] if z.shape[1] == 1 else z[:, -1] - np.delete(z, -1, axis=1).max(axis=1)

    def _occlusion(self, plan, x: np.ndarray) -> dict[str, np.ndarray]:
        """How much each numeric feature adds to the attack logit of each row: the logit minus the logit
        with that feature set to 0, all copies in one forward pass."""
        names = [(j, f) for j, f in enumerate(self.trained.features) if x[:, j].any()]
        if not names:
            return {}
        copies = [x]
        for j, _ in names:
            blank = x.copy()
            blank[:, j] = 0.0
            copies.append(blank)
        ev = self._evidence(plan, np.concatenate(copies)).reshape(len(copies), len(x))
        return {f: ev[0] - ev[k + 1] for k, (_, f) in enumerate(names)}

    def _occlusion_frame(self, sub: pd.DataFrame) -> dict[str, np.ndarray]:
        """The same with the model's own prediction (probability drop) for models without a dense plan."""
        def probability(frame):
            return np.asarray(self.trained.scores(self.trained.predict_raw(frame)), dtype=np.float64).reshape(-1)

        base = probability(sub)
        out = {}
        for f in self._numeric:
            if f in self.trained.features and sub[f].astype(float).any():
                blank = sub.copy()
                blank[f] = 0.0
                out[f] = base - probability(blank)
        return out

    def score(self, requests: Sequence[HttpRequest]) -> list[RequestScore]:
        if not requests:
            return []
        rows = [request_row(r) for r in requests]
        plan = self._plan()
        trained = self.trained
        if plan:  # numeric request columns and a dense network: numpy only (no DataFrame per batch)
            x = np.array([[row[f] for f in trained.features] for row in rows], dtype=np.float32)
            x[~np.isfinite(x)] = trained.missing_value
            out = trained._run_plan(plan, x)
            novel = trained.novelty.predict(x) if trained.novelty is not None else None
            frame = None
        else:
            frame = pd.DataFrame.from_records(rows, columns=list(PAYLOAD_FEATURES) + [REQUEST_TEXT_COLUMN,
                                                                                   *REQUEST_COLUMNS])
            out = trained.predict_raw(frame)
            novel = trained.novel(frame)
        scores = np.asarray(trained.scores(out), dtype=np.float64).reshape(-1)
        decided = trained.decode(out)
        attack = decided == self.attack_value
        if novel is not None:
            attack = attack | (np.asarray(novel) == 1)
        reasons = [""] * len(requests)
        flagged = np.flatnonzero(attack)
        if len(flagged):
            if frame is None:
                drops = self._occlusion(plan, x[flagged])
                values = {f: x[flagged, trained.features.index(f)] for f in drops}
            else:
                sub = frame.iloc[flagged].reset_index(drop=True)
                drops = self._occlusion_frame(sub)
                values = {f: sub[f].to_numpy(dtype=float) for f in drops}
            for k, i in enumerate(flagged):
                top = sorted(((d[k], f) for f, d in drops.items() if d[k] > 0.01), reverse=True)[:TOP_FEATURES]
                parts = [f"{f}={_num(float(values[f][k]))} (+{d:.2f})" for d, f in top]
                text = f"score {scores[i]:.2f} ≥ {self.threshold:.2f}"
                if novel is not None and novel[i] == 1 and decided[i] != self.attack_value:
                    text = f"unlike every normal training request (novelty detector); score {scores[i]:.2f}"
                what = "the attack logit" if frame is None else "the attack probability"
                reasons[i] = text + (f"; top features (what each adds to {what}): " + ", ".join(parts)
                                     if parts else "")
        for i in np.flatnonzero(~attack):
            reasons[i] = f"score {scores[i]:.2f} < {self.threshold:.2f}"
        return [RequestScore(float(s), bool(a), r) for s, a, r in zip(scores, attack, reasons)]
