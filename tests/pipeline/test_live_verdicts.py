"""The live path: packet times in the messages, the subscriber's analyzer, wall-clock ticks when
traffic pauses, the request model loaded in the background, and flow profiles stored beside a model."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from scapy.utils import wrpcap

from antinex.pipeline.eve import AlertWriter, EveFile
from antinex.pipeline.flatten import message_time, row_to_message
from antinex.pipeline.live_verdicts import LiveVerdicts, model_loader, stored_profile
from antinex.pipeline.profile import LIMITS, Profile
from antinex.pipeline.publisher import PacketPublisher
from antinex.pipeline.subscriber import Subscriber

from .tcpcraft import Conversation, response


def quick_profile(**limits) -> Profile:
    base = {k: s.floor for k, s in LIMITS.items()}
    base.update(limits)
    return Profile(name="quick", limits=base, origin="test")


def slowloris(ts: float = 1_800_000_000.0) -> Conversation:
    c = Conversation(client=("10.4.0.66", 41000))
    c.handshake(ts)
    c.send(ts + 0.1, "c", b"GET / HTTP/1.1\r\nHost: app\r\n")
    return c


def test_message_time_prefers_ts_and_falls_back_to_created():
    msg = row_to_message({"ip_src": "10.0.0.1"}, ts=1_800_000_000.123456)
    assert msg["ts"] == 1_800_000_000.123456 and message_time(msg) == 1_800_000_000.123456
    old = {"data": {}, "created": "2027-01-15 08:00:01", "source": "agent"}  # an agent older than AntiNex 2
    import datetime as dt

    assert message_time(old) == dt.datetime(2027, 1, 15, 8, 0, 1).timestamp()
    assert message_time({"data": {}}, default=5.0) == 5.0
    assert message_time({"ts": "soon", "created": None}, default=6.0) == 6.0


def test_a_paused_connection_is_flagged_by_the_wall_clock(tmp_path):
    """A slowloris client sends a partial head and then nothing: no packet moves the packet clock,
    yet the verdict must come while the connection holds the server."""
    out = tmp_path / "eve.json"
    writer = AlertWriter([EveFile(out)])
    live = LiveVerdicts(writer, quick_profile(head_seconds=0.5), tick_after=0.2)
    live.feed_batch(slowloris().rows())
    live.drain()
    assert writer.written == 0  # 0.1 s of packet time: nothing yet
    deadline = time.time() + 10
    while not writer.written and time.time() < deadline:
        time.sleep(0.05)  # no packet comes; the wall clock moves the analyzer on
    assert writer.written == 1
    record = json.loads(out.read_text())
    assert record["antinex"]["verdict"] == "slowloris" and record["src_ip"] == "10.4.0.66"
    live.close()
    writer.close()


def test_the_subscriber_judges_the_packets_it_consumes(redis_db, tmp_path):
    url = redis_db("pipeline")
    convs = [slowloris(1_800_000_000.0)]
    for i in range(7):  # a brute force, one connection per attempt
        c = Conversation(client=("10.4.0.69", 43000 + i))
        c.handshake(1_800_000_001.0 + i)
        body = b"user=a&pass=p%d" % i
        c.send(1_800_000_001.1 + i, "c", b"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: "
                                         b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
        c.send(1_800_000_001.2 + i, "c", body)
        c.send(1_800_000_001.3 + i, "s", response(401))
        c.close(1_800_000_001.4 + i)
        convs.append(c)
    packets = sorted((p for c in convs for p in c.packets), key=lambda p: p[0])
    with PacketPublisher(url) as pub:
        for ts, frame in packets:
            pub.publish_frame(frame, ts, source="agent")
    out = tmp_path / "eve.json"
    writer = AlertWriter([EveFile(out)])
    live = LiveVerdicts(writer, quick_profile())  # no request model: the rules alone
    sub = Subscriber(url, tmp_path / "rows", "live", verdicts=live)
    sub.run(idle_timeout=1.5)
    assert sub.received == len(packets)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    names = sorted((r["antinex"]["verdict"], r["src_port"]) for r in records)
    assert ("slowloris", 41000) in names  # 7.4 s of packet time passed with its head incomplete
    assert [p for n, p in names if n == "brute-force"] == [43005, 43006]
    loris = next(r for r in records if r["antinex"]["verdict"] == "slowloris")
    assert loris["timestamp"].startswith("2027-01-15T08:00:0")  # packet time, from the messages' ts


def test_without_a_stored_model_the_rules_still_run(tmp_path, caplog):
    load = model_loader(tmp_path / "absent-store", "nothing")
    with caplog.at_level("WARNING", logger="antinex.verdicts"):
        assert load() is None
    assert "no stored model 'nothing'" in caplog.text
    assert not (tmp_path / "absent-store").exists()


def benign_capture(path) -> None:
    convs = []
    for i in range(12):
        c = Conversation(client=("10.6.0.%d" % (20 + i % 3), 40000 + i))
        c.handshake(100.0 + i)
        c.send(100.1 + i, "c", b"GET /items/%d HTTP/1.1\r\nHost: app\r\n\r\n" % i)
        c.send(100.15 + i, "s", response(404 if i % 4 == 0 else 200))
        c.close(100.2 + i)
        convs.append(c)
    wrpcap(str(path), sorted((p for c in convs for p in c.scapy_packets()), key=lambda p: float(p.time)))


def test_a_profile_fitted_on_benign_traffic_is_stored_beside_the_model(tmp_path, request_model_store):
    from antinex.utils.cli import default_model_name
    from antinex.utils.model_store import ModelStore

    store = tmp_path / "models"
    shutil.copytree(request_model_store, store)
    pcap = tmp_path / "benign.pcap"
    benign_capture(pcap)
    name = default_model_name()
    proc = subprocess.run([sys.executable, "-m", "antinex.pipeline.pcap", "profile", str(pcap), "--model", name,
                           "--store", str(store), "--name", "office", "-o", str(tmp_path / "p.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "stored the flow profile beside" in proc.stdout and "src_missing_paths" in proc.stdout
    trained = ModelStore(store).load(name)  # the checksum covers the new artifact
    assert trained.artifacts["flow_profile"]["name"] == "office"
    assert trained.artifacts["flow_profile"]["observed"]["src_missing_paths"] == 1.0
    assert json.loads((tmp_path / "p.json").read_text())["limits"] == trained.artifacts["flow_profile"]["limits"]
    prof = stored_profile(store, name)
    assert prof.name == "office" and "stored beside model" in prof.origin
    proc = subprocess.run([sys.executable, "-m", "antinex.pipeline.pcap", "predict", str(pcap), "--store",
                           str(store), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["profile"].startswith(f"office (model {name} (")


def test_profile_needs_somewhere_to_go_and_benign_http(tmp_path):
    pcap = tmp_path / "benign.pcap"
    benign_capture(pcap)
    run = lambda *a: subprocess.run([sys.executable, "-m", "antinex.pipeline.pcap", "profile", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    proc = run(str(pcap))
    assert proc.returncode == 2 and "--model NAME" in proc.stderr and "Traceback" not in proc.stderr
    proc = run(str(pcap), "--model", "absent", "--store", str(tmp_path / "s"))
    assert proc.returncode == 2 and "no stored model named 'absent'" in proc.stderr


@pytest.mark.parametrize("env, word", [({"ANTINEX_SUPPRESS_FILE": "/nonexistent/s.conf"}, "suppression list"),
                                       ({"ANTINEX_FLOW_PROFILE": "/nonexistent/p.json"}, "flow profile"),
                                       ({"ANTINEX_EVE_BACKUPS": "many"}, "ANTINEX_EVE_BACKUPS='many'"),
                                       ({"ANTINEX_BATCH_SIZE": "1.5"}, "ANTINEX_BATCH_SIZE='1.5'")])
def test_the_subscriber_refuses_unreadable_alert_settings(env, word, tmp_path):
    import os

    proc = subprocess.run([sys.executable, "-m", "antinex.pipeline.subscriber"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env, "ANTINEX_EVE_FILE": str(tmp_path / "e.json")})
    assert proc.returncode == 2 and word in proc.stderr and "Traceback" not in proc.stderr


def test_one_default_store_and_model_for_every_command(monkeypatch, tmp_path):
    """The quick start saves where antinex predict, antinex-pcap predict and the subscriber look."""
    from antinex.pipeline import settings as pipeline_settings
    from antinex.pipeline.pcap import build_parser as pcap_parser
    from antinex.utils.cli import build_parser as cli_parser
    from antinex.utils.data import DEFAULT_REQUEST

    label = json.loads(DEFAULT_REQUEST.read_text())["label"]
    from antinex.utils.config import value

    monkeypatch.delenv("ANTINEX_MODEL_STORE", raising=False)
    default = str(value("ANTINEX_MODEL_STORE", "cli"))  # the API's and the core's default too
    for env, expected in ((str(tmp_path / "store"), str(tmp_path / "store")), (None, default)):
        if env:
            monkeypatch.setenv("ANTINEX_MODEL_STORE", env)
        else:
            monkeypatch.delenv("ANTINEX_MODEL_STORE", raising=False)
        stores = {cli_parser().parse_args(["quickstart"]).store, cli_parser().parse_args(["train", "-f", "r"]).store,
                  cli_parser().parse_args(["predict", "-f", "r"]).store,
                  pcap_parser().parse_args(["predict", "c.pcap"]).store, pipeline_settings.model_store()}
        assert stores == {expected}
    assert pcap_parser().parse_args(["predict", "c.pcap"]).model == label == pipeline_settings.model_name()
