"""Sending a batch of new rows to the API for prediction and recording the answers."""
from __future__ import annotations

import csv
import logging
import queue
import threading
from pathlib import Path

from antinex.pipeline import settings
from antinex.pipeline.payload_features import add_payload_features
from antinex.utils.consts import SUCCESS

log = logging.getLogger("antinex.predict")


class PredictPublisher:
    """Callable: ``publisher(rows)`` posts the rows and appends predictions to a CSV in the background."""

    def __init__(self, client=None, template: dict | None = None, out: str | Path | None = None,
                 timeout: float = 60.0):
        from antinex.client.ai_client import AIClient

        self.client = client or AIClient(verbose=False)
        self.template = template
        self.out = Path(out or settings.predictions_csv())
        self.timeout = timeout
        self.lock = threading.Lock()
        self.sent = 0
        self._queue: queue.Queue = queue.Queue(maxsize=100)  # bounded: a stalled API slows, never grows
        self._sender: threading.Thread | None = None
        self._collectors: list[threading.Thread] = []

    def __call__(self, rows: list[dict]) -> None:
        """Queue a batch; a sender thread posts it, so the subscriber never waits on HTTP."""
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="antinex-predict-sender", daemon=True)
            self._sender.start()
        self._queue.put(rows)

    def _send_loop(self) -> None:
        while True:
            rows = self._queue.get()
            try:
                if rows is None:
                    return
                self.send(rows)
            except Exception:  # best effort: the rows are on disk already
                log.exception("prediction batch of %d rows not sent", len(rows))
            finally:
                self._queue.task_done()

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, then wait for the answers of every job sent."""
        if self._sender is not None:
            self._queue.put(None)
            self._sender.join(timeout)
            self._sender = None
        for t in list(self._collectors):
            t.join(timeout if timeout is not None else self.timeout)

    def send(self, rows: list[dict]) -> None:
        """Post one batch now and collect its predictions in the background."""
        import pandas as pd

        from antinex.client.generate import generate_ai_request

        frame = add_payload_features(pd.DataFrame.from_records(rows))
        req = generate_ai_request(frame.to_dict("records"), req_dict=self.template)
        if req["status"] != SUCCESS:
            log.warning("not sent: %s", req["error"])
            return
        # a full quota (429) holds the batch until a slot frees: backpressure, nothing dropped
        started = self.client.run_job(req["data"], quota_wait=self.timeout)
        if started["status"] != SUCCESS:
            log.warning("prediction job not started: %s", started["error"])
            return
        self.sent += len(rows)
        t = threading.Thread(target=self._collect, args=(started["data"]["job"]["id"],
                                                         started["data"]["results"]["id"]), daemon=True)
        t.start()
        self._collectors = [c for c in self._collectors if c.is_alive()] + [t]

    def _collect(self, job_id: int, result_id: int) -> None:
        done = self.client.wait_for_result(result_id, sec_to_sleep=0.05, timeout=self.timeout)
        if done["status"] != SUCCESS:
            log.warning("prediction job %s: %s", job_id, done["error"])
            return
        preds = (done["data"].get("predictions_json") or {}).get("predictions") or []
        attacks = sum(1 for p in preds if p.get("label_name") == "attack")
        if attacks:
            log.warning("job %s: %d of %d packets predicted as attack", job_id, attacks, len(preds))
        with self.lock:
            new = not self.out.exists()
            self.out.parent.mkdir(parents=True, exist_ok=True)
            with open(self.out, "a", newline="") as fh:
                w = csv.writer(fh)
                if new:
                    w.writerow(["job_id", "_row_idx", "label_name", "prediction"])
                feature = (self.template or {}).get("predict_feature", "label_value")
                for p in preds:
                    w.writerow([job_id, p.get("_row_idx"), p.get("label_name"), p.get(feature)])
