"""HTTP/1.x messages out of a reassembled byte stream, with their timing.

:class:`RequestStream` reads what a client sent on one connection
(reassembled by :mod:`pipeline.tcp_reassembly`) and cuts it into requests:
keep-alive and pipelined requests one after the other, bodies by
``Content-Length`` or chunked transfer coding, a body that travels in its
own segment joined to its head. Each request carries when its first byte
arrived (``ts``), when its head was complete (``ts_head``) and when its
body was (``ts_end``), and how many segments carried it. A request still
being sent is visible as :meth:`RequestStream.in_flight`: slow-rate
attacks are judged on what has not arrived yet.

:class:`ResponseStream` reads the server's side only as far as the
detectors need: the status of each answer, in order (HTTP/1.1 answers
pipelined requests in order), skipping bodies by their length.

Bounded: a request head keeps at most ``MAX_HEAD_BYTES``, a body at most
``MAX_BODY_BYTES`` (the rest is counted, not kept). A stream whose first
bytes are no HTTP request (TLS, SSH, anything else) is ignored from there
on; after a gap in the capture the parser waits for the next request line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from antinex.pipeline.http_message import (
    MAX_BODY_BYTES, MAX_HEAD_BYTES, HttpRequest, body_length, is_chunked, parse_head, split_head,
)

_REQUEST_START = re.compile(rb"^[A-Za-z]{3,12} \S")
_METHOD_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_STATUS = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")
_BLANK = (b"\r\n\r\n", b"\n\n")


def looks_like_request(data: bytes) -> bool | None:
    """True/False when the first bytes say whether this is an HTTP request; None while too few arrived."""
    head = data.lstrip(b"\r\n")[:14]
    for i, b in enumerate(head):
        if b == 0x20:
            return 3 <= i <= 12 and bool(_REQUEST_START.match(head + b"x"))
        if b not in _METHOD_CHARS:
            return False
    return None if len(head) < 13 else False


class ChunkedBody:
    """An incremental decoder of a chunked body: ``feed`` bytes until ``done``."""

    def __init__(self, keep: int = MAX_BODY_BYTES):
        self.body = bytearray()
        self.keep = keep
        self.size = 0  # decoded bytes, kept or not
        self.done = False
        self._line = bytearray()
        self._left = 0  # bytes of chunk data still to come
        self._state = "size"  # size | data | crlf | trailer

    def feed(self, data: bytes) -> int:
        """Consume ``data``; returns how many bytes belonged to the body (the rest is the next message)."""
        i, n = 0, len(data)
        while i < n and not self.done:
            if self._state == "data":
                take = min(self._left, n - i)
                room = self.keep - len(self.body)
                if room > 0:
                    self.body += data[i:i + min(take, room)]
                self.size += take
                self._left -= take
                i += take
                if not self._left:
                    self._state = "crlf"
                continue
            eol = data.find(b"\n", i)
            if eol < 0:
                self._line += data[i:i + 4096 - len(self._line)]  # a size line is short; never grow unbounded
                return n
            self._line += data[i:eol]
            line = bytes(self._line).strip()
            self._line.clear()
            i = eol + 1
            if self._state == "crlf":
                self._state = "size"
                if not line:
                    continue
            if self._state == "trailer":
                if not line:
                    self.done = True
                continue
            try:
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                self.done = True  # a bad size line ends the body, as the lenient parser does
                return i
            if size == 0:
                self._state = "trailer"
            else:
                self._left, self._state = size, "data"
        return i


@dataclass
class InFlight:
    """A request still arriving: what a slow-rate rule reads."""

    ts: float  # its first byte
    last: float  # the last time bytes of it arrived
    head_complete: bool
    ts_head: float | None
    received: int  # bytes of it so far (head and body)
    body_received: int
    body_expected: int | None  # declared length (None: chunked or unknown)
    segments: int
    method: str | None = None
    target: str | None = None


class RequestStream:
    """Requests out of the client side of one connection."""

    def __init__(self) -> None:
        self.http: bool | None = None  # None until the first bytes say
        self._buf = bytearray()  # the head being read
        self._head: tuple | None = None  # parsed head once complete: (method, target, version, headers)
        self._head_raw = b""
        self._body = bytearray()
        self._body_size = 0
        self._body_expected: int | None = None
        self._chunked: ChunkedBody | None = None
        self._ts = self._ts_head = self._last = None
        self._segments = 0
        self._received = 0
        self._skip_to_request = False  # after a gap or an oversized head: wait for a request line

    # -- feeding ----------------------------------------------------------------
    def feed(self, data: bytes, ts: float, gap: bool = False) -> list[HttpRequest]:
        """Bytes readable at ``ts``; returns the requests they complete."""
        out: list[HttpRequest] = []
        if gap:
            if self._ts is not None:
                out.append(self._cut(ts))  # the request the hole went through ends here, incomplete
            self._skip_to_request = True
        if self.http is False:
            return out
        view = memoryview(data)
        pos = 0
        counted = False
        while pos < len(data):
            if self._ts is None:
                pos = self._start(data, pos)
                if pos is None:
                    return out
                if pos >= len(data):
                    break
                self._ts, self._last = ts, ts
            if not counted:
                self._segments += 1
                counted = True
            self._last = ts
            if self._head is None:
                pos = self._read_head(view, pos, ts)
                if len(self._buf) > MAX_HEAD_BYTES:  # an endless head: judged as it is, then skipped
                    out.append(self._cut(ts))
                    self._skip_to_request = True
                    break
            else:
                pos = self._read_body(data, pos)
            if self._head is not None and self._body_done():
                out.append(self._finish(ts))
                counted = False
        return out

    def _start(self, data: bytes, pos: int) -> int | None:
        """Where the next request begins (leading blank lines skipped); None to drop the rest."""
        while True:
            while pos < len(data) and data[pos] in (0x0D, 0x0A):
                pos += 1  # RFC 9112: a server ignores empty lines before a request line
            if pos >= len(data) or not (self._skip_to_request or self.http is None):
                return pos
            verdict = looks_like_request(bytes(data[pos:pos + 16]))
            if verdict is True:
                self.http = True
                self._skip_to_request = False
            if verdict is not False:
                return pos
            if self.http is None:
                self.http = False  # not HTTP at all: nothing to read on this connection
                return None
            at = _next_line_start(data, pos)  # resynchronise on a later line
            if at is None:
                return None
            pos = at

    def _read_head(self, view: memoryview, pos: int, ts: float) -> int:
        before = len(self._buf)
        room = MAX_HEAD_BYTES + 4 - before
        take = view[pos:pos + max(room, 0)].tobytes()
        self._buf += take
        self._received += len(take)
        search_from = max(0, before - 3)
        ends = [(i, len(sep)) for sep in _BLANK if (i := self._buf.find(sep, search_from)) >= 0]
        if not ends:
            return pos + len(take)
        at, sep = min(ends)
        head_end = at + sep
        used = head_end - before
        self._received -= len(take) - used
        head, _, _ = split_head(bytes(self._buf[:head_end]))
        parsed = parse_head(head)
        if parsed is None:  # a first line that is no request (after resync): skip this block
            self._reset()
            self._skip_to_request = True
            return pos + used
        self._head, self._head_raw, self._ts_head = parsed, bytes(self._buf[:head_end]), ts
        headers = parsed[3]
        if is_chunked(headers):
            self._chunked = ChunkedBody()
        else:
            self._body_expected = body_length(headers) or 0
        self._buf.clear()
        return pos + used

    def _read_body(self, data: bytes, pos: int) -> int:
        if self._chunked is not None:
            used = self._chunked.feed(data[pos:])
            self._received += used
            return pos + used
        want = self._body_expected - self._body_size
        take = min(want, len(data) - pos)
        room = MAX_BODY_BYTES - len(self._body)
        if room > 0:
            self._body += data[pos:pos + min(take, room)]
        self._body_size += take
        self._received += take
        return pos + take

    def _body_done(self) -> bool:
        if self._chunked is not None:
            return self._chunked.done
        return self._body_size >= (self._body_expected or 0)

    # -- results ------------------------------------------------------------------
    def _finish(self, ts: float) -> HttpRequest:
        req = self._build(head_complete=True, body_complete=True, ts_end=ts)
        self._reset()
        return req

    def _build(self, *, head_complete: bool, body_complete: bool, ts_end: float | None) -> HttpRequest:
        if self._head is None:
            method, target, version, headers = parse_head(split_head(bytes(self._buf))[0]) or ("", "", "", [])
            raw = bytes(self._buf[:MAX_HEAD_BYTES])
            body, size = b"", 0
        else:
            method, target, version, headers = self._head
            if self._chunked is not None:
                body, size = bytes(self._chunked.body), self._chunked.size
            else:
                body, size = bytes(self._body), self._body_size
            raw = self._head_raw + body
        return HttpRequest(method, target, version, list(headers), body, head_complete=head_complete,
                           body_complete=body_complete, body_truncated=size > len(body), raw=raw, ts=self._ts,
                           ts_head=self._ts_head, ts_end=ts_end, segments=self._segments)

    def _cut(self, ts: float) -> HttpRequest:
        """The request in flight, as far as it came (the connection ended or a hole cut it)."""
        req = self._build(head_complete=self._head is not None, body_complete=False, ts_end=None)
        self._reset()
        return req

    def close(self, ts: float) -> list[HttpRequest]:
        """The connection ended: a request still arriving is returned as it is (incomplete)."""
        if self._ts is None or (self._head is None and not self._buf):
            self._reset()
            return []
        req = self._cut(ts)
        return [req] if req.method else []

    def partial(self) -> HttpRequest | None:
        """The request being sent right now, as far as it came (headers read so far), or None."""
        if self._ts is None:
            return None
        req = self._build(head_complete=self._head is not None, body_complete=False, ts_end=None)
        return req if req.method else None

    def _reset(self) -> None:
        self._buf = bytearray()
        self._head, self._head_raw = None, b""
        self._body = bytearray()
        self._body_size, self._body_expected, self._chunked = 0, None, None
        self._ts = self._ts_head = self._last = None
        self._segments = self._received = 0

    def in_flight(self) -> InFlight | None:
        """The request being sent right now, if one has begun."""
        if self._ts is None:
            return None
        method = target = None
        if self._head is not None:
            method, target = self._head[0], self._head[1]
        else:
            first = bytes(self._buf[:256]).split(b" ", 2)
            if len(first) >= 2:
                method, target = first[0].decode("latin-1"), first[1].decode("latin-1")
        body = self._chunked.size if self._chunked is not None else self._body_size
        return InFlight(ts=self._ts, last=self._last, head_complete=self._head is not None, ts_head=self._ts_head,
                        received=self._received, body_received=body, body_expected=self._body_expected,
                        segments=self._segments, method=method, target=target)


def _next_line_start(data: bytes, pos: int) -> int | None:
    eol = data.find(b"\n", pos)
    return None if eol < 0 else eol + 1


def _response_headers(head: bytes) -> list[tuple[str, str]]:
    """The header fields of a response head (its status line replaced by a request line for the one parser)."""
    rest = head.split(b"\n", 1)[1] if b"\n" in head else b""
    parsed = parse_head(b"GET / HTTP/1.1\r\n" + rest)
    return parsed[3] if parsed else []


class ResponseStream:
    """Statuses of the server's answers on one connection, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # body bytes still to skip
        self._chunked: ChunkedBody | None = None
        self._until_close = False
        self.http: bool | None = None

    def feed(self, data: bytes, ts: float, head_only: list[bool], gap: bool = False) -> list[tuple[int, float]]:
        """Bytes readable at ``ts``; returns ``(status, ts)`` of each answer whose head arrived.

        ``head_only`` pops one entry per final answer: True when it answers a
        HEAD request (no body follows whatever its headers say).
        """
        out: list[tuple[int, float]] = []
        if gap:  # a hole: wait for the next status line
            self._buf.clear()
            self._left, self._chunked, self._until_close = 0, None, False
        if self.http is False or self._until_close:
            return out
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                self._left -= take
                pos += take
                continue
            if self._chunked is not None:
                pos += self._chunked.feed(data[pos:])
                if self._chunked.done:
                    self._chunked = None
                continue
            before = len(self._buf)
            take = data[pos:pos + MAX_HEAD_BYTES + 4 - before]
            self._buf += take
            head, body_start, complete = split_head(bytes(self._buf))
            if self.http is None and len(self._buf) >= 5:
                self.http = self._buf.startswith(b"HTTP/")
                if not self.http:
                    return out
            if not complete:
                if len(self._buf) > MAX_HEAD_BYTES:
                    self.http = False  # no response head we can follow
                return out
            pos += body_start - before
            self._buf.clear()
            m = _STATUS.match(head)
            if not m:
                self.http = False
                return out
            status = int(m.group(1))
            if 100 <= status < 200:
                continue  # 100 Continue and friends: the final answer follows
            out.append((status, ts))
            is_head = head_only.pop(0) if head_only else False
            if is_head or status in (204, 304):
                continue
            headers = _response_headers(head)
            if is_chunked(headers):
                self._chunked = ChunkedBody(keep=0)
            else:
                length = body_length(headers)
                if length is None:
                    self._until_close = True  # the body runs to the end of the connection
                    return out
                self._left = length
        return out
