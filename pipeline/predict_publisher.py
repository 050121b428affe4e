"""Sending a batch of new rows to the API for prediction and recording the answers."""
from __future__ import annotations

import csv
import logging
import os
import threading
from pathlib import Path

from pipeline.payload_features import add_payload_features

log = logging.getLogger("antinex.predict")


class PredictPublisher:
    """Callable: ``publisher(rows)`` posts the rows and appends predictions to a CSV in the background."""

    def __init__(self, client=None, template: dict | None = None, out: str | Path | None = None,
                 timeout: float = 60.0):
        from client.ai_client import AIClient

        self.client = client or AIClient(verbose=False)
        self.template = template
        self.out = Path(out or os.environ.get("ANTINEX_PREDICTIONS_CSV", "var/datasets/recorded/predictions.csv"))
        self.timeout = timeout
        self.lock = threading.Lock()
        self.sent = 0

    def __call__(self, rows: list[dict]) -> None:
        import pandas as pd

        from client.generate import generate_ai_request

        frame = add_payload_features(pd.DataFrame.from_records(rows))
        req = generate_ai_request(frame.to_dict("records"), req_dict=self.template)
        if req["status"] != 0:
            log.warning("not sent: %s", req["error"])
            return
        started = self.client.run_job(req["data"])
        if started["status"] != 0:
            log.warning("prediction job not started: %s", started["error"])
            return
        self.sent += len(rows)
        threading.Thread(target=self._collect, args=(started["data"]["job"]["id"],), daemon=True).start()

    def _collect(self, job_id: int) -> None:
        done = self.client.wait_for_job_to_finish(job_id, sec_to_sleep=0.1, timeout=self.timeout)
        if done["status"] != 0:
            log.warning("prediction job %s: %s", job_id, done["error"])
            return
        preds = (done["data"]["result"].get("predictions_json") or {}).get("predictions") or []
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
                feature = done["data"]["job"].get("predict_feature", "label_value")
                for p in preds:
                    w.writerow([job_id, p.get("_row_idx"), p.get("label_name"), p.get(feature)])
