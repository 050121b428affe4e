"""Verdicts and alerts on live traffic: the analyzer inside the subscriber.

:class:`LiveVerdicts` takes the packets the subscriber consumes (each
with its capture time, the message's ``ts``) into an
:class:`~pipeline.analyzer.Analyzer`, the same one ``antinex-pcap predict``
runs. Rule verdicts (slow-rate DoS, brute force, scans, floods) are
written as alerts at once; complete requests go to a scoring thread that
judges them with the request model, so a model call never holds up the
packets (and the model's loading, a few seconds of Keras import, happens
there while packets flow). When packets stop coming, :meth:`idle` moves
the analyzer's clock on with the wall clock, so a connection that has
gone quiet mid-request is still flagged while it holds the server.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from antinex.pipeline.analyzer import Analyzer
from antinex.pipeline.eve import AlertWriter
from antinex.pipeline.profile import ARTIFACT, Profile, load_profile, shipped_profile

log = logging.getLogger("antinex.verdicts")


def stored_profile(store_dir: str | Path, model: str) -> Profile | None:
    """The flow profile stored beside ``model``, read without loading the network (None when absent)."""
    from antinex.utils.model_store import ModelStore, ModelStoreError, artifact_file

    root = Path(store_dir)
    if not root.is_dir():
        return None
    try:
        path = artifact_file(ModelStore(root).path(model), ARTIFACT)
    except ModelStoreError:
        return None
    if not path.is_file():
        return None
    prof = load_profile(path)
    prof.origin = f"stored beside model {model}"
    return prof


def model_loader(store_dir: str | Path, model: str) -> Callable[[], object | None]:
    """A function that loads the request scorer (or says why there is none and returns None)."""

    def load():
        from antinex.pipeline.request_scoring import ModelRequestScorer
        from antinex.utils.model_store import ModelStore, ModelStoreError

        root = Path(store_dir)
        if not root.is_dir() or not ModelStore(root).exists(model):
            log.warning("no stored model %r in %s: requests are not judged by a model (train one with "
                        "'antinex quickstart'); the timing and window rules run", model, root.resolve())
            return None
        try:
            return ModelRequestScorer(ModelStore(root).load(model))
        except (ModelStoreError, ValueError) as exc:
            log.warning("request model %r not used: %s", model, exc)
            return None

    return load


class LiveVerdicts:
    """The analyzer, a request-scoring thread and the alert writer, fed packet by packet."""

    def __init__(self, writer: AlertWriter, profile: Profile | None = None, *, scorer=None,
                 load_scorer: Callable[[], object | None] | None = None, tick_after: float = 1.0,
                 max_batches: int = 256):
        self.profile = profile or shipped_profile()
        self.analyzer = Analyzer(self.profile)
        self.writer = writer
        self.scorer = scorer
        self._load = load_scorer
        self.tick_after = tick_after
        self._batches: queue.Queue = queue.Queue(max_batches)  # bounded: a slow model slows intake, never grows
        self._thread = threading.Thread(target=self._score_loop, name="antinex-request-scoring", daemon=True)
        self._thread.start()
        self._clock_at: float | None = None  # packet time of the latest packet ...
        self._wall_at = 0.0  # ... and when it arrived
        self.judged = 0

    # -- packets ------------------------------------------------------------------------
    def feed(self, ts: float, row: dict) -> None:
        self.analyzer.feed(ts, row)
        self._clock_at, self._wall_at = self.analyzer.clock, time.monotonic()

    def flush(self) -> None:
        """After a batch of packets: alert the rule verdicts, hand the complete requests to the scorer."""
        verdicts = self.analyzer.take_verdicts()
        if verdicts:
            self.writer.write(verdicts)
        requests = self.analyzer.take_requests()
        if requests:
            self._batches.put(requests)

    def idle(self) -> None:
        """No packets just now: after ``tick_after`` seconds, the wall clock drives the rules."""
        if self._clock_at is None:
            return
        quiet = time.monotonic() - self._wall_at
        if quiet >= self.tick_after:
            self.analyzer.tick(self._clock_at + quiet)
            self.flush()

    def close(self, timeout: float = 120.0) -> None:
        """End of input: every flow judged as it stands, every request scored, then the thread stops."""
        self.analyzer.finish()
        self.flush()
        self._batches.put(None)
        self._thread.join(timeout)

    # -- scoring thread -------------------------------------------------------------------
    def _score_loop(self) -> None:
        if self.scorer is None and self._load is not None:
            try:
                self.scorer = self._load()
            except Exception:  # the rules go on without a model
                log.exception("loading the request model failed")
        while True:
            batch = self._batches.get()
            if batch is None:
                return
            if self.scorer is None:
                continue
            try:
                self.writer.write(Analyzer.judge(batch, self.scorer))
                self.judged += len(batch)
            except Exception:  # a bad batch must not stop the alerts of the next ones
                log.exception("judging %d requests failed", len(batch))
