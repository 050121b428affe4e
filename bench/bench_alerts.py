"""The live alert path: from a packet published to its alert line on disk.

Ours: crafted HTTP conversations (SQL-injection requests from many
sources, a brute force against a login form answered 401, benign
requests) are published at a steady 1,000 packets/s by a separate process,
each packet stamped with its send time as its capture time (as a live
agent's kernel timestamp is). The subscriber writes each row to its CSV,
runs the analyzer (reassembly, flows, source windows, rules) and hands
complete requests to its scoring thread (the quick-start detector, trained
here on a sample of the shipped dataset), and writes every alert to its
EVE file. Latency per alert: the time its line is written minus the
capture time of the packet that decided it (the request's last segment,
or the 401 answer that crossed the brute-force limit).

Baseline, same run, same packets: the latency to the packet's row being on
disk (capture → CSV) of the subscriber with its alerts off (``ANTINEX_ALERTS=0``,
the path as it was before verdicts), so the ratio is what judging and
alerting add. A third row is the same CSV latency with the alerts on: what
the analyzer costs the rows' own path.

A second row: the analyzer's throughput offline (frames → rows →
analyzer, rules on) against the struct fast path alone (frames → rows) on
the same frames.
"""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from antinex.pipeline.injection import InjectionSignatures

ROOT = Path(__file__).resolve().parent.parent

SQLI = (b"GET /search?q=notes%27%20AND%201%3D1%20UNION%20ALL%20SELECT%20NULL%2CCONCAT%280x71%2C0x7178%29--%20- "
        b"HTTP/1.1\r\nHost: app\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\nAccept: */*\r\n\r\n")
NORMAL = b"GET /items/12 HTTP/1.1\r\nHost: app\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0)\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
DENIED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 19\r\n\r\ninvalid credentials"


def conversation(i: int, kind: str) -> list[bytes]:
    """The frames of one short connection (handshake, request, answer, close)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    client = ("10.8.%d.%d" % (i // 250 % 250, 1 + i % 250), 30000 + i % 30000)
    if kind == "brute":
        client = ("10.8.250.66", 30000 + i % 30000)
    server = ("10.8.0.1", 80)
    if kind == "brute":
        body = b"username=admin&password=guess%06d" % i
        request = (b"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body)) + body
        answer = DENIED
    else:
        request, answer = (SQLI if kind == "sqli" else NORMAL), ANSWER
    cs, ss = 1000, 5000

    def f(src, dst, flags, seq, ack, payload=b""):
        # a Linux-like stack: window scaling offered in the SYNs, 502 << 7 = 64,256 bytes advertised
        options = [("MSS", 1460), ("WScale", 7)] if "S" in flags else []
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack,
                                                         window=502, options=options)
        return bytes(pkt / payload) if payload else bytes(pkt)

    return [f(client, server, "S", cs, 0), f(server, client, "SA", ss, cs + 1), f(client, server, "A", cs + 1, ss + 1),
            f(client, server, "PA", cs + 1, ss + 1, request),
            f(server, client, "PA", ss + 1, cs + 1 + len(request), answer),
            f(client, server, "FA", cs + 1 + len(request), ss + 1 + len(answer)),
            f(server, client, "FA", ss + 1 + len(answer), cs + 2 + len(request)),
            f(client, server, "A", cs + 2 + len(request), ss + 2 + len(answer))]


def traffic(n_packets: int) -> list[bytes]:
    frames: list[bytes] = []
    i = 0
    while len(frames) < n_packets:
        kind = ("sqli", "brute", "normal", "normal")[i % 4]
        frames += conversation(i, kind)
        i += 1
    return frames[:n_packets]


def _publish(url: str, frames: list[bytes], rate: float) -> None:
    from antinex.pipeline.publisher import PacketPublisher

    with PacketPublisher(url) as pub:
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            while time.perf_counter() < start + i / rate:
                time.sleep(0.0002)
            pub.publish_frame(frame, time.time(), source="bench")  # its capture time: now, as an agent's


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def train_detector(store_dir: Path) -> None:
    """The quick start's request, on a sample of the shipped dataset, saved under its default name."""
    import pandas as pd

    from antinex.utils.data import DEFAULT_REQUEST, DEFAULT_TRAIN
    from antinex.utils.make_predictions import make_predictions
    from antinex.utils.model_store import ModelStore

    df = pd.read_csv(DEFAULT_TRAIN)
    sample = pd.concat(g.sample(min(len(g), 4000), random_state=1) for _, g in df.groupby("label_value"))
    path = store_dir.parent / "sample.csv"
    sample.to_csv(path, index=False)
    body = json.loads(DEFAULT_REQUEST.read_text())
    body.update(dataset=str(path), epochs=4)
    res = make_predictions(body, store=ModelStore(store_dir))
    assert res["status"] == 0, res["err"]


def live_latency(url: str, frames: list[bytes], store_dir: Path | None, tmp: Path) -> tuple[dict, list[float]]:
    """(alert latencies by verdict, row latencies) of one subscriber run; ``store_dir`` None: alerts off."""
    import redis

    from antinex.pipeline.escalation import SourceEscalation
    from antinex.pipeline.eve import AlertWriter, EveFile
    from antinex.pipeline.live_verdicts import LiveVerdicts
    from antinex.pipeline.pcap import load_detector
    from antinex.pipeline.subscriber import Subscriber
    from antinex.utils.cli import default_model_name

    redis.Redis.from_url(url).flushdb()
    alert_lat: dict[str, list[float]] = {}
    to_disk: list[float] = []

    class TimedWriter(AlertWriter):
        def write(self, verdicts):
            records = super().write(verdicts)
            now = time.time()
            for r in records:
                ts = dt.datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                alert_lat.setdefault(r["antinex"]["verdict"], []).append(now - ts)
            return records

    class Timed(Subscriber):
        def analyze(self, pairs):  # called once the batch's rows are on disk, before the analyzer runs
            now = time.time()
            to_disk.extend(now - body["ts"] for body, _ in pairs)
            super().analyze(pairs)

    live = None
    if store_dir is not None:
        scorer, profile = load_detector(default_model_name(), str(store_dir))  # loaded before the clock starts
        live = LiveVerdicts(TimedWriter([EveFile(tmp / "eve.json")]), profile, scorer=scorer,
                            signatures=InjectionSignatures(),
                            escalation=SourceEscalation.from_settings())  # as the subscriber runs by default
    sub = Timed(url, tmp / ("rows" if live else "rows-off"), "bench", verdicts=live)
    agent = multiprocessing.Process(target=_publish, args=(url, frames, 1000.0))
    agent.start()
    sub.run(stop_after=len(frames), idle_timeout=20)
    agent.join()
    return alert_lat, to_disk


def judge_throughput(store_dir: Path, n: int) -> tuple[float, float]:
    """(requests/s judged by the model and the injection signatures, by the model alone) on the same
    requests (a third SQL injection, a third form posts, a third plain pages), batches of 256, best of three."""
    from antinex.pipeline.analyzer import Analyzer
    from antinex.pipeline.http_message import parse_http_request
    from antinex.pipeline.pcap import load_detector
    from antinex.utils.cli import default_model_name

    form = (b"POST /notes HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 40\r\nCookie: session=eyJ1c2VyIjoiYm9iIn0=\r\n\r\ntitle=O'Brien's+notes&text=well+--+maybe")
    requests = [parse_http_request((SQLI, form, NORMAL)[i % 3]) for i in range(n)]
    scorer, _ = load_detector(default_model_name(), str(store_dir))
    signatures = InjectionSignatures()
    best = {True: float("inf"), False: float("inf")}
    for _ in range(3):
        for with_sigs in (True, False):
            t = time.perf_counter()
            for i in range(0, n, 256):
                Analyzer.judge(requests[i:i + 256], scorer, signatures if with_sigs else None)
            best[with_sigs] = min(best[with_sigs], time.perf_counter() - t)
    return n / best[True], n / best[False]


def analyzer_throughput(frames: list[bytes]) -> tuple[float, float]:
    """(analyzer packets/s, fast path alone packets/s) on the same frames, best of three."""
    from antinex.pipeline.analyzer import Analyzer
    from antinex.pipeline.fastparse import frames_to_rows
    from antinex.pipeline.profile import shipped_profile

    profile = shipped_profile()
    best_a = best_f = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        rows = list(frames_to_rows(frames))
        best_f = min(best_f, time.perf_counter() - t)
        t = time.perf_counter()
        a = Analyzer(profile)
        for i, row in enumerate(frames_to_rows(frames)):
            a.feed(1_800_000_000 + i * 0.001, row)
        a.finish()
        best_a = min(best_a, time.perf_counter() - t)
        del rows
    return len(frames) / best_a, len(frames) / best_f


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import REDIS_DBS, REDIS_HOST, REDIS_PORT

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DBS['bench']}"
    n = 3_000 if quick else 10_000
    frames = traffic(n)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = tmp / "models"
        train_detector(store)
        _, rows_only = live_latency(url, frames, None, tmp)  # the baseline: alerts off
        alerts, to_disk = live_latency(url, frames, store, tmp)
        j_sigs, j_model = judge_throughput(store, 3_000 if quick else 12_000)
    a_rate, f_rate = analyzer_throughput(traffic(20_000 if not quick else 5_000))
    d95 = _pct(rows_only, 0.95) * 1000
    rows = []
    for name, label in (("request-attack", "request model"), ("sql-injection", "injection signature"),
                        ("brute-force", "brute-force rule")):
        lat = alerts.get(name) or []
        if not lat:
            continue
        p95, p50 = _pct(lat, 0.95) * 1000, statistics.median(lat) * 1000
        rows.append({"name": f"packet→alert line p95 at 1,000 pkt/s ({label})", "value": p95, "unit": "ms",
                     "baseline_name": "capture→CSV p95, alerts off (same packets)", "baseline_value": d95,
                     "ratio": p95 / d95,
                     "notes": f"{len(lat)} alerts, p50 {p50:.1f} ms; subscriber: row on disk, queued to the "
                              "verdict thread: analyzer"
                              + {"request-attack": ", quick-start detector", "sql-injection": ", quick-start "
                                 "detector and injection signatures"}.get(name, ", rules")
                              + ", EVE line written"})
    c95 = _pct(to_disk, 0.95) * 1000
    rows.append({"name": "capture→CSV p95 at 1,000 pkt/s with the alerts on", "value": c95, "unit": "ms",
                 "baseline_name": "capture→CSV p95, alerts off (same packets)", "baseline_value": d95,
                 "ratio": c95 / d95, "notes": f"{len(to_disk)} packets, p50 {statistics.median(to_disk) * 1000:.1f} ms "
                                              f"(alerts off: p50 {statistics.median(rows_only) * 1000:.1f} ms): what the "
                                              "analyzer's thread costs the rows' own path"})
    rows.append({"name": "requests judged per second: quick-start detector and injection signatures", "value": j_sigs,
                 "unit": "req/s", "baseline_name": "the quick-start detector alone (same requests)",
                 "baseline_value": j_model, "ratio": j_sigs / j_model,
                 "notes": "one core, batches of 256, best of three; a third SQL injection, a third form posts with "
                          "apostrophes and '--', a third plain pages: what the signatures (libinjection, the "
                          "tautology, script, command and Shellshock patterns) add to each request"})
    rows.append({"name": "analyzer throughput (frames → rows → flows, requests, rules)", "value": a_rate,
                 "unit": "pkt/s", "baseline_name": "struct fast path alone (frames → rows)", "baseline_value": f_rate,
                 "ratio": a_rate / f_rate,
                 "notes": "one core, best of three; the subscriber and antinex-pcap predict run this per packet"})
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
