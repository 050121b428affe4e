"""Crafted TCP conversations for the reassembly, flow and rule tests: real frames, chosen segments.

A :class:`Conversation` keeps both sides' sequence numbers, so a test says
what is sent (in which pieces, in which order, repeated or overlapping)
and gets the frames a capture would hold, as ``(ts, row)`` pairs through
the same struct fast path a capture file or a live agent uses.
"""
from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from antinex.pipeline.fastparse import frame_to_row


class Conversation:
    def __init__(self, client=("10.9.0.2", 40000), server=("10.9.0.1", 80), isn_c=1000, isn_s=5000,
                 window=502, wscale=7):
        self.client, self.server = client, server
        self.seq = {"c": isn_c, "s": isn_s}
        self.window, self.wscale = window, wscale
        self.packets: list[tuple[float, bytes]] = []  # (ts, frame)

    def _frame(self, side: str, flags: str, seq: int, payload: bytes = b"", window: int | None = None,
               options=None) -> bytes:
        src, dst = (self.client, self.server) if side == "c" else (self.server, self.client)
        other = "s" if side == "c" else "c"
        tcp = TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq % 2**32, ack=self.seq[other] % 2**32,
                  window=self.window if window is None else window, options=options or [])
        net = IPv6(src=src[0], dst=dst[0]) if ":" in src[0] else IP(src=src[0], dst=dst[0])
        pkt = Ether() / net / tcp
        if payload:
            pkt = pkt / Raw(payload)
        return bytes(pkt)

    def emit(self, ts: float, side: str, flags: str, seq: int, payload: bytes = b"", **kw) -> None:
        self.packets.append((ts, self._frame(side, flags, seq, payload, **kw)))

    def handshake(self, ts: float) -> None:
        self.emit(ts, "c", "S", self.seq["c"], options=[("MSS", 1460), ("WScale", self.wscale)])
        self.seq["c"] += 1
        self.emit(ts + 0.0001, "s", "SA", self.seq["s"], options=[("MSS", 1460), ("WScale", self.wscale)])
        self.seq["s"] += 1
        self.emit(ts + 0.0002, "c", "A", self.seq["c"])

    def send(self, ts: float, side: str, data: bytes, *, at: int | None = None, advance: bool = True,
             window: int | None = None) -> int:
        """Send ``data``; ``at`` an offset from the side's next sequence number (negative: resend)."""
        seq = self.seq[side] + (at or 0)
        self.emit(ts, side, "PA", seq, data, window=window)
        if advance:
            self.seq[side] += len(data)
        return seq

    def ack(self, ts: float, side: str, window: int | None = None) -> None:
        self.emit(ts, side, "A", self.seq[side], window=window)

    def close(self, ts: float) -> None:
        self.emit(ts, "c", "FA", self.seq["c"])
        self.seq["c"] += 1
        self.emit(ts + 0.0001, "s", "FA", self.seq["s"])
        self.seq["s"] += 1
        self.emit(ts + 0.0002, "c", "A", self.seq["c"])

    def rows(self) -> list[tuple[float, dict]]:
        return [(ts, frame_to_row(frame)) for ts, frame in self.packets]

    def scapy_packets(self) -> list:
        out = []
        for ts, frame in self.packets:
            pkt = Ether(frame)
            pkt.time = ts
            out.append(pkt)
        return out


def response(status: int = 200, body: bytes = b"ok", extra: bytes = b"") -> bytes:
    reason = {200: b"OK", 401: b"Unauthorized", 404: b"Not Found", 302: b"Found"}.get(status, b"X")
    return b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n%s" % (status, reason, len(body), extra, body)
