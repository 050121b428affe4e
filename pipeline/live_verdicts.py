"""Verdicts and alerts on live traffic: the analyzer beside the subscriber.

:class:`LiveVerdicts` takes the packets the subscriber consumes (each
with its capture time, the message's ``ts``) into an
:class:`~pipeline.analyzer.Analyzer`, the same one ``antinex-pcap predict``
runs, in a thread of its own, so the subscriber's rows, acknowledgements
and per-packet predictions never wait for a verdict. Rule verdicts
(slow-rate DoS, brute force, scans, floods) are written as alerts at once;
complete requests are judged by the request model (loaded in the
background: a few seconds of Keras import). When packets stop coming, the
wall clock moves the analyzer's clock on, so a connection that has gone
quiet mid-request is still flagged while it holds the server.
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
    """The analyzer and the request model in a thread of their own, fed batch by batch.

    The subscriber's own path (rows to CSV, acknowledgements, per-packet
    predictions) only queues each batch (:meth:`feed_batch`); a worker
    thread runs the analyzer, writes the rule verdicts as alerts and judges
    complete requests. The request model loads in yet another thread
    (``load_scorer``: a few seconds of Keras import): requests complete
    before it is ready wait for it (at most ``max_waiting``, the oldest
    dropped beyond, counted in ``dropped``). When no batch comes for
    ``tick_after`` seconds the worker moves the analyzer's clock on with the
    wall clock. The queue is bounded: an analyzer that falls behind slows
    the intake instead of growing without end.
    """

    def __init__(self, writer: AlertWriter, profile: Profile | None = None, *, scorer=None,
                 load_scorer: Callable[[], object | None] | None = None, signatures=None, escalation=None,
                 tick_after: float = 1.0,
                 max_batches: int = 256, max_waiting: int = 50_000):
        self.profile = profile or shipped_profile()
        self.analyzer = Analyzer(self.profile)
        self.writer = writer
        self.scorer = scorer
        self.signatures = signatures  # pipeline.injection.InjectionSignatures, checked with the model
        self.escalation = escalation  # pipeline.escalation.SourceEscalation: its memory spans batches
        self.tick_after = tick_after
        self.max_waiting = max_waiting
        self.judged = self.dropped = 0
        self._waiting: list = []  # complete requests the model has not judged yet
        self._inbox: queue.Queue = queue.Queue(max_batches)
        self._clock_at: float | None = None  # packet time of the latest packet ...
        self._wall_at = 0.0  # ... and when it was analyzed
        self._loader = None
        if scorer is None and load_scorer is not None:
            self._loader = threading.Thread(target=self._load, args=(load_scorer,), name="antinex-model-load",
                                            daemon=True)
            self._loader.start()
        self._thread = threading.Thread(target=self._run, name="antinex-verdicts", daemon=True)
        self._thread.start()

    # -- the subscriber's side ------------------------------------------------------------
    def feed_batch(self, pairs: list[tuple[float, dict]]) -> None:
        """Queue a batch of (capture time, row) pairs for the analyzer."""
        if pairs:
            self._inbox.put(pairs)

    def feed(self, ts: float, row: dict) -> None:
        self.feed_batch([(ts, row)])

    def close(self, timeout: float = 300.0) -> None:
        """End of input: every flow judged as it stands, every request scored, then the threads stop."""
        self._inbox.put(None)
        self._thread.join(timeout)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until every batch queued so far has been analyzed (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._inbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- the worker -------------------------------------------------------------------------
    def _load(self, load_scorer) -> None:
        try:
            self.scorer = load_scorer()
        except Exception:  # the rules go on without a model
            log.exception("loading the request model failed")

    def _run(self) -> None:
        while True:
            try:
                batch = self._inbox.get(timeout=min(self.tick_after, 0.25))
            except queue.Empty:
                self._tick()
                continue
            try:
                if batch is None:
                    self.analyzer.finish()
                    if self._loader is not None:
                        self._loader.join()  # the model's verdicts on the last requests are owed
                    self._flush()
                    return
                for ts, row in batch:
                    self.analyzer.feed(ts, row)
                self._clock_at, self._wall_at = self.analyzer.clock, time.monotonic()
                self._flush()
            except Exception:  # one bad batch must not stop the alerts of the next ones
                log.exception("analyzing a batch of %d packets failed", len(batch or ()))
            finally:
                self._inbox.task_done()

    def _tick(self) -> None:
        if self._clock_at is None:
            return
        quiet = time.monotonic() - self._wall_at
        if quiet >= self.tick_after:
            self.analyzer.tick(self._clock_at + quiet)
            self._flush()

    def _flush(self) -> None:
        verdicts = self.analyzer.take_verdicts()
        if verdicts:
            if self.escalation is not None:
                self.escalation.note(verdicts)
            self.writer.write(verdicts)
        self._waiting += self.analyzer.take_requests()
        if len(self._waiting) > self.max_waiting:
            over = len(self._waiting) - self.max_waiting
            self.dropped += over
            del self._waiting[:over]
            log.warning("%d requests not judged: the request model is not ready", self.dropped)
        # without a model (none stored, or it failed to load) the signatures alone judge the requests
        ready = self.scorer is not None or (self.signatures and (self._loader is None or not self._loader.is_alive()))
        if self._waiting and ready:
            batch, self._waiting = self._waiting, []
            self.writer.write(Analyzer.judge(batch, self.scorer, self.signatures, self.escalation))
            self.judged += len(batch)
