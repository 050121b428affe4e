"""The detectors the lab report compares, behind one small interface.

Every detector is trained on a fold's training rows with a seed and then
says attack (1) or not (0) for each test row at its own decision threshold,
the one it would use in production:

- :class:`NetworkDetector` trains through the product's own code
  (``antinex.utils.train``) from a request body: the shipped detector is
  one of these, so the report measures what users run.
- :class:`TfidfLogReg` and :class:`RandomForest` are the baselines the issue
  names (character 1–3-gram TF-IDF + logistic regression on the request text,
  a random forest on the feature matrix), from scikit-learn.
- :class:`FixedVerdicts` reads verdicts computed once for the whole dataset
  (the ModSecurity CRS at a paranoia level): nothing to train.
- :class:`SignatureDetector` runs the product's injection signatures
  (:mod:`antinex.pipeline.injection`) on the request text: nothing to train,
  but computed from the text, so mutated requests are judged afresh.
- :class:`Either` flags a row when either of two detectors does.
- :class:`Escalated` adds the product's source escalation
  (:mod:`antinex.pipeline.escalation`) to a detector's verdicts: a row whose
  session (one source's tool run or client session) just had several
  attack verdicts is an attack too.
"""
from __future__ import annotations

import copy
from typing import Protocol

import numpy as np
import pandas as pd

from antinex.pipeline.http_message import request_from_text

TEXT_COLUMN = "http_request"  # requests: the one-line text form of the bytes (pipeline/http_message.py)
PACKET_TEXT_COLUMN = "raw_load"  # packets: the payload as hex, as the flattener writes it
SOURCE_COLUMN, TIME_COLUMN = "session", "ts"  # the lab's source of a request (one tool run, one client), its time
RULE_TIME_COLUMN = "rule_ts"  # when the timing or window rule that flagged a request fired (antinex-lab build)


class Detector(Protocol):
    """What the report needs of a detector."""

    name: str

    def fit(self, train: pd.DataFrame, seed: int) -> "Detector":
        """Train on ``train`` (labels in ``label_value``)."""

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        """1 for attack, 0 for benign, per row of ``test``."""


def texts(df: pd.DataFrame) -> list[str]:
    """Each row's request (or packet payload) as text, one byte per character (latin-1)."""
    if TEXT_COLUMN in df.columns:
        return [request_from_text(t).decode("latin-1") if isinstance(t, str) else "" for t in df[TEXT_COLUMN]]
    if PACKET_TEXT_COLUMN in df.columns:
        out = []
        for h in df[PACKET_TEXT_COLUMN]:
            try:
                out.append(bytes.fromhex(h).decode("latin-1") if isinstance(h, str) else "")
            except ValueError:
                out.append("")
        return out
    raise ValueError(f"the dataset has no text column ({TEXT_COLUMN} or {PACKET_TEXT_COLUMN}): "
                     "the text baselines need the request bytes")


class NetworkDetector:
    """A Keras network trained by ``antinex.utils.train`` from a request body (the product's path)."""

    def __init__(self, name: str, body: dict, *, epochs: int | None = None):
        self.name, self.body, self.epochs = name, copy.deepcopy(body), epochs
        self.model = None

    def fit(self, train: pd.DataFrame, seed: int) -> "NetworkDetector":
        from antinex.utils.request import parse_request
        from antinex.utils.train import train as fit

        body = {k: v for k, v in self.body.items() if k not in ("dataset", "predict_rows", "csv_file", "meta_file")}
        body.update(label=f"lab-{self.name}", seed=seed)
        if self.epochs:
            body["epochs"] = self.epochs
        self.model = fit(parse_request(body), train, progress=False)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(test)).astype(int)


class TfidfLogReg:
    """Character 1–3-gram TF-IDF (sublinear term frequency) + logistic regression on the request text."""

    def __init__(self, name: str = "tfidf-lr", ngram_range: tuple[int, int] = (1, 3), max_features: int = 200_000):
        self.name, self.ngram_range, self.max_features = name, ngram_range, max_features
        self.pipe = None

    def fit(self, train: pd.DataFrame, seed: int) -> "TfidfLogReg":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipe = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, sublinear_tf=True, min_df=2,
                            max_features=self.max_features, lowercase=False, dtype=np.float32),
            LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
        self.pipe.fit(texts(train), train["label_value"].astype(int).to_numpy())
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        return self.pipe.predict(texts(test)).astype(int)


class RandomForest:
    """A random forest on the feature matrix a network gets: its numeric columns, or, for a network that
    reads the request content, the content matrix (``antinex.utils.content``, fitted on the training rows)."""

    def __init__(self, features: list[str], name: str = "random-forest", n_estimators: int = 200,
                 missing_value: float = -1.0, content: dict | None = None):
        self.name, self.features, self.n_estimators, self.missing = name, list(features), n_estimators, missing_value
        self.content = content
        self.forest = self.encoder = None

    def _x(self, df: pd.DataFrame, fit: bool = False):
        if self.content is not None:
            cells = df[self.content.get("column", TEXT_COLUMN)].tolist()
            return self.encoder.fit_transform(cells, df["label_value"].to_numpy()) if fit else \
                self.encoder.transform(cells)
        x = df.reindex(columns=self.features).apply(pd.to_numeric, errors="coerce")
        return x.fillna(self.missing).to_numpy(dtype=np.float32)

    def fit(self, train: pd.DataFrame, seed: int) -> "RandomForest":
        from sklearn.ensemble import RandomForestClassifier

        if self.content is not None:
            from antinex.utils.content import ContentSpec, RequestContent

            self.encoder = RequestContent(ContentSpec.from_json(self.content))
        self.forest = RandomForestClassifier(n_estimators=self.n_estimators, n_jobs=-1, random_state=seed)
        self.forest.fit(self._x(train, fit=True), train["label_value"].astype(int).to_numpy())
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        return self.forest.predict(self._x(test)).astype(int)


class FixedVerdicts:
    """Verdicts computed once for every row (a column of 0/1): no training, the same for every seed."""

    trains = False

    def __init__(self, name: str, column: str):
        self.name, self.column = name, column

    def fit(self, train: pd.DataFrame, seed: int) -> "FixedVerdicts":
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        return test[self.column].fillna(0).astype(int).to_numpy()


class SignatureDetector:
    """The product's injection signatures on each request's text (``http_request``), as the analyzer runs them."""

    trains = False

    def __init__(self, name: str = "signatures", kinds: tuple[str, ...] | None = None):
        from antinex.pipeline.injection import DEFAULT_KINDS, InjectionSignatures

        kinds = DEFAULT_KINDS if kinds is None else kinds

        self.name, self.signatures = name, InjectionSignatures(kinds)
        self._cache: dict[str, int] = {}

    def fit(self, train: pd.DataFrame, seed: int) -> "SignatureDetector":
        return self

    def _judge(self, text: str) -> int:
        from antinex.pipeline.http_message import parse_http_request

        if text not in self._cache:
            req = parse_http_request(request_from_text(text)) if text else None
            self._cache[text] = int(req is not None and self.signatures.match(req) is not None)
        return self._cache[text]

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        if TEXT_COLUMN not in test.columns:
            return np.zeros(len(test), dtype=int)
        return np.array([self._judge(str(t) if isinstance(t, str) else "") for t in test[TEXT_COLUMN]], dtype=int)


class Either:
    """Attack when either detector says so (e.g. the request model and the flow rules)."""

    def __init__(self, name: str, first: Detector, second: Detector):
        self.name, self.first, self.second = name, first, second

    def fit(self, train: pd.DataFrame, seed: int) -> "Either":
        self.first.fit(train, seed)
        self.second.fit(train, seed)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        return self.first.predict(test) | self.second.predict(test)


class Escalated:
    """A detector's verdicts with the source escalation the analyzer adds (``source-escalation``).

    Rows are grouped into sources by ``session`` and taken in ``ts`` order; a row judged benign whose
    session had ``after`` attack verdicts within ``window`` seconds before it is an attack. The base
    detector's flags count at their row's time; with ``rules``, the rules' verdicts count too, at the time
    they fired (``rule_ts``), as the analyzer counts them. Only meaningful
    on rows that are all of a session's requests in a span of time (``antinex-lab sample``'s contiguous
    blocks): on a random sample of a session the attack verdicts are thinned out and the escalation
    under-counts. Without ``session`` or ``ts`` columns the base detector's verdicts are returned unchanged.
    """

    def __init__(self, name: str, base: Detector, after: int = 3, window: float = 60.0, *,
                 rules: str | None = None):
        self.name, self.base, self.after, self.window = name, base, after, window
        self.rules = rules  # the rules' verdict column: its flagged rows count at RULE_TIME_COLUMN, when present

    def fit(self, train: pd.DataFrame, seed: int) -> "Escalated":
        self.base.fit(train, seed)
        return self

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        from antinex.pipeline.escalation import escalate_flags

        flags = self.base.predict(test)
        if SOURCE_COLUMN not in test.columns or TIME_COLUMN not in test.columns:
            return flags
        events = []
        if self.rules and self.rules in test.columns and RULE_TIME_COLUMN in test.columns:
            fired = test[(test[self.rules].fillna(0).astype(int) == 1) & test[RULE_TIME_COLUMN].notna()]
            events = list(zip(fired[SOURCE_COLUMN].astype(str), fired[RULE_TIME_COLUMN].astype(float)))
        return escalate_flags(flags, test[SOURCE_COLUMN].astype(str).to_numpy(),
                              test[TIME_COLUMN].astype(float).to_numpy(), self.after, self.window, events)
