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

    threshold = 0.5  # the model's own decision (``TrainedModel.decode``); named in the reasons

    def __init__(self, trained):
        ref = trained.model_ref or {}
        self.trained = trained
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

    def _occlusion(self, sub: pd.DataFrame) -> dict[str, np.ndarray]:
        """How much each numeric feature adds to the attack evidence of each row: the evidence minus the
        evidence with that feature set to 0. The evidence is the attack logit of a dense network (a
        saturated probability of 1.00 hides which feature mattered; the logit does not), else the
        attack probability."""
        names = [f for f in self._numeric if sub[f].astype(float).any()]
        if not names:
            return {}
        plan = self.trained._fused_layers() if hasattr(self.trained, "_fused_layers") else None
        if plan:  # one forward pass over the rows and all their occluded copies
            from antinex.utils.dataset import feature_matrix

            x = feature_matrix(sub, self.trained.features, self.trained.missing_value)
            copies = [x]
            for f in names:
                blank = x.copy()
                blank[:, self.trained.features.index(f)] = 0.0
                copies.append(blank)
            h = np.concatenate(copies)
            for w, b, act in plan[:-1]:
                h = act(h @ w + b)
            w, b, _ = plan[-1]
            z = (h @ w + b).astype(np.float64)
            ev = z[:, 0] if z.shape[1] == 1 else z[:, -1] - np.delete(z, -1, axis=1).max(axis=1)
            ev = ev.reshape(len(copies), len(sub))
            return {f: ev[0] - ev[k + 1] for k, f in enumerate(names)}
        base = self._probability(sub)
        out = {}
        for f in names:
            blank = sub.copy()
            blank[f] = 0.0
            out[f] = base - self._probability(blank)
        return out

    def _probability(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.trained.scores(self.trained.predict_raw(frame)), dtype=np.float64).reshape(-1)

    def score(self, requests: Sequence[HttpRequest]) -> list[RequestScore]:
        if not requests:
            return []
        frame = request_frame(requests)
        out = self.trained.predict_raw(frame)
        scores = np.asarray(self.trained.scores(out), dtype=np.float64).reshape(-1)
        decided = self.trained.decode(out)
        novel = self.trained.novel(frame)
        attack = decided == self.attack_value
        if novel is not None:
            attack = attack | (novel == 1)
        reasons = [""] * len(requests)
        flagged = np.flatnonzero(attack)
        if len(flagged):
            sub = frame.iloc[flagged].reset_index(drop=True)
            drops = self._occlusion(sub)
            values = {f: sub[f].to_numpy(dtype=float) for f in drops}
            for k, i in enumerate(flagged):
                top = sorted(((d[k], f) for f, d in drops.items() if d[k] > 0.01), reverse=True)[:TOP_FEATURES]
                parts = [f"{f}={_num(values[f][k])} (+{d:.2f})" for d, f in top]
                text = f"score {scores[i]:.2f} ≥ {self.threshold:.2f}"
                if novel is not None and novel[i] == 1 and decided[i] != self.attack_value:
                    text = f"unlike every normal training request (novelty detector); score {scores[i]:.2f}"
                reasons[i] = text + ("; top features (what each adds to the attack logit): " + ", ".join(parts)
                                     if parts else "")
        for i in np.flatnonzero(~attack):
            reasons[i] = f"score {scores[i]:.2f} < {self.threshold:.2f}"
        return [RequestScore(float(s), bool(a), r) for s, a, r in zip(scores, attack, reasons)]
