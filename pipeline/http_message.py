"""One HTTP/1.x request as the detectors see it: the bytes a client sent, parsed once.

``HttpRequest`` is the shared shape between the parts that make requests
(TCP reassembly of a capture or of live packets, the lab's builders, tests)
and the parts that judge them (request features, sequence models, the CRS
baseline, verdicts and alerts). ``parse_http_request`` turns the bytes of
one request (head and body, as they crossed the wire) into one.

Parsing never raises on hostile input: a request line that is not HTTP
gives ``None``; anything after it is read leniently (what a server would
accept is what an attacker sends).
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

# Bodies longer than this are kept cut (``body_truncated``): a detector reads the
# start of a body; an upload of megabytes must not sit in memory per request.
MAX_BODY_BYTES = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024

_REQUEST_LINE = re.compile(rb"^([A-Za-z]{3,12}) (\S+)(?: (HTTP/\d(?:\.\d)?))?\r?$")


@dataclass
class HttpRequest:
    """One request: what was sent, parsed, and where and when it travelled (when known)."""

    method: str
    target: str  # the request-target as sent (raw, not decoded)
    version: str  # "HTTP/1.1"; "" for a bare HTTP/0.9-style line
    headers: list[tuple[str, str]] = field(default_factory=list)  # sent order and case
    body: bytes = b""
    head_complete: bool = True  # the blank line after the headers arrived
    body_complete: bool = True  # the declared body arrived (Content-Length / last chunk)
    body_truncated: bool = False  # body longer than MAX_BODY_BYTES: kept cut
    raw: bytes = b""  # head + body as sent (body cut like ``body``)
    # network context: filled by reassembly, None when the bytes came from elsewhere
    ts: float | None = None  # first byte of the request
    ts_head: float | None = None  # the end of the headers
    ts_end: float | None = None  # the last byte of the body
    src_ip: str | None = None
    src_port: int | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    flow_id: int | None = None
    segments: int = 0  # TCP segments that carried it
    retransmitted: int = 0  # segments seen again (counted once in ``raw``)
    response_status: int | None = None  # the status of the answer, when the capture holds it
    response_ts: float | None = None

    # -- views ----------------------------------------------------------------
    @property
    def path(self) -> str:
        """The target's path, percent-decoded once (query left out)."""
        return _decode(self.target.split("?", 1)[0])

    @property
    def query(self) -> str:
        """The raw query string (after ``?``), undecoded."""
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header called ``name`` (case-insensitive)."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), default)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def params(self) -> list[tuple[str, str]]:
        """Query parameters, then form-encoded body parameters: names and values decoded once."""
        out = parse_params(self.query)
        if self.content_type == "application/x-www-form-urlencoded" and self.body:
            out += parse_params(self.body.decode("latin-1"))
        return out

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.target}" + (f" {self.version}" if self.version else "")

    @property
    def complete(self) -> bool:
        return self.head_complete and self.body_complete


def _decode(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", "replace")


def parse_params(text: str) -> list[tuple[str, str]]:
    """``a=1&b=%27x`` -> ``[("a", "1"), ("b", "'x")]``; ``+`` is a space; empty pieces are skipped."""
    out = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        out.append((_decode(name.replace("+", " ")), _decode(value.replace("+", " "))))
    return out


def split_head(data: bytes) -> tuple[bytes, int, bool]:
    """(head, body_start, complete): the head up to the blank line (CRLF or bare LF), where the body starts."""
    best = None
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = data.find(sep)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, at + len(sep))
    if best is None:
        return data, len(data), False
    return data[:best[0]], best[1], True


def parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]] | None:
    """(method, target, version, headers) of a request head, or None when the first line is no request."""
    lines = head.split(b"\n")
    m = _REQUEST_LINE.match(lines[0][:8192])
    if not m:
        return None
    headers = []
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding: part of the previous value
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip().decode("latin-1"))
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue  # not a header line; servers ignore or reject it, the raw bytes keep it
        headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    version = (m.group(3) or b"").decode()
    return m.group(1).decode().upper(), m.group(2).decode("latin-1"), version, headers


def body_length(headers: list[tuple[str, str]]) -> int | None:
    """The declared Content-Length (None: none, or chunked, or not a number)."""
    for k, v in headers:
        if k.lower() == "transfer-encoding" and "chunked" in v.lower():
            return None
    for k, v in headers:
        if k.lower() == "content-length":
            try:
                n = int(v.strip())
            except ValueError:
                return None
            return n if n >= 0 else None
    return None


def is_chunked(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)


def dechunk(data: bytes) -> tuple[bytes, bool, int]:
    """(body, complete, bytes used) of a chunked body; lenient: a bad size line ends it."""
    out, pos = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False, len(data)
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text or b"x", 16)
        except ValueError:
            return bytes(out), False, len(data)
        pos = eol + 2
        if size == 0:
            end = data.find(b"\r\n", pos)  # trailers end with an empty line
            return bytes(out), end >= 0, (end + 2 if end >= 0 else len(data))
        if pos + size > len(data):
            out += data[pos:]
            return bytes(out), False, len(data)
        out += data[pos:pos + size]
        pos += size + 2


def parse_http_request(data: bytes) -> HttpRequest | None:
    """The request at the start of ``data`` (head and body as sent), or None when it is no HTTP request.

    ``data`` may hold only part of a request (a slow client, a cut capture):
    ``head_complete``/``body_complete`` say what is missing.
    """
    head, start, head_complete = split_head(data[:MAX_HEAD_BYTES + 4])
    parsed = parse_head(head)
    if parsed is None:
        return None
    method, target, version, headers = parsed
    if not head_complete:
        return HttpRequest(method, target, version, headers, b"", head_complete=False, body_complete=False,
                           raw=data[:MAX_HEAD_BYTES])
    rest = data[start:]
    if is_chunked(headers):
        body, complete, _ = dechunk(rest)
    else:
        declared = body_length(headers) or 0
        body, complete = rest[:declared], len(rest) >= declared
    truncated = len(body) > MAX_BODY_BYTES
    body = body[:MAX_BODY_BYTES]
    return HttpRequest(method, target, version, headers, body, head_complete=True, body_complete=complete,
                       body_truncated=truncated, raw=data[:start] + body)


def request_to_text(raw: bytes) -> str:
    """A request's bytes as one line of ASCII text (``\\r\\n``, ``\\xNN``): what a dataset's
    ``http_request`` column and a ``predict_rows`` cell hold. :func:`request_from_text` inverts it."""
    return raw.decode("latin-1").encode("unicode_escape").decode("ascii")


def request_from_text(text: str) -> bytes:
    """The bytes :func:`request_to_text` wrote (ValueError for text it could not have written)."""
    try:
        return codecs.decode(text.encode("ascii"), "unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as exc:
        raise ValueError(f"not an escaped HTTP request: {exc}") from None
