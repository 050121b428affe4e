"""Flatten known packets built with scapy, in default and v1 mode."""
from __future__ import annotations

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Padding, Raw

from antinex.pipeline import columns as C
from antinex.pipeline.flatten import packet_to_message, packet_to_row, rows_to_frame


def built(pkt):
    return Ether(bytes(pkt))  # dissect from the wire, as a capture would


def test_tcp_default_has_correct_values():
    pkt = built(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                IP(src="10.9.0.1", dst="10.9.0.2", ttl=61, id=777) /
                TCP(sport=40000, dport=8080, seq=123456789, ack=42, flags="PA", window=512,
                    options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""),
                             ("Timestamp", (1000, 2000))]) /
                Raw(b"GET /?q=1' OR '1'='1 HTTP/1.1\r\n\r\n"))
    row = packet_to_row(pkt)
    assert row["ip_len"] == len(bytes(pkt)) - 14
    assert row["ip_ttl"] == 61 and row["ip_id"] == 777 and row["ip_proto"] == 6
    assert row["tcp_seq"] == 123456789 and row["tcp_ack"] == 42 and row["tcp_window"] == 512
    assert row["tcp_flags"] == 0x18
    assert row["tcp_fields_options.MSS"] == 1460
    assert row["tcp_fields_options.WScale"] == 7
    assert row["tcp_fields_options.Timestamp"] == 1000
    assert row["tcp_fields_options.SAckOK"] == 1
    assert bytes.fromhex(row["raw_load"]).startswith(b"GET /?q=1'")
    assert row["raw_len"] == 33
    assert row["eth_src"] == "02:00:00:00:00:01"
    assert set(row) <= set(C.DEFAULT_COLUMNS)


def test_tcp_v1_reproduces_the_stale_key_bug():
    pkt = built(Ether() / IP(src="127.0.0.1", dst="127.0.0.1", ttl=64) / TCP(sport=8080, dport=5000, seq=99))
    data = packet_to_message(pkt, mode="v1")["data"]
    # ip.len holds the last truthy of (len, id, flags, frag, ttl, proto, chksum): the checksum
    assert data["ip"]["len"] == pkt[IP].chksum
    assert "ttl" not in data["ip"] and "proto" not in data["ip"]
    # tcp.seq holds the TCP checksum (the last truthy of seq, ack, dataofs, ..., chksum)
    assert data["tcp"]["seq"] == pkt[TCP].chksum
    assert "ack" not in data["tcp"] and "window" not in data["tcp"]


def test_udp_dns_default_and_v1():
    pkt = built(Ether() / IP(src="10.0.0.1", dst="10.0.0.53") / UDP(sport=5353, dport=53) /
                DNS(id=4242, rd=1, qd=DNSQR(qname="antinex.example", qtype="A")))
    row = packet_to_row(pkt)
    assert row["udp_len"] == len(pkt[UDP])
    assert row["udp_dport"] == 53
    assert row["dns_id"] == 4242 and row["dns_rd"] == 1 and row["dns_qdcount"] == 1
    assert row["dns_qd.qname"].startswith("antinex.example")
    assert row["dns_qd.qtype"] == 1
    v1 = packet_to_message(pkt, mode="v1")["data"]
    # the original's DNS fields pass crashed: only class defaults survive
    assert v1["dns"]["default_id"] == 0
    assert v1["udp"]["len"] == pkt[UDP].chksum


def test_dns_answer():
    pkt = built(Ether() / IP() / UDP(sport=53, dport=5000) /
                DNS(id=1, qr=1, qd=DNSQR(qname="a.example"), an=DNSRR(rrname="a.example", rdata="10.1.1.1")))
    row = packet_to_row(pkt)
    assert row["dns_qr"] == 1 and row["dns_ancount"] == 1


def test_icmp_arp_ipv6_padding():
    icmp = packet_to_row(built(Ether() / IP(dst="10.0.0.9") / ICMP(type=8, id=5, seq=9)))
    assert (icmp["icmp_type"], icmp["icmp_code"], icmp["icmp_id"], icmp["icmp_seq"]) == (8, 0, 5, 9)
    arp = packet_to_row(built(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2")))
    assert arp["arp_op"] == 1 and arp["arp_pdst"] == "10.0.0.2" and arp["eth_type"] == 0x806
    six = packet_to_row(built(Ether() / IPv6(src="fd00::1", dst="fd00::2", hlim=33) / TCP(dport=443)))
    assert six["ipv6_hlim"] == 33 and six["ipv6_nh"] == 6 and six["tcp_dport"] == 443
    padded = packet_to_row(built(Ether() / IP() / TCP() / Padding(b"\x00" * 6)))
    assert padded["pad_load"] == "000000000000" and padded["pad_len"] == 6


def test_v1_raw_load_is_hex_of_text():
    pkt = built(Ether() / IP() / TCP() / Raw(b"HTTP/1.1 200 OK\r\n"))
    v1 = packet_to_message(pkt, mode="v1")["data"]
    assert v1["raw"]["load"] == "485454502f312e3120323030204f4b0d0a"


def test_frames_have_idx_first_and_mode_columns():
    pkts = [built(Ether() / IP() / TCP(dport=80)), built(Ether() / IP() / UDP(dport=53))]
    df = rows_to_frame([packet_to_row(p) for p in pkts])
    assert list(df.columns[:2]) == ["idx", "eth_type"] and list(df["idx"]) == [0, 1]
    v1 = rows_to_frame([packet_to_row(p, mode="v1") for p in pkts], mode="v1")
    assert v1.columns[0] == "idx" and list(v1.columns[1:]) == sorted(v1.columns[1:])
    assert set(C.PLACEHOLDER_IDS) <= set(v1.columns)


def test_unknown_mode():
    with pytest.raises(ValueError):
        packet_to_message(Ether(), mode="v2")
