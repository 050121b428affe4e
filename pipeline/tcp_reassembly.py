"""One direction of a TCP connection put back in order: segments in, contiguous bytes out.

:class:`HalfStream` takes the segments one side sent, in whatever order
the capture saw them, and hands back the bytes a receiving application
would read, each piece with the capture time at which it became readable
(the segment that filled the last hole). It is what a server's TCP stack
does, with counters for what an analyst wants to know:

* retransmissions: a segment whose bytes were all delivered already is
  counted once and its bytes are never delivered twice;
* overlaps: a segment that repeats part of what arrived before keeps the
  bytes that arrived first (the BSD/Linux policy; Suricata's default) and
  delivers only its new tail;
* out of order: a segment ahead of a hole waits (bounded) until the hole
  is filled;
* gaps: bytes the capture never saw (a dropped packet) cannot be waited
  for forever: past :data:`MAX_PENDING_BYTES` waiting, or when the stream
  ends, the hole is skipped and the next piece says so (``gap``), so a
  parser resynchronises instead of gluing unrelated bytes together;
* keep-alive probes (one byte or none at the sequence number before the
  next expected one) are counted apart, not as retransmissions.

Sequence numbers wrap at 2**32; offsets here are positions in the stream
(0 = the first byte after the SYN, or the first byte seen when the capture
began mid-connection) and never wrap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MOD = 1 << 32
HALF = 1 << 31
MAX_PENDING_BYTES = 1 << 20  # waiting out-of-order bytes per direction before a hole is skipped
MAX_PENDING_SEGMENTS = 2048


@dataclass
class Chunk:
    """Bytes that became readable at ``ts``; ``gap`` when bytes before them were never seen."""

    data: bytes
    ts: float
    gap: bool = False


@dataclass
class HalfStream:
    """The reassembly state of one direction of one connection."""

    next_seq: int | None = None  # the sequence number of the next byte to deliver
    offset: int = 0  # stream position of next_seq: bytes delivered (and skipped) so far
    pending: dict[int, tuple[bytes, float]] = field(default_factory=dict)  # offset -> (data, ts)
    pending_bytes: int = 0
    segments: int = 0  # segments with payload
    retransmitted: int = 0
    overlaps: int = 0
    out_of_order: int = 0
    keepalives: int = 0
    gaps: int = 0
    gap_bytes: int = 0
    syn_seen: bool = False
    fin_seen: bool = False

    def syn(self, seq: int) -> None:
        """A SYN from this side: data starts one past its sequence number."""
        if not self.syn_seen and self.next_seq is None:
            self.next_seq = (seq + 1) % MOD
        self.syn_seen = True

    def _position(self, seq: int) -> int:
        diff = (seq - self.next_seq) % MOD
        return self.offset + (diff - MOD if diff >= HALF else diff)

    def add(self, seq: int, data: bytes, ts: float) -> list[Chunk]:
        """The bytes this segment makes readable (none, or several when it fills a hole)."""
        if not data:
            return []
        self.segments += 1
        if self.next_seq is None:  # the capture began mid-connection
            self.next_seq = seq % MOD
        start = self._position(seq)
        end = start + len(data)
        if end <= self.offset:
            if end == self.offset and len(data) <= 1:
                self.keepalives += 1  # a keep-alive probe: the byte before the next one
            else:
                self.retransmitted += 1
            self.segments -= 1  # seen again: the segment was counted when it first came
            return []
        if start < self.offset:  # the head was delivered already: keep what came first
            self.overlaps += 1
            data, start = data[self.offset - start:], self.offset
        if start > self.offset:
            self.out_of_order += 1
            self._hold(start, data, ts)
            if self.pending_bytes > MAX_PENDING_BYTES or len(self.pending) > MAX_PENDING_SEGMENTS:
                return self._skip_hole()
            return []
        out = [Chunk(data, ts)]
        self._advance(len(data))
        out += self._drain(ts)
        return out

    def _hold(self, start: int, data: bytes, ts: float) -> None:
        held = self.pending.get(start)
        if held is not None:
            if len(held[0]) >= len(data):
                self.retransmitted += 1
                self.segments -= 1
                return
            self.overlaps += 1
            self.pending_bytes -= len(held[0])
        self.pending[start] = (data, ts)
        self.pending_bytes += len(data)

    def _advance(self, n: int) -> None:
        self.offset += n
        self.next_seq = (self.next_seq + n) % MOD

    def _drain(self, ts: float) -> list[Chunk]:
        """Deliver held segments that now continue the stream (their bytes readable at ``ts``)."""
        out: list[Chunk] = []
        while self.pending:
            start = min(self.pending)
            if start > self.offset:
                break
            data, _ = self.pending.pop(start)
            self.pending_bytes -= len(data)
            end = start + len(data)
            if end <= self.offset:
                self.overlaps += 1  # wholly covered by bytes delivered before
                continue
            if start < self.offset:
                self.overlaps += 1
                data = data[self.offset - start:]
            out.append(Chunk(data, ts))
            self._advance(len(data))
        return out

    def _skip_hole(self) -> list[Chunk]:
        start = min(self.pending)
        self.gaps += 1
        self.gap_bytes += start - self.offset
        self._advance(start - self.offset)
        data, ts = self.pending.pop(start)
        self.pending_bytes -= len(data)
        first = Chunk(data, ts, gap=True)
        self._advance(len(data))
        return [first] + self._drain(ts)

    def flush(self) -> list[Chunk]:
        """At the end of the stream: what waits behind holes, each hole skipped."""
        out: list[Chunk] = []
        while self.pending:
            out += self._skip_hole()
        return out
