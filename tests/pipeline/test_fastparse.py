"""The struct fast path gives the scapy path's rows, cell for cell, on a mixed capture."""
from __future__ import annotations

import random

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from antinex.pipeline.fastparse import Fallback, frame_to_row, read_frames
from antinex.pipeline.flatten import packet_to_row
from antinex.pipeline.pcap import main as pcap_main, pcap_rows


def mixed(n: int = 300, seed: int = 5) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 7
        eth = Ether(src="02:00:00:00:00:%02x" % (i % 250), dst="02:00:00:00:01:01")
        if kind == 0:
            p = eth / IP(src="10.2.0.1", dst="10.2.0.2", ttl=rng.randint(1, 255), id=i) / TCP(
                sport=rng.randint(1024, 65535), dport=8080, seq=rng.getrandbits(32), flags="PA", window=rng.randint(0, 65535),
                options=[("MSS", 1460), ("NOP", None), ("NOP", None), ("Timestamp", (i, 0)), ("WScale", 7)]) / \
                Raw(b"GET /search?q=%d' OR 1=1 HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        elif kind == 1:
            p = eth / IP() / TCP(flags="S", options=[("SAckOK", b""), ("MSS", 536)])
        elif kind == 2:
            p = eth / IP(src="10.2.0.5", dst="10.2.0.53") / UDP(sport=rng.randint(1024, 65535), dport=53) / \
                DNS(id=i, rd=1, qd=DNSQR(qname=f"host{i}.example", qtype="AAAA"))
        elif kind == 3:
            p = eth / IP(dst="10.2.0.9") / ICMP(type=8, id=i, seq=i) / Raw(b"ping" * 4)
        elif kind == 4:
            p = eth / ARP(op=2, psrc="10.2.0.1", pdst="10.2.0.2", hwsrc="02:00:00:00:00:01")
        elif kind == 5:
            p = eth / IPv6(src="fd00::1", dst="fd00::2", hlim=9) / TCP(dport=443, flags="A") / Raw(b"\x16\x03\x01" * 5)
        else:
            p = eth / IP() / UDP(sport=5000, dport=6000) / Raw(bytes(rng.getrandbits(8) for _ in range(30)))
        out.append(Ether(bytes(p)))
    return out


def test_fast_path_equals_scapy_cell_for_cell(tmp_path):
    pkts = mixed()
    path = tmp_path / "mixed.pcap"
    wrpcap(str(path), pkts)
    fast = [frame_to_row(f) for f in read_frames(path)]
    slow = [packet_to_row(p) for p in pkts]
    assert len(fast) == len(slow) == 300
    for i, (a, b) in enumerate(zip(fast, slow)):
        assert a == b, (i, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})


def test_fallback_and_cli(tmp_path):
    error = Ether(bytes(Ether() / IP(dst="10.0.0.1") / ICMP(type=3, code=1) / IP(dst="10.0.0.2") / TCP()))
    try:
        frame_to_row(bytes(error))
        raise AssertionError("ICMP errors must fall back to scapy")
    except Fallback:
        pass
    path = tmp_path / "m.pcap"
    wrpcap(str(path), mixed(20) + [error])
    rows = pcap_rows(path)
    assert len(rows) == 21 and rows[-1]["icmp_type"] == 3
    out = tmp_path / "m.csv"
    assert pcap_main(["to-csv", str(path), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("idx,eth_type")
    assert pcap_main(["to-csv", str(tmp_path / "absent.pcap"), "-o", str(out)]) == 2


def test_raw_capture_messages_flatten_to_the_scapy_rows():
    """The agent's raw path (fast row → message) gives the subscriber the rows scapy's messages give."""
    from antinex.pipeline.flatten import flatten_message, packet_to_message, row_to_message

    error = Ether(bytes(Ether() / IP(dst="10.0.0.1") / ICMP(type=3, code=1) / IP(dst="10.0.0.2") / TCP()))
    pkts = mixed(140) + [error]
    for i, pkt in enumerate(pkts):
        expected = flatten_message(packet_to_message(pkt)["data"])
        try:
            message = row_to_message(frame_to_row(bytes(pkt)), source="agent")
        except Fallback:
            assert pkt is error
            continue
        assert message["source"] == "agent" and set(message) == {"data", "created", "source", "ts"}
        assert flatten_message(message["data"]) == expected, i
    dns = row_to_message(frame_to_row(bytes(pkts[2])))["data"]["dns"]
    assert isinstance(dns["qd"], dict) and dns["qd"]["qname"]  # dotted columns come back nested, as scapy's
