"""``antinex-capture``: capture agents (root). Each packet becomes a message on NEW_PACKETS.

    antinex-capture tcp|udp|arp|icmp|ssh|telnet [-i IFACE] [-f FILTER] [--count N]

The interface is honoured (the original read CAP_DEVICE and ignored it),
and the broker's own port is always excluded so the agent never captures
the traffic it forwards.
"""
from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlparse

from pipeline import settings

FILTERS = {
    "tcp": "tcp and (port 80 or port 443 or port 8010 or port 8443 or port 8080)",
    "udp": "udp",
    "arp": "arp",
    "icmp": "icmp",
    "ssh": "tcp and port 22",
    "telnet": "tcp and port 23",
}


def capture_filter(kind: str, custom: str | None, broker_url: str) -> str:
    """The BPF filter for an agent, with the broker's port excluded."""
    base = custom or os.environ.get("NETWORK_FILTER") or FILTERS[kind]
    port = urlparse(broker_url).port or 6379
    return f"({base}) and not port {port}"


def run(kind: str, iface: str | None, bpf: str | None, count: int = 0, mode: str = "default") -> int:
    """Capture and publish; returns the number of packets published."""
    from scapy.all import sniff

    from pipeline.publisher import PacketPublisher

    url = settings.broker_url()
    flt = capture_filter(kind, bpf, url)
    with PacketPublisher(url, mode=mode) as pub:
        source = settings.source_host()
        sniff(iface=iface or os.environ.get("CAP_DEVICE") or None, filter=flt, store=False, count=count,
              prn=lambda pkt: pub.publish_packet(pkt, source=source))
        return pub.published


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-capture", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=sorted(FILTERS))
    ap.add_argument("-i", "--iface", help="interface (CAP_DEVICE); default: scapy's choice")
    ap.add_argument("-f", "--filter", help="BPF filter (NETWORK_FILTER); the broker port is always excluded")
    ap.add_argument("--count", type=int, default=0, help="stop after N packets (0: never)")
    ap.add_argument("--mode", choices=("default", "v1"), default="default")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("antinex-capture: error: capturing packets needs root (or CAP_NET_RAW)", file=sys.stderr)
        return 2
    n = run(args.kind, args.iface, args.filter, args.count, args.mode)
    print(f"published {n} packets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
