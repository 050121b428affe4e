"""The one feature pipeline, offline and live: (time, packet row) pairs in; requests, flows and verdicts out.

``antinex-pcap`` feeds an :class:`Analyzer` the rows of a capture file,
the subscriber the rows of the packet messages it consumes; both feed the
same object the same way (``feed(ts, row)``), so the same packets give the
same requests, flow features and verdicts (tested). What it does per
packet:

1. finds (or opens) the bidirectional TCP flow of the packet
   (:mod:`pipeline.flows`) and counts it;
2. reassembles both directions (:mod:`pipeline.tcp_reassembly`) and cuts
   the client's bytes into HTTP requests, the server's into answers
   (:mod:`pipeline.http_stream`);
3. updates the source's sliding window (:mod:`pipeline.source_windows`);
4. applies the timing and window rules (:mod:`pipeline.rules`) to the flow
   and its source.

Complete requests wait in :meth:`take_requests` for a request detector
(:mod:`pipeline.request_scoring`), batched, since a model call per request
would dominate; :meth:`judge` scores them into verdicts.

Time is packet time. Every ``sweep_every`` seconds of it, flows with a
request in flight are checked again (a slowloris connection sends almost
nothing, yet its verdict must come while it runs) and idle flows are
closed. When live traffic pauses, :meth:`tick` moves the clock on with the
wall clock, so the checks go on without packets.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, Iterable

from antinex.pipeline.flows import ACK, RST, SERVER_PORTS, SYN, Flow
from antinex.pipeline.http_message import HttpRequest
from antinex.pipeline.profile import Observer, Profile
from antinex.pipeline.rules import check_flow, check_source
from antinex.pipeline.source_windows import SourceWindows
from antinex.pipeline.verdicts import Verdict

IDLE_TIMEOUT = 120.0  # seconds without a packet before a flow is closed (nfstream's default too)
MAX_FLOWS = 500_000  # flows followed at once; past it the least recently active is closed (a SYN flood)
CLOSED_LINGER = 5.0  # a flow that ended keeps its late ACKs and retransmissions this long
SWEEP_EVERY = 1.0


def _value(row: dict, key: str):
    v = row.get(key)
    if v is None or v == "" or (v.__class__ is float and v != v):  # missing, or NaN from a CSV
        return None
    return v


def packet_fields(row: dict) -> tuple | None:
    """(src, sport, dst, dport, seq, flags, window, wscale, payload, ip_bytes) of a TCP row, else None."""
    sport = _value(row, "tcp_sport")
    if sport is None:
        return None
    src = row.get("ip_src")
    if src is not None and src == src:
        dst, size = row.get("ip_dst"), _value(row, "ip_len")
    else:
        src, dst = _value(row, "ipv6_src"), _value(row, "ipv6_dst")
        plen = _value(row, "ipv6_plen")
        size = None if plen is None else int(plen) + 40
    if src is None or dst is None:
        return None
    load = row.get("raw_load")
    payload = b""
    if load.__class__ is str and load:
        try:
            payload = bytes.fromhex(load)
        except ValueError:
            pass
    wscale = _value(row, "tcp_fields_options.WScale")
    return (str(src), int(sport), str(dst), int(_value(row, "tcp_dport") or 0), int(_value(row, "tcp_seq") or 0),
            int(_value(row, "tcp_flags") or 0), int(_value(row, "tcp_window") or 0),
            None if wscale is None else int(wscale), payload, int(size or 0))


def relevant(event: str, req: HttpRequest | None, status: int | None) -> bool:
    """Whether a source rule reads its window after this event (see rules.check_source)."""
    if event == "open":
        return True
    if event == "answer":
        return status in (401, 403, 404)
    return req is not None and req.method == "POST"


class Analyzer:
    """Flows, requests, source windows and rule verdicts from (time, packet row) pairs.

    ``profile`` None turns the rules off (fitting a profile, exporting
    features); ``observer`` (:class:`~pipeline.profile.Observer`) sees every
    request, flow end and source window. ``on_flow_end(flow)`` is called
    with each flow as it is closed (its final :meth:`Flow.snapshot`);
    ``on_request(request, source_features)`` with each request and its
    source's window at that moment (:data:`pipeline.source_windows.FEATURES`).
    :meth:`snapshots` gives the in-flight rows of the open flows.
    """

    def __init__(self, profile: Profile | None = None, *, idle_timeout: float = IDLE_TIMEOUT,
                 sweep_every: float = SWEEP_EVERY, observer: Observer | None = None,
                 on_flow_end: Callable[[Flow], None] | None = None,
                 on_request: Callable[[HttpRequest, dict], None] | None = None, keep_requests: bool = True,
                 max_flows: int = MAX_FLOWS):
        self.profile = profile
        self.idle_timeout, self.sweep_every = idle_timeout, sweep_every
        self.observer = observer
        self.on_flow_end = on_flow_end
        self.on_request = on_request
        self.keep_requests = keep_requests
        self.max_flows = max_flows
        self.windows = SourceWindows(profile.window if profile else 60.0)
        self.flows: OrderedDict[tuple, Flow] = OrderedDict()  # least recently active first
        self.watch: set[tuple] = set()  # flows the sweep re-checks: a request in flight or a tiny window
        self.ended: dict[tuple, None] = {}  # flows that ended (FINs or RST), closed once they linger no more
        self.clock: float | None = None
        self.next_sweep: float | None = None
        self._verdicts: list[Verdict] = []
        self._requests: list[HttpRequest] = []
        self.packets = self.tcp_packets = self.flows_total = self.requests_total = 0
        self.http_flows = 0

    # -- input ----------------------------------------------------------------------
    def feed(self, ts: float, row: dict) -> None:
        """One packet: its capture time (seconds) and its flat row (default mode)."""
        ts = round(float(ts), 6)
        self.packets += 1
        self.clock = ts if self.clock is None else max(self.clock, ts)
        fields = packet_fields(row)
        if fields is not None:
            self._tcp(ts, *fields)
        self._maybe_sweep()

    def feed_many(self, pairs: Iterable[tuple[float, dict]]) -> None:
        for ts, row in pairs:
            self.feed(ts, row)

    def tick(self, now: float) -> None:
        """Live traffic paused: move the clock to ``now`` (packet-time seconds) and run the checks."""
        if self.clock is None or now <= self.clock:
            return
        self.clock = now
        self._maybe_sweep()

    def finish(self) -> None:
        """End of input: every flow is closed and judged as it stands at its last packet."""
        for key in list(self.flows):
            self._end(key)

    # -- output ---------------------------------------------------------------------
    def take_verdicts(self) -> list[Verdict]:
        """Rule verdicts reached since the last call."""
        out, self._verdicts = self._verdicts, []
        return out

    def snapshots(self, now: float | None = None) -> list[dict]:
        """The feature rows of the flows still open, as they stand at ``now`` (default: the clock)."""
        when = self.clock if now is None else now
        return [flow.snapshot(when) for flow in self.flows.values()]

    @property
    def waiting(self) -> int:
        """Requests waiting for :meth:`take_requests`."""
        return len(self._requests)

    def take_requests(self) -> list[HttpRequest]:
        """Requests completed (or cut short by their flow's end) since the last call."""
        out, self._requests = self._requests, []
        return out

    @staticmethod
    def judge(requests: list[HttpRequest], scorer, signatures=None, escalation=None) -> list[Verdict]:
        """One verdict per request: an injection signature's (:mod:`pipeline.injection`) where one matches,
        else the request detector's (:class:`~pipeline.request_scoring.RequestScorer`). With no detector,
        only the signatures' attack verdicts (nothing else judged the requests). With ``escalation``
        (:class:`~pipeline.escalation.SourceEscalation`, kept across calls), a request judged benign from a
        source that just sent several attack requests is a ``source-escalation`` verdict instead."""
        if not requests or (scorer is None and not signatures):
            return []
        scores = scorer.score(requests) if scorer is not None else [None] * len(requests)
        hits = signatures.check(requests) if signatures else [None] * len(requests)
        out = []
        # in time order: the escalation judges each request with what its source did before it
        for i in sorted(range(len(requests)), key=lambda k: requests[k].ts_end or requests[k].ts or 0.0):
            req, s, hit = requests[i], scores[i], hits[i]
            ts = req.ts_end or req.ts or 0.0
            if hit is not None:
                also = f"; the model: {s.reason}" if s is not None else ""
                name, score, model, reason = hit.verdict, 1.0, signatures.name, hit.reason + also
            elif s is not None:
                name, score, model, reason = ("request-attack" if s.attack else "benign"), s.score, scorer.name, \
                    s.reason
            elif escalation is None:
                continue
            else:
                name, score, model, reason = "benign", 0.0, signatures.name, "no injection signature matched"
            if escalation is not None:
                esc = escalation.observe(req.src_ip, ts, name != "benign", name)
                if esc is not None:
                    # what judged the request alone, then what escalated it
                    name, model = "source-escalation", f"{model} + source escalation after {escalation.after} in " \
                                                       f"{escalation.window:g} s"
                    reason = f"{esc.reason(req.src_ip, escalation.window)}; judged alone: {reason}"
                elif name == "benign" and s is None:
                    continue  # the signatures alone say nothing about requests they do not match
            out.append(Verdict(kind="request", name=name, score=score, model=model, reason=reason,
                               ts=ts, flow_id=req.flow_id, src_ip=req.src_ip,
                               src_port=req.src_port, dest_ip=req.dst_ip, dest_port=req.dst_port, request=req))
        return out

    # -- packets --------------------------------------------------------------------
    def _tcp(self, ts, src, sport, dst, dport, seq, flags, window, wscale, payload, size) -> None:
        self.tcp_packets += 1
        a, b = (src, sport), (dst, dport)
        key = (a, b) if a < b else (b, a)
        flow = self.flows.get(key)
        opening = flags & SYN and not flags & ACK
        if flow is not None and flow.closed and opening:
            self._end(key)  # the ports are reused: a new connection
            flow = None
        if flow is None:
            flow = self._open(key, ts, a, b, flags)
        else:
            self.flows.move_to_end(key)
        was_closed = flow.closed
        had_http = flow.requests_in.http
        requests, answers = flow.packet(ts, a, seq, flags, window, wscale, payload, size)
        if flow.requests_in.http and not had_http:
            self.http_flows += 1
        for req in requests:
            self._request(flow, req, ts)
        for status, when, req in answers:
            if req is not None:
                self.windows.answer(req, status, when)
                self._source(flow, when, "answer", req, status)
        if flow.closed and not was_closed:
            self.windows.flow_closed(flow.client[0], flow.id)
            self.ended[key] = None
        if self.profile is not None:
            self._verdicts += check_flow(flow, ts, self.profile)
        if flow.in_flight() is not None or flow.up.zero_windows:
            self.watch.add(key)
        else:
            self.watch.discard(key)

    def _open(self, key: tuple, ts: float, a: tuple, b: tuple, flags: int) -> Flow:
        if flags & SYN and not flags & ACK:
            client, server = a, b
        elif flags & SYN:  # a SYN-ACK: its receiver opened the connection
            client, server = b, a
        elif b[1] in SERVER_PORTS and a[1] not in SERVER_PORTS:
            client, server = a, b
        elif a[1] in SERVER_PORTS and b[1] not in SERVER_PORTS:
            client, server = b, a
        else:
            client, server = (a, b) if a[1] > b[1] else (b, a)  # the ephemeral (higher) port is the client's
        flow = Flow(client, server, ts, handshake=bool(flags & SYN))
        while len(self.flows) >= self.max_flows:
            self._end(next(iter(self.flows)))  # the least recently active
        self.flows[key] = flow
        self.flows_total += 1
        self.windows.flow_opened(client[0], flow.id, ts)
        self._source(flow, ts, "open")
        return flow

    def _request(self, flow: Flow, req: HttpRequest, ts: float) -> None:
        self.requests_total += 1
        self.windows.request(req, ts)
        if self.keep_requests:
            self._requests.append(req)
        if self.observer is not None:
            self.observer.request(req)
        if self.on_request is not None:
            self.on_request(req, self.windows.features(flow.client[0], ts))
        self._source(flow, ts, "request", req)

    def _source(self, flow: Flow, ts: float, event: str, req: HttpRequest | None = None,
                status: int | None = None) -> None:
        if self.observer is None and (self.profile is None or not relevant(event, req, status)):
            return  # the window's counts were updated; no rule reads them for this event
        feats = self.windows.features(flow.client[0], ts)
        if self.observer is not None:
            self.observer.source(feats)
        if self.profile is not None:
            self._verdicts += check_source(flow, feats, ts, self.profile, event=event, request=req, status=status)

    # -- time -----------------------------------------------------------------------
    def _maybe_sweep(self) -> None:
        if self.next_sweep is None:
            self.next_sweep = self.clock + self.sweep_every
            return
        if self.clock < self.next_sweep:
            return
        now = self.clock
        self.next_sweep = now + self.sweep_every
        if self.profile is not None:
            for key in list(self.watch):
                flow = self.flows.get(key)
                if flow is None:
                    self.watch.discard(key)
                    continue
                self._verdicts += check_flow(flow, now, self.profile)
        while self.flows:  # the least recently active first
            key, flow = next(iter(self.flows.items()))
            idle = now - flow.last
            if idle > self.idle_timeout or (flow.closed and idle > CLOSED_LINGER):
                self._end(key)
            else:
                break
        for key in [k for k in self.ended if k not in self.flows or now - self.flows[k].last > CLOSED_LINGER]:
            self._end(key)

    def _end(self, key: tuple) -> None:
        flow = self.flows.pop(key, None)
        self.watch.discard(key)
        self.ended.pop(key, None)
        if flow is None:
            return
        for req in flow.close(flow.last):
            self._request(flow, req, flow.last)
        if self.profile is not None:
            self._verdicts += check_flow(flow, flow.last, self.profile)
        self.windows.flow_closed(flow.client[0], flow.id)
        if self.observer is not None:
            self.observer.flow_end(flow)
        if self.on_flow_end is not None:
            self.on_flow_end(flow)
