"""Bidirectional TCP flows (5-tuple) with their statistics, streams and requests.

A :class:`Flow` is one TCP connection seen from the capture: who opened it
(the client), packet and byte counts per direction, inter-arrival
statistics, TCP flags, advertised windows (zero and small windows are how
a slow reader holds a server), the two reassembled byte streams, the HTTP
requests the client sent (with their timing) and the statuses the server
answered. :meth:`Flow.snapshot` is its feature row at any moment: final
when the flow ends, in flight while it runs.

Bytes are counted at the IP layer (IP total length; IPv6 payload length
plus its 40-byte header), so a capture of a tunnel or of a different link
gives the same figures; nfstream's ``accounting_mode=1`` counts the same
way, and ``tests/pipeline/test_flows.py`` checks our statistics against it
on the same capture.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from antinex.pipeline.http_message import HttpRequest
from antinex.pipeline.http_stream import RequestStream, ResponseStream
from antinex.pipeline.tcp_reassembly import HalfStream

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FLAG_NAMES = (("syn", SYN), ("fin", FIN), ("rst", RST), ("psh", PSH), ("ack", ACK), ("urg", URG), ("ece", ECE),
              ("cwr", CWR))
# ports a server listens on: decide who the client is when the capture missed the handshake
SERVER_PORTS = frozenset({80, 443, 8000, 8008, 8010, 8080, 8443, 8888, 5000, 3000})


def flow_id(client: tuple[str, int], server: tuple[str, int], first_ts: float) -> int:
    """A stable 51-bit id (exact in a JSON double) from the endpoints and the first packet's time:
    the same packets give the same id offline and live."""
    text = f"{client[0]}|{client[1]}|{server[0]}|{server[1]}|tcp|{first_ts:.6f}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") & ((1 << 51) - 1)


class Stats:
    """Count, mean, sample standard deviation, min and max of a stream of numbers (Welford)."""

    __slots__ = ("n", "mean", "_m2", "min", "max")

    def __init__(self) -> None:
        self.n, self.mean, self._m2 = 0, 0.0, 0.0
        self.min = self.max = None

    def add(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self._m2 += d * (x - self.mean)
        self.min = x if self.min is None or x < self.min else self.min
        self.max = x if self.max is None or x > self.max else self.max

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / (self.n - 1)) if self.n > 1 else 0.0

    def row(self, prefix: str) -> dict:
        return {f"{prefix}_min": self.min or 0.0, f"{prefix}_mean": self.mean, f"{prefix}_std": self.std,
                f"{prefix}_max": self.max or 0.0}


@dataclass
class Direction:
    """What one side of a flow sent."""

    packets: int = 0
    bytes: int = 0  # IP layer
    payload: int = 0
    first: float | None = None
    last: float | None = None
    iat: Stats = field(default_factory=Stats)
    flags: dict = field(default_factory=lambda: dict.fromkeys((n for n, _ in FLAG_NAMES), 0))
    wscale: int | None = None  # the window scale this side offered in its SYN
    zero_windows: int = 0  # packets advertising a zero window (not RST)
    min_window: int | None = None  # smallest effective window advertised after the handshake
    stream: HalfStream = field(default_factory=HalfStream)

    def count(self, ts: float, size: int, payload: int, flags: int) -> None:
        if self.last is not None:
            self.iat.add(max(0.0, ts - self.last))
        self.first = ts if self.first is None else self.first
        self.last = ts
        self.packets += 1
        self.bytes += size
        self.payload += payload
        for name, bit in FLAG_NAMES:
            if flags & bit:
                self.flags[name] += 1


class Flow:
    """One TCP connection: statistics, reassembled streams, requests and answers."""

    def __init__(self, client: tuple[str, int], server: tuple[str, int], ts: float, handshake: bool):
        self.client, self.server = client, server
        self.id = flow_id(client, server, ts)
        self.first = self.last = ts
        self.handshake = handshake  # the capture saw the SYN: windows are scaled right
        self.up, self.down = Direction(), Direction()  # client→server, server→client
        self.all_iat = Stats()
        self.requests_in = RequestStream()
        self.responses_in = ResponseStream()
        self.awaiting: list[HttpRequest] = []  # requests whose answer has not come (in order)
        self._head_only: list[bool] = []
        self._early: list[tuple[int, float]] = []  # answers that came before their request was complete
        self.requests = 0
        self.responses = 0
        self.statuses: dict[int, int] = {}
        self.head_seconds_max = 0.0  # the slowest complete request head (first byte → blank line)
        self.body_seconds_max = 0.0  # the slowest complete body (head → last byte)
        self.fin = {"up": False, "down": False}
        self.rst = False
        self.ended: float | None = None  # when both FINs or a RST were seen
        self._retransmitted_before = 0
        self.last_request: HttpRequest | None = None
        self.flagged: set[str] = set()  # verdict names already given to this flow (alerts once per flow)

    # -- packets ----------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.ended is not None

    def side(self, src: tuple[str, int]) -> str:
        return "up" if src == self.client else "down"

    def packet(self, ts: float, src: tuple[str, int], seq: int, flags: int, window: int, wscale,
               payload: bytes, size: int) -> tuple[list[HttpRequest], list[tuple[int, float, HttpRequest | None]]]:
        """Count one packet; returns the requests it completed and the answers it carried."""
        side = self.side(src)
        d = self.up if side == "up" else self.down
        if self.up.packets or self.down.packets:  # not the flow's first packet
            self.all_iat.add(max(0.0, ts - self.last))
        self.last = max(self.last, ts)
        d.count(ts, size, len(payload), flags)
        if flags & SYN:
            if wscale is not None:
                d.wscale = int(wscale)
            d.stream.syn(seq)
        elif not flags & RST:
            self._window(d, window)
        requests: list[HttpRequest] = []
        answers: list[tuple[int, float, HttpRequest | None]] = []
        for chunk in d.stream.add(seq, payload, ts) if payload else ():
            if side == "up":
                requests += self._requests(chunk.data, chunk.ts, chunk.gap)
            else:
                answers += self._answers(chunk.data, chunk.ts, chunk.gap)
        if flags & FIN:
            self.fin[side] = True
            d.stream.fin_seen = True
        if flags & RST:
            self.rst = True
        if self.ended is None and (self.rst or (self.fin["up"] and self.fin["down"])):
            self.ended = ts
        return requests, answers

    def _window(self, d: Direction, window: int) -> None:
        if window == 0:
            d.zero_windows += 1
        both = self.up.wscale is not None and self.down.wscale is not None
        effective = window << d.wscale if both else window
        if self.handshake and (d.min_window is None or effective < d.min_window):
            d.min_window = effective

    def _requests(self, data: bytes, ts: float, gap: bool) -> list[HttpRequest]:
        out = self.requests_in.feed(data, ts, gap)
        for req in out:
            self._adopt(req)
        return out

    def _adopt(self, req: HttpRequest) -> None:
        req.src_ip, req.src_port = self.client
        req.dst_ip, req.dst_port = self.server
        req.flow_id = self.id
        # retransmissions since the previous request ended: the segments seen again while this one travelled
        req.retransmitted = self.up.stream.retransmitted - self._retransmitted_before
        self._retransmitted_before = self.up.stream.retransmitted
        self.requests += 1
        self.last_request = req
        if req.head_complete and req.ts_head is not None:
            self.head_seconds_max = max(self.head_seconds_max, req.ts_head - req.ts)
        if req.complete and req.ts_end is not None and req.ts_head is not None:
            self.body_seconds_max = max(self.body_seconds_max, req.ts_end - req.ts_head)
        if req.head_complete:
            if self._early:  # answered before the request ended (a server refusing a body early)
                req.response_status, req.response_ts = self._early.pop(0)
                return
            self.awaiting.append(req)
            self._head_only.append(req.method == "HEAD")

    def _answers(self, data: bytes, ts: float, gap: bool) -> list[tuple[int, float, HttpRequest | None]]:
        out = []
        for status, when in self.responses_in.feed(data, ts, self._head_only, gap):
            req = self.awaiting.pop(0) if self.awaiting else None
            if req is not None:
                req.response_status, req.response_ts = status, when
            elif self.requests_in.in_flight() is not None and len(self._early) < 16:
                self._early.append((status, when))
            self.responses += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            out.append((status, when, req))
        return out

    def close(self, ts: float) -> list[HttpRequest]:
        """The flow is over (ended, idle or end of input): what waits behind holes, and a request cut short."""
        requests: list[HttpRequest] = []
        for chunk in self.up.stream.flush():
            requests += self._requests(chunk.data, chunk.ts, chunk.gap)
        for chunk in self.down.stream.flush():
            self._answers(chunk.data, chunk.ts, chunk.gap)
        for req in self.requests_in.close(ts):
            self._adopt(req)
            requests.append(req)
        return requests

    # -- features -----------------------------------------------------------------
    def in_flight(self):
        return self.requests_in.in_flight()

    def snapshot(self, now: float | None = None) -> dict:
        """The flow's feature row at ``now`` (default: its last packet)."""
        now = self.last if now is None else max(now, self.last)
        row = {"flow_id": self.id, "src_ip": self.client[0], "src_port": self.client[1],
               "dest_ip": self.server[0], "dest_port": self.server[1], "proto": "TCP",
               "flow_start": self.first, "flow_last": self.last,
               "flow_duration": self.last - self.first, "flow_age": now - self.first,
               "flow_idle": now - self.last, "flow_handshake": int(self.handshake),
               "flow_ended": int(self.closed), "flow_rst": int(self.rst)}
        for name, d in (("up", self.up), ("down", self.down)):
            row.update({f"{name}_packets": d.packets, f"{name}_bytes": d.bytes, f"{name}_payload": d.payload,
                        f"{name}_zero_windows": d.zero_windows,
                        f"{name}_min_window": -1 if d.min_window is None else d.min_window,
                        f"{name}_retransmitted": d.stream.retransmitted, f"{name}_out_of_order": d.stream.out_of_order,
                        f"{name}_overlaps": d.stream.overlaps, f"{name}_gaps": d.stream.gaps})
            row.update(d.iat.row(f"{name}_iat"))
            row.update({f"{name}_{flag}": n for flag, n in d.flags.items()})
        row.update(self.all_iat.row("iat"))
        fl = self.in_flight()
        head_age = body_age = 0.0
        if fl is not None:
            if not fl.head_complete:
                head_age = now - fl.ts
            else:
                body_age = now - (fl.ts_head or fl.ts)
        row.update({"http_requests": self.requests, "http_responses": self.responses,
                    "http_4xx": sum(n for s, n in self.statuses.items() if 400 <= s < 500),
                    "http_5xx": sum(n for s, n in self.statuses.items() if s >= 500),
                    "head_seconds_max": self.head_seconds_max, "body_seconds_max": self.body_seconds_max,
                    "inflight_head_age": head_age, "inflight_body_age": body_age,
                    "inflight_bytes": fl.received if fl else 0,
                    "inflight_body_expected": (fl.body_expected if fl and fl.body_expected is not None else -1)})
        return row
