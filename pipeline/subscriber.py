"""``antinex-subscriber``: NEW_PACKETS → CSV rows (→ predictions) and verdicts → alerts.

Each message is flattened, appended to a rotating CSV and only then
acknowledged. With ANTINEX_ALERTS=1 (the default) the same packets, with
their capture times, go through the analyzer ``antinex-pcap predict``
runs (reassembled requests judged by the stored request model, flows and
sources by the timing and window rules) and every attack verdict is
written once per connection as a Suricata EVE JSON line to a rotating
file (ANTINEX_EVE_FILE), and optionally to a Redis list or syslog
(pipeline/settings.py reads the settings; docs/settings.md lists them). With ANTINEX_PUBLISH_ENABLED=1 each new batch of rows (never
all rows so far) is sent to the API for prediction; a batch goes out when it
reaches ANTINEX_BATCH_SIZE rows or ANTINEX_MAX_DELAY seconds, whichever
comes first. Bad messages are counted and dropped, never fatal. SIGTERM and
SIGINT flush and exit cleanly.

Environment: FORWARD_BROKER_URL, FORWARD_QUEUE, DS_DIR (./var/datasets/recorded),
DS_NAME (netdata), ROTATE_ROWS (100000), STOP_AFTER_NUM (-1), plus the client's ANTINEX_*.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from kombu import Connection

# the request model loads in a thread; TensorFlow's start-up chatter is noise in the subscriber's log
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from antinex.pipeline import settings
from antinex.pipeline.csv_writer import RotatingCSV
from antinex.pipeline.flatten import flatten_message, message_time
from antinex.pipeline.publisher import packet_queue
from antinex.pipeline.redis_queue import ReliableBatchPopper, is_redis, open_envelope
from antinex.utils.config import SettingError

log = logging.getLogger("antinex.subscriber")


class Subscriber:
    """Consume packet messages into CSV files and optional prediction batches."""

    def __init__(self, broker_url: str | None = None, out_dir: str | Path | None = None, name: str | None = None,
                 max_rows: int | None = None, predictor=None, batch_size: int = 100, max_delay: float = 0.5,
                 prefetch: int = 500, verdicts=None):
        self.url = broker_url or settings.broker_url()
        self.writer = RotatingCSV(out_dir or settings.ds_dir(), name or settings.ds_name(),
                                  max_rows=max_rows or settings.rotate_rows())
        self.predictor = predictor
        self.verdicts = verdicts  # LiveVerdicts (pipeline/live_verdicts.py), or None: rows only
        self.batch_size, self.max_delay, self.prefetch = batch_size, max_delay, prefetch
        # names this consumer's in-flight list on Redis: a restart with the same name resumes it
        self.consumer_name = name or settings.ds_name()
        self.batch: list[dict] = []
        self.batch_started = 0.0
        self.received = 0
        self.bad = 0
        self.stopping = False

    def to_row(self, body) -> dict | None:
        """The flat row of one packet message, or None (counted) when the message is unusable."""
        try:
            if isinstance(body, ValueError):  # an envelope that did not decode
                raise body
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise ValueError(f"not a packet message: {type(body).__name__}")
            row = flatten_message(body["data"])
            if not row:
                raise ValueError("no supported layer in the message")
            return row
        except (ValueError, TypeError, AttributeError) as exc:
            self.bad += 1
            log.warning("bad message #%d dropped: %s", self.bad, exc)
            return None

    def accept(self, rows: list[dict]) -> None:
        """Rows now on disk: count them and queue them for prediction."""
        self.received += len(rows)
        if self.predictor is not None and rows:
            if not self.batch:
                self.batch_started = time.monotonic()
            self.batch.extend(rows)
            while len(self.batch) >= self.batch_size:
                rows, self.batch = self.batch[: self.batch_size], self.batch[self.batch_size:]
                self._predict(rows)
                self.batch_started = time.monotonic()

    def handle(self, body, message) -> None:
        """kombu path: one message (any broker kombu supports)."""
        row = self.to_row(body)
        if row is None:
            message.ack()  # a bad message must not block the queue
            return
        self.writer.write([row])
        message.ack()  # after the row is on disk
        self.accept([row])
        self.analyze([(body, row)])

    def handle_batch(self, bodies: list) -> None:
        """Redis path: many messages, one write; acknowledged by the caller afterwards."""
        pairs = [(b, r) for b, r in ((b, self.to_row(b)) for b in bodies) if r is not None]
        rows = [r for _, r in pairs]
        if rows:
            self.writer.write(rows)
        self.accept(rows)
        self.analyze(pairs)

    def analyze(self, pairs: list[tuple[dict, dict]]) -> None:
        """The rows (on disk already) through the analyzer, each at its packet's capture time."""
        if self.verdicts is None or not pairs:
            return
        # queued for the analyzer's own thread: the rows' path never waits for a verdict
        self.verdicts.feed_batch([(message_time(body), row) for body, row in pairs])

    def _predict(self, rows: list[dict]) -> None:
        try:
            self.predictor(rows)
        except Exception:  # predictions are best effort; rows are already saved
            log.exception("prediction batch of %d rows failed", len(rows))

    def flush_batch(self) -> None:
        if self.batch and self.predictor is not None:
            rows, self.batch = self.batch, []
            self._predict(rows)

    def run(self, stop_after: int = -1, idle_timeout: float | None = None) -> int:
        """Consume until stopped (signal, ``stop_after`` messages, or ``idle_timeout`` seconds idle)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        if is_redis(self.url):
            self._run_redis(stop_after, idle_timeout)
        else:
            self._run_kombu(stop_after, idle_timeout)
        self.flush_batch()
        if hasattr(self.predictor, "close"):
            self.predictor.close()  # waits for the batches already sent
        if self.verdicts is not None:
            self.verdicts.close()  # every flow judged as it stands, every request scored
            self.verdicts.writer.close()
        self.writer.close()
        log.info("subscriber stopped: %d rows written, %d bad messages%s", self.received, self.bad,
                 f", {self.verdicts.writer.written} alerts" if self.verdicts is not None else "")
        return 0

    def _due(self) -> None:
        if self.batch and time.monotonic() - self.batch_started >= self.max_delay:
            self.flush_batch()

    def _run_redis(self, stop_after: int, idle_timeout: float | None) -> None:
        queue = packet_queue()
        with Connection(self.url) as conn:
            queue(conn.default_channel).declare()  # the exchange binding publishers route by
        popper = ReliableBatchPopper(self.url, queue.name, self.consumer_name)
        try:
            leftover = popper.unacked()
            if leftover:
                log.warning("%d messages from an interrupted run: writing them now", len(leftover))
                self.handle_batch([self._open(raw) for raw in leftover])
                popper.ack()
            last = time.monotonic()
            while not self.stopping:
                want = self.prefetch if stop_after < 0 else max(1, min(self.prefetch, stop_after - self.received))
                raws = popper.pop(want, timeout=min(self.max_delay, 0.5))
                if raws:
                    self.handle_batch([self._open(raw) for raw in raws])
                    popper.ack()  # after the rows are on disk
                    last = time.monotonic()
                elif idle_timeout is not None and time.monotonic() - last > idle_timeout:
                    break
                self._due()
                if 0 <= stop_after <= self.received:
                    break
        finally:
            popper.close()

    def _open(self, raw: bytes):
        try:
            return open_envelope(raw)
        except ValueError as exc:
            return exc  # counted as a bad message by to_row

    def _run_kombu(self, stop_after: int, idle_timeout: float | None) -> None:
        last = time.monotonic()
        with Connection(self.url) as conn:
            queue = packet_queue()
            with conn.Consumer([queue], callbacks=[self.handle], accept=["json"], prefetch_count=200):
                while not self.stopping:
                    try:
                        conn.drain_events(timeout=min(self.max_delay, 0.5))
                        last = time.monotonic()
                    except socket.timeout:
                        if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                            break
                    self._due()
                    if 0 <= stop_after <= self.received:
                        break


def build_parser() -> argparse.ArgumentParser:
    """The command line: everything is set by the environment (the original's names)."""
    return argparse.ArgumentParser(prog="antinex-subscriber", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def live_verdicts_from_env():
    """The analyzer and alert sinks the environment asks for (pipeline/settings.py)."""
    from antinex.pipeline import settings as vs
    from antinex.pipeline.escalation import SourceEscalation
    from antinex.pipeline.eve import AlertWriter, EveFile, RedisList, Syslog
    from antinex.pipeline.injection import from_settings
    from antinex.pipeline.live_verdicts import LiveVerdicts, model_loader, stored_profile
    from antinex.pipeline.profile import load_profile
    from antinex.pipeline.suppression import Suppression

    suppression = Suppression.load(vs.suppress_file()) if vs.suppress_file() else None
    model, store = vs.model_name(), vs.model_store()
    profile = load_profile(vs.flow_profile()) if vs.flow_profile() else stored_profile(store, model)
    sinks = [EveFile(vs.eve_file(), vs.eve_max_bytes(), vs.eve_backups())]
    if vs.redis_url():
        sinks.append(RedisList(vs.redis_url(), vs.redis_key(), vs.redis_max()))
    if vs.syslog_address():
        sinks.append(Syslog(vs.syslog_address(), vs.syslog_facility()))
    signatures, escalation = from_settings(), SourceEscalation.from_settings()
    live = LiveVerdicts(AlertWriter(sinks, suppression), profile, load_scorer=model_loader(store, model),
                        signatures=signatures, escalation=escalation, tick_after=vs.tick_after())
    log.info("alerts to %s%s; request model %r from %s; injection signatures %s; source escalation %s; "
             "flow profile %s (%s)", vs.eve_file(), "".join(f", {type(s).__name__}" for s in sinks[1:]), model,
             store, ",".join(signatures.kinds) or "none",
             f"after {escalation.after} in {escalation.window:g} s" if escalation else "off", live.profile.name,
             live.profile.origin)
    return live


def main(argv: list[str] | None = None) -> int:
    # parse first: --help (or a wrong argument) must answer before anything connects
    build_parser().parse_args(argv)
    try:
        level, publish, alerts = settings.log_level(), settings.publish_enabled(), settings.alerts_enabled()
        batch_size, max_delay, stop_after = settings.batch_size(), settings.max_delay(), settings.stop_after()
    except SettingError as exc:  # a malformed setting: one line naming the variable
        print(f"antinex-subscriber: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")

    predictor = None
    if publish:
        from antinex.pipeline.predict_publisher import PredictPublisher

        predictor = PredictPublisher()
    try:
        verdicts = live_verdicts_from_env() if alerts else None
    except ValueError as exc:  # a suppression list, profile or alert setting that cannot be read
        print(f"antinex-subscriber: error: {exc}", file=sys.stderr)
        return 2
    sub = Subscriber(predictor=predictor, batch_size=batch_size, max_delay=max_delay, verdicts=verdicts)
    return sub.run(stop_after=stop_after)


if __name__ == "__main__":
    sys.exit(main())
