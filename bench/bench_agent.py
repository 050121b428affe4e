"""Capture agent: how many packets it keeps at a steady rate on loopback (root).

Ours: ``antinex-capture`` (raw frames from the packet socket, the struct
fast path, a 64 MiB receive buffer). Baseline, same run, same packets:
the previous agent, scapy's ``sniff`` dissecting every packet before
publishing it (loopback echoes filtered out the same way, so both count
each packet once). Both publish to NEW_PACKETS on a scratch Redis database;
the figure is the share of sent packets the agent published.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from bench import ROOT

SNIFF_AGENT = """
import signal, sys
from scapy.all import sniff
from antinex.pipeline.publisher import PacketPublisher
def stop(*_):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, stop)
with PacketPublisher() as pub:
    try:
        sniff(iface="lo", filter=sys.argv[1], store=False, lfilter=lambda p: getattr(p, "direction", 0) != 4,
              prn=lambda p: pub.publish_packet(p))
    except KeyboardInterrupt:
        pass
print(f"published {pub.published} packets")
"""


def _published(cmd: list[str], port: int, rate: int, seconds: float, url: str) -> int:
    import redis

    redis.Redis.from_url(url).flushdb()
    agent = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "FORWARD_BROKER_URL": url},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4.0)  # scapy's import, the socket
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        total = int(rate * seconds)
        started = time.perf_counter()
        for i in range(total):
            while time.perf_counter() < started + i / rate:
                pass
            sender.sendto(b"GET /item/%d HTTP/1.1\r\nHost: bench\r\n\r\n" % i, ("127.0.0.1", port))
        time.sleep(3.0)  # let it drain the socket
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    for line in out.splitlines():
        if line.startswith("published "):
            return int(line.split()[1])
    raise RuntimeError(f"agent printed no count: {out}\n{err}")


def run(quick: bool = False) -> list[dict]:
    if os.geteuid() != 0:
        return []  # packet capture needs root
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import free_port, redis_url

    url = redis_url("bench")
    seconds = 1.5 if quick else 3.0
    rows = []
    for rate in (5_000, 20_000, 40_000):
        port = free_port()
        bpf = f"udp port {port}"
        ours = _published([sys.executable, "-m", "antinex.pipeline.capture", "udp", "-i", "lo", "-f", bpf], port, rate,
                          seconds, url)
        base = _published([sys.executable, "-c", SNIFF_AGENT, f"({bpf}) and not port 6379"], port, rate, seconds, url)
        sent = int(rate * seconds)
        rows.append({"name": f"capture agent at {rate:,} pkt/s: packets kept", "value": 100.0 * ours / sent,
                     "unit": "%", "baseline_name": "scapy sniff agent", "baseline_value": 100.0 * base / sent,
                     "ratio": ours / max(base, 1),
                     "notes": f"{sent:,} UDP datagrams on lo over {seconds:g} s, one agent at a time; "
                              f"ours {ours:,}, sniff {base:,}; ratio = packets kept vs sniff"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
