"""Reading capture files (pcap, pcapng) as timed Ethernet frames, with clear refusals.

``timed_frames(path)`` yields ``(ts, frame)``: the packet's capture time in
seconds (rounded to the microsecond, the resolution the live capture agents
publish, so a file and its replay give the same times) and the raw Ethernet
frame. scapy's raw readers do the parsing; this module adds what a user
needs when a file is not what we can read:

* a missing file, a directory, or a file that is no capture: one line;
* a link type other than Ethernet (``tcpdump -i any`` writes Linux cooked
  captures, tunnels write raw IP): one line naming the link type and what
  to do;
* a file cut short (a capture killed mid-write, a partial copy): refused
  with the number of packets read before the cut, so nobody takes the
  verdicts of half a file for the whole.

Every refusal is a :class:`CaptureFileError` (a ``ValueError``).
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Iterator

ETHERNET = 1
# the link types people meet, named in the refusal (www.tcpdump.org/linktypes.html)
LINK_TYPES = {0: "BSD loopback", 101: "raw IP", 12: "raw IP", 14: "raw IP", 105: "IEEE 802.11",
              113: "Linux cooked (tcpdump -i any)", 127: "802.11 radiotap", 228: "raw IPv4", 229: "raw IPv6",
              276: "Linux cooked v2 (tcpdump -i any)"}
MAX_FRAME = 0xFFFF  # scapy's raw readers return at most this much of a record


class CaptureFileError(ValueError):
    """A capture file that cannot be read as a whole: the message says why, in one line."""


def describe_open_error(path: str | Path, exc: Exception) -> CaptureFileError:
    """One readable line for an input that is not a capture file we can open."""
    if isinstance(exc, FileNotFoundError):
        return CaptureFileError(f"no such capture file: {path}")
    if isinstance(exc, IsADirectoryError):
        return CaptureFileError(f"{path} is a directory, not a capture file")
    if isinstance(exc, OSError):
        return CaptureFileError(f"cannot read {path}: {exc.strerror or exc}")
    return CaptureFileError(f"{path} is not a pcap or pcapng capture file ({exc})")


def open_reader(path: str | Path):
    """scapy's raw reader for ``path`` (pcap or pcapng); CaptureFileError when it does not open."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapReader

    try:
        return RawPcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        raise describe_open_error(path, exc) from None


def check_capture(path: str | Path) -> None:
    """Raise CaptureFileError unless ``path`` opens as a pcap/pcapng file of Ethernet frames.

    Reads the file header and the first packet only: a wrong file fails
    before a long read, a connection or a model load.
    """
    reader = open_reader(path)
    with reader:
        linktype = getattr(reader, "linktype", None)
        if linktype is None:  # pcapng: the link type comes with each packet's interface
            try:
                _, meta = next(iter(reader))
                linktype = getattr(meta, "linktype", ETHERNET)
            except (StopIteration, EOFError):
                linktype = ETHERNET
    if linktype != ETHERNET:
        raise not_ethernet(path, linktype)


def not_ethernet(path: str | Path, linktype: int) -> CaptureFileError:
    name = LINK_TYPES.get(linktype, "not Ethernet")
    return CaptureFileError(
        f"{path} has link type {linktype} ({name}); AntiNex reads Ethernet captures only: capture on one "
        f"interface (tcpdump -i eth0 -w FILE), not on 'any'")


class _ScapyWarnings(logging.Handler):
    """Collects scapy's reader warnings: it reports a cut record as a warning and reads on."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _stamp(meta, reader) -> float:
    if hasattr(meta, "sec"):  # pcap: seconds + micro- or nanoseconds
        frac = meta.usec / (1e9 if getattr(reader, "nano", False) else 1e6)
        return round(meta.sec + frac, 6)
    ticks = (meta.tshigh << 32) | meta.tslow  # pcapng: ticks of tsresol per second
    return round(ticks / meta.tsresol, 6)


def timed_frames(path: str | Path, *, allow_truncated: bool = False) -> Iterator[tuple[float, bytes]]:
    """``(ts, frame)`` of every packet of an Ethernet pcap/pcapng file, in file order.

    Raises :class:`CaptureFileError` for a file we cannot read, a link type
    other than Ethernet (at its first packet) and, unless
    ``allow_truncated``, for a file cut short (after the packets before the
    cut were yielded: the caller decides whether those are worth anything).
    """
    reader = open_reader(path)
    linktype = getattr(reader, "linktype", None)  # pcap: one per file; pcapng: one per packet
    if linktype is not None and linktype != ETHERNET:
        reader.close()
        raise not_ethernet(path, linktype)
    scapy_log = logging.getLogger("scapy.runtime")
    warnings = _ScapyWarnings()
    # scapy's warnings about the file are ours to word (one line, at the end): collected, not printed
    saved = scapy_log.handlers[:], scapy_log.propagate
    scapy_log.handlers, scapy_log.propagate = [warnings], False
    n = 0
    consumed = 24  # pcap: the file header, then 16 bytes + the captured bytes per record
    try:
        with reader:
            for frame, meta in reader:
                kind = getattr(meta, "linktype", ETHERNET)
                if kind != ETHERNET:
                    raise not_ethernet(path, kind)
                caplen = getattr(meta, "caplen", None)
                if caplen is not None:
                    consumed += 16 + caplen
                    if len(frame) < min(caplen, MAX_FRAME):  # the file ends inside this record
                        if allow_truncated:
                            break
                        raise _truncated(path, n)
                n += 1
                yield _stamp(meta, reader), frame
            cut = any("truncated" in m or "too short" in m or "Invalid" in m for m in warnings.messages)
            if hasattr(reader, "nano") and isinstance(reader.f, io.BufferedReader):
                # a plain pcap file: a record header cut short ends scapy's loop without a word
                cut = cut or consumed < Path(path).stat().st_size
            if cut and not allow_truncated:
                raise _truncated(path, n)
    finally:
        scapy_log.handlers, scapy_log.propagate = saved


def _truncated(path: str | Path, packets: int) -> CaptureFileError:
    return CaptureFileError(f"{path} is truncated: it ends inside a packet record after {packets} complete "
                            f"packets (a capture stopped mid-write or a partial copy); capture again, or "
                            f"pass --allow-truncated to use the {packets} packets before the cut")
