"""Capture to prediction: latency from publishing a packet to its prediction on disk.

Ours: HTTP request packets at a steady 1,000/s from a separate publisher
process through NEW_PACKETS into the subscriber, which writes each row,
batches rows (200 rows or 0.25 s) to ``POST /ml/`` of a live stack (API,
Redis, core with the quick-start detector in memory, PostgreSQL) and
appends the predictions to a CSV once the job is finished (a long poll,
``GET /mlresults/{id}/?wait=``, as the subscriber does). Baseline, same run, same packets: the
latency to the row being on disk (capture → CSV), so the ratio is what
prediction adds.
"""
from __future__ import annotations

import collections
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    import redis
    from conftest import REDIS_DBS, REDIS_HOST, REDIS_PORT
    from stack import LiveStack

    from bench import STACK_ENV

    from bench.bench_capture import _stream
    from bench.datasets import packet_frames
    from antinex.client.ai_client import AIClient
    from antinex.pipeline.predict_publisher import PredictPublisher
    from antinex.pipeline.subscriber import Subscriber
    from antinex.utils.data import PACKET_REQUEST, PACKET_TRAIN

    n = 3_000 if quick else 10_000
    frames = [f for f in packet_frames(5_000) if b"GET /" in f]
    frames = [frames[i % len(frames)] for i in range(n)]
    packets_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DBS['bench']}"
    to_disk: list[float] = []
    to_prediction: list[float] = []

    class TimedPublisher(PredictPublisher):
        """Remembers when each batch's packets were sent; measures when their predictions land."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.pending: list[float] = []
            self.batch_times: collections.deque = collections.deque()
            self.sent_at: dict[int, list[float]] = {}

        def __call__(self, rows):
            self.batch_times.append(self.pending[: len(rows)])
            del self.pending[: len(rows)]
            super().__call__(rows)

        def send(self, rows):
            times = self.batch_times.popleft()
            run_job = self.client.run_job

            def timed_run_job(body, **kw):
                started = run_job(body, **kw)
                if started["status"] == 0:
                    self.sent_at[started["data"]["job"]["id"]] = times
                return started

            self.client.run_job = timed_run_job
            try:
                super().send(rows)
            finally:
                self.client.run_job = run_job

        def _collect(self, job_id, result_id):
            super()._collect(job_id, result_id)
            now = time.time()
            to_prediction.extend(now - t for t in self.sent_at.pop(job_id, []))

    with tempfile.TemporaryDirectory() as tmp, LiveStack(REDIS_DBS["bench_core"], with_core=True,
                                                         tmp_path=Path(tmp) / "stack", extra_env=STACK_ENV) as stack:
        redis.Redis.from_url(packets_url).flushdb()
        shutil.copy(PACKET_TRAIN, stack.datasets_dir / "train.csv.gz")
        stack.create_user("stream", "stream-pass-1")
        template = json.loads(PACKET_REQUEST.read_text())
        template.update(label="Bench-Stream", dataset="train.csv.gz", epochs=3)
        client = AIClient(user="stream", password="stream-pass-1", url=stack.url, timeout=30, verbose=False)
        started = client.run_job(template)
        assert client.wait_for_job_to_finish(started["data"]["job"]["id"], timeout=600)["status"] == 0
        template.pop("dataset")
        publisher = TimedPublisher(client=client, template=template, out=Path(tmp) / "predictions.csv", timeout=120)

        class Timed(Subscriber):
            def handle_batch(self, bodies):
                good = [b for b in bodies if isinstance(b, dict)]
                publisher.pending.extend(b["sent"] for b in good)
                super().handle_batch(bodies)
                now = time.time()
                to_disk.extend(now - b["sent"] for b in good)

        sub = Timed(packets_url, Path(tmp) / "rows", "bench", predictor=publisher, batch_size=200, max_delay=0.25)
        agent = multiprocessing.Process(target=_stream, args=(packets_url, frames, 1000.0))
        agent.start()
        sub.run(stop_after=n, idle_timeout=10)
        agent.join()
    p95, p50 = _pct(to_prediction, 0.95) * 1000, statistics.median(to_prediction) * 1000
    d95 = _pct(to_disk, 0.95) * 1000
    return [{"name": "capture→prediction latency p95 at 1,000 pkt/s", "value": p95, "unit": "ms",
             "baseline_name": "capture→CSV p95 (same packets)", "baseline_value": d95, "ratio": p95 / d95,
             "notes": f"{len(to_prediction)} of {n} packets predicted, p50 {p50:.0f} ms; batches of 200 rows or "
                      "0.25 s through POST /ml/ to the core (cached model); results by long poll (?wait=)"}]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
