"""Publisher → real Redis → subscriber → CSV; bad messages; SIGTERM flush; capture on loopback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from conftest import free_port
from antinex.pipeline.publisher import PacketPublisher
from antinex.pipeline.subscriber import Subscriber


def packets(n: int):
    return [Ether(bytes(Ether() / IP(src="10.1.0.1", dst="10.1.0.2") / TCP(sport=40000 + i, dport=80) /
                        Raw(b"GET /%d HTTP/1.1\r\n\r\n" % i))) for i in range(n)]


def read_rows(directory) -> pd.DataFrame:
    files = sorted(directory.glob("*.csv"))
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def test_published_packets_become_csv_rows_and_bad_messages_are_counted(redis_db, tmp_path):
    url = redis_db("pipeline")
    with PacketPublisher(url) as pub:
        for pkt in packets(25):
            pub.publish_packet(pkt)
        pub.publish({"not": "a packet message"})
        pub.publish({"data": {"unknownlayer": {"x": 1}}})
    sub = Subscriber(url, tmp_path, "t", max_rows=10)
    sub.run(idle_timeout=1.5)
    df = read_rows(tmp_path)
    assert len(df) == 25 and sub.bad == 2
    assert len(list(tmp_path.glob("t-*.csv"))) == 3  # rotated at 10 rows: 10 + 10 + 5
    assert sorted(df["tcp_sport"]) == list(range(40000, 40025))
    assert list(df.columns[:2]) == ["idx", "eth_type"]
    import redis

    r = redis.Redis.from_url(url)  # nothing left in the queue, nothing left unacknowledged
    assert r.llen("NEW_PACKETS") == 0 and r.hlen("unacked") == 0


def test_batches_go_to_the_predictor_with_bounded_delay(redis_db, tmp_path):
    url = redis_db("pipeline")
    batches = []
    with PacketPublisher(url) as pub:
        for pkt in packets(7):
            pub.publish_packet(pkt)
    sub = Subscriber(url, tmp_path, "b", predictor=batches.append, batch_size=5, max_delay=0.3)
    sub.run(idle_timeout=1.5)
    assert [len(b) for b in batches] == [5, 2]  # the tail goes out after max_delay, not never


def test_sigterm_flushes_and_a_restart_never_rewrites(redis_db, tmp_path):
    url = redis_db("pipeline")
    env = {**os.environ, "FORWARD_BROKER_URL": url, "DS_DIR": str(tmp_path), "DS_NAME": "sig",
           "ANTINEX_EVE_FILE": str(tmp_path / "alerts" / "eve.json")}
    proc = subprocess.Popen([sys.executable, "-m", "antinex.pipeline.subscriber"], env=env)
    with PacketPublisher(url) as pub:
        for pkt in packets(12):
            pub.publish_packet(pkt)
    deadline = time.time() + 30
    while len(read_rows(tmp_path)) < 12 and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    first = sorted(tmp_path.glob("sig-*.csv"))
    assert len(read_rows(tmp_path)) == 12
    again = Subscriber(url, tmp_path, "sig")
    with PacketPublisher(url) as pub:
        pub.publish_packet(packets(1)[0])
    again.run(idle_timeout=1.0)
    assert sorted(tmp_path.glob("sig-*.csv"))[: len(first)] == first  # old files untouched, new file added
    assert len(read_rows(tmp_path)) == 13


@pytest.mark.root
def test_capture_agent_on_loopback_end_to_end(redis_db, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root for raw capture")
    url = redis_db("pipeline")
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "FORWARD_BROKER_URL": url, "CAP_DEVICE": "lo"}
    agent = subprocess.Popen([sys.executable, "-m", "antinex.pipeline.capture", "tcp", "-i", "lo",
                              "-f", f"tcp port {port}", "--count", "6"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)  # the agent opens its socket
        deadline = time.time() + 30
        while agent.poll() is None and time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            except OSError:
                pass
            time.sleep(0.2)
        out, err = agent.communicate(timeout=20)
        assert agent.returncode == 0, err
    finally:
        if agent.poll() is None:
            agent.kill()
        server.shutdown()
    Subscriber(url, tmp_path, "cap").run(idle_timeout=1.5)
    df = read_rows(tmp_path)
    assert len(df) == 6
    assert set(df["tcp_dport"]).union(df["tcp_sport"]) >= {port}
    assert (df["ip_src"] == "127.0.0.1").all()


@pytest.mark.root
def test_capture_agent_keeps_every_packet_once(redis_db, tmp_path):
    """2,000 datagrams at about 2,000/s on lo: every one captured once (loopback's echo dropped), and
    SIGTERM flushes the agent's last batch."""
    import socket

    if os.geteuid() != 0:
        pytest.skip("needs root for raw capture")
    url = redis_db("pipeline")
    port = free_port()
    agent = subprocess.Popen([sys.executable, "-m", "antinex.pipeline.capture", "udp", "-i", "lo", "-f", f"udp port {port}"],
                             env={**os.environ, "FORWARD_BROKER_URL": url},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # scapy's import and the socket
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        started = time.perf_counter()
        for i in range(2000):
            while time.perf_counter() < started + i / 2000:
                pass
            sender.sendto(b"GET /item/%d HTTP/1.1\r\nHost: lab\r\n\r\n" % i, ("127.0.0.1", port))
        time.sleep(2.0)
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    assert "published 2000 packets; the kernel dropped 0 frames" in out, out + err
    Subscriber(url, tmp_path, "udp").run(idle_timeout=1.5)
    df = read_rows(tmp_path)
    assert len(df) == 2000 and (df["udp_dport"] == port).all()
    loads = df["raw_load"].map(lambda h: bytes.fromhex(h).decode())
    assert sorted(int(s.split()[1].rsplit("/", 1)[1]) for s in loads) == list(range(2000))
