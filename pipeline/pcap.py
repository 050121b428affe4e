"""Offline pcap ingest (no root): flatten a capture file to CSV, or replay it
into the NEW_PACKETS queue through the same path as a live capture.

    antinex-pcap to-csv capture.pcap -o rows.csv [--mode default|v1]
    antinex-pcap replay capture.pcap [--broker URL]

to-csv creates the output file's directory when it is missing. A missing,
unreadable or non-capture input file, or an output that cannot be written,
is one error line and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from antinex.pipeline.flatten import MODES, packet_to_row, rows_to_frame


def _capture_error(path: str | Path, exc: Exception) -> ValueError:
    """One readable line for an input that is not a capture file we can read."""
    if isinstance(exc, FileNotFoundError):
        return ValueError(f"no such capture file: {path}")
    if isinstance(exc, IsADirectoryError):
        return ValueError(f"{path} is a directory, not a capture file")
    if isinstance(exc, OSError):
        return ValueError(f"cannot read {path}: {exc.strerror or exc}")
    return ValueError(f"{path} is not a pcap or pcapng capture file ({exc})")


def check_capture(path: str | Path) -> None:
    """Raise ValueError unless ``path`` opens as a pcap/pcapng file (its header is read, nothing else)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapReader

    try:
        RawPcapReader(str(path)).close()
    except (OSError, Scapy_Exception) as exc:
        raise _capture_error(path, exc) from None


def read_packets(path: str | Path) -> Iterator:
    """Packets of a pcap/pcapng file, streamed (never the whole file in memory)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import PcapReader

    try:
        reader = PcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        raise _capture_error(path, exc) from None
    with reader:
        yield from reader


def prepare_output(out: str | Path) -> Path:
    """``out`` ready to write: its directory created; ValueError when it cannot be a file."""
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory (name a CSV file)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a parent is a regular file, or no permission
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a directory" if blocker else exc.strerror or str(exc)
        raise ValueError(f"cannot create the directory for {out}: {reason}") from None
    return path


def pcap_rows(path: str | Path, *, mode: str = "default") -> list[dict]:
    """Flat rows (without idx) of every packet that has an Ethernet layer.

    The default mode uses the struct fast path (pipeline.fastparse); v1 mode
    reproduces the original through scapy.
    """
    from scapy.layers.l2 import Ether

    if mode == "default":
        from antinex.pipeline.fastparse import frames_to_rows, read_frames

        return list(frames_to_rows(read_frames(path)))
    rows = []
    for pkt in read_packets(path):
        if Ether not in pkt:
            continue  # the original skipped packets without an Ethernet layer
        rows.append(packet_to_row(pkt, mode=mode))
    return rows


def pcap_to_csv(path: str | Path, out: str | Path, *, mode: str = "default") -> int:
    """Write the flattened rows of a capture to ``out`` (its directory created); returns the row count.

    The input and the output are checked before the capture is parsed, so a
    wrong path fails at once, not after a long read.
    """
    check_capture(path)
    target = prepare_output(out)
    df = rows_to_frame(pcap_rows(path, mode=mode), mode=mode)
    try:
        df.to_csv(target, index=False)
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(df)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-pcap", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("to-csv", help="flatten a capture file to CSV")
    c.add_argument("file", help="pcap or pcapng capture file")
    c.add_argument("-o", "--out", required=True, help="CSV file to write (its directory is created if missing)")
    c.add_argument("--mode", choices=MODES, default="default")
    r = sub.add_parser("replay", help="publish a capture file's packets to NEW_PACKETS")
    r.add_argument("file", help="pcap or pcapng capture file")
    r.add_argument("--broker", default=None, help="FORWARD_BROKER_URL (default redis db 15)")
    r.add_argument("--source", default="pcap-replay")
    args = ap.parse_args(argv)
    try:
        if args.command == "to-csv":
            n = pcap_to_csv(args.file, args.out, mode=args.mode)
            print(f"wrote {n} rows to {args.out}")
        else:
            from antinex.pipeline.publisher import PacketPublisher

            check_capture(args.file)  # before connecting: a wrong path is not a broker problem
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
