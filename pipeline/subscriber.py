"""``antinex-subscriber``: NEW_PACKETS → CSV rows (→ predictions).

Each message is flattened, appended to a rotating CSV and only then
acknowledged. With ANTINEX_PUBLISH_ENABLED=1 each new batch of rows (never
all rows so far) is sent to the API for prediction; a batch goes out when it
reaches ANTINEX_BATCH_SIZE rows or ANTINEX_MAX_DELAY seconds, whichever
comes first. Bad messages are counted and dropped, never fatal. SIGTERM and
SIGINT flush and exit cleanly.

Environment: FORWARD_BROKER_URL, FORWARD_QUEUE, DS_DIR (./var/datasets/recorded),
DS_NAME (netdata), ROTATE_ROWS (100000), STOP_AFTER_NUM (-1), plus the client's ANTINEX_*.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from kombu import Connection

from pipeline import settings
from pipeline.csv_writer import RotatingCSV
from pipeline.flatten import flatten_message
from pipeline.publisher import packet_queue

log = logging.getLogger("antinex.subscriber")


class Subscriber:
    """Consume packet messages into CSV files and optional prediction batches."""

    def __init__(self, broker_url: str | None = None, out_dir: str | Path | None = None, name: str | None = None,
                 max_rows: int | None = None, predictor=None, batch_size: int = 100, max_delay: float = 0.5):
        self.url = broker_url or settings.broker_url()
        self.writer = RotatingCSV(out_dir or os.environ.get("DS_DIR", "var/datasets/recorded"),
                                  name or os.environ.get("DS_NAME", "netdata"),
                                  max_rows=max_rows or int(os.environ.get("ROTATE_ROWS", "100000")))
        self.predictor = predictor
        self.batch_size, self.max_delay = batch_size, max_delay
        self.batch: list[dict] = []
        self.batch_started = 0.0
        self.received = 0
        self.bad = 0
        self.stopping = False

    def handle(self, body, message) -> None:
        try:
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise ValueError(f"not a packet message: {type(body).__name__}")
            row = flatten_message(body["data"])
            if not row:
                raise ValueError("no supported layer in the message")
        except (ValueError, TypeError, AttributeError) as exc:
            self.bad += 1
            log.warning("bad message #%d dropped: %s", self.bad, exc)
            message.ack()  # a bad message must not block the queue
            return
        self.writer.write([row])
        message.ack()  # after the row is on disk
        self.received += 1
        if self.predictor is not None:
            if not self.batch:
                self.batch_started = time.monotonic()
            self.batch.append(row)
            if len(self.batch) >= self.batch_size:
                self.flush_batch()

    def flush_batch(self) -> None:
        if self.batch and self.predictor is not None:
            rows, self.batch = self.batch, []
            try:
                self.predictor(rows)
            except Exception:  # predictions are best effort; rows are already saved
                log.exception("prediction batch of %d rows failed", len(rows))

    def run(self, stop_after: int = -1, idle_timeout: float | None = None) -> int:
        """Consume until stopped (signal, ``stop_after`` messages, or ``idle_timeout`` seconds idle)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
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
                    if self.batch and time.monotonic() - self.batch_started >= self.max_delay:
                        self.flush_batch()
                    if 0 <= stop_after <= self.received:
                        break
        self.flush_batch()
        self.writer.close()
        log.info("subscriber stopped: %d rows written, %d bad messages", self.received, self.bad)
        return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(message)s")
    predictor = None
    if os.environ.get("ANTINEX_PUBLISH_ENABLED", "0") == "1":
        from pipeline.predict_publisher import PredictPublisher

        predictor = PredictPublisher()
    sub = Subscriber(predictor=predictor, batch_size=int(os.environ.get("ANTINEX_BATCH_SIZE", "100")),
                     max_delay=float(os.environ.get("ANTINEX_MAX_DELAY", "0.5")))
    return sub.run(stop_after=int(os.environ.get("STOP_AFTER_NUM", "-1")))


if __name__ == "__main__":
    sys.exit(main())
