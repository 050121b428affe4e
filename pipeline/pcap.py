"""Offline pcap ingest (no root): flatten a capture file to CSV, or replay it
into the NEW_PACKETS queue through the same path as a live capture.

    antinex-pcap to-csv capture.pcap -o rows.csv [--mode default|v1]
    antinex-pcap replay capture.pcap [--broker URL]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from pipeline.flatten import MODES, packet_to_row, rows_to_frame


def read_packets(path: str | Path) -> Iterator:
    """Packets of a pcap/pcapng file, streamed (never the whole file in memory)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import PcapReader

    try:
        reader = PcapReader(str(path))
    except (FileNotFoundError, Scapy_Exception) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    with reader:
        yield from reader


def pcap_rows(path: str | Path, *, mode: str = "default") -> list[dict]:
    """Flat rows (without idx) of every packet that has an Ethernet layer.

    The default mode uses the struct fast path (pipeline.fastparse); v1 mode
    reproduces the original through scapy.
    """
    from scapy.layers.l2 import Ether

    if mode == "default":
        from pipeline.fastparse import frames_to_rows, read_frames

        return list(frames_to_rows(read_frames(path)))
    rows = []
    for pkt in read_packets(path):
        if Ether not in pkt:
            continue  # the original skipped packets without an Ethernet layer
        rows.append(packet_to_row(pkt, mode=mode))
    return rows


def pcap_to_csv(path: str | Path, out: str | Path, *, mode: str = "default") -> int:
    """Write the flattened rows of a capture to ``out``; returns the row count."""
    df = rows_to_frame(pcap_rows(path, mode=mode), mode=mode)
    df.to_csv(out, index=False)
    return len(df)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-pcap", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("to-csv", help="flatten a capture file to CSV")
    c.add_argument("file")
    c.add_argument("-o", "--out", required=True)
    c.add_argument("--mode", choices=MODES, default="default")
    r = sub.add_parser("replay", help="publish a capture file's packets to NEW_PACKETS")
    r.add_argument("file")
    r.add_argument("--broker", default=None, help="FORWARD_BROKER_URL (default redis db 15)")
    r.add_argument("--source", default="pcap-replay")
    args = ap.parse_args(argv)
    try:
        if args.command == "to-csv":
            n = pcap_to_csv(args.file, args.out, mode=args.mode)
            print(f"wrote {n} rows to {args.out}")
        else:
            from pipeline.publisher import PacketPublisher

            with PacketPublisher(args.broker) as pub:
                n = 0
                for pkt in read_packets(args.file):
                    n += pub.publish_packet(pkt, source=args.source)
            print(f"published {n} packets")
    except ValueError as exc:
        print(f"antinex-pcap: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
