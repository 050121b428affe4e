"""One HTTP request taken apart the way the content features read it.

A dataset cell (the one-line text form of :func:`pipeline.http_message.request_to_text`)
becomes a :class:`RequestView`: the method, the path and its segments, every
parameter with where it came from (query, form body, JSON body, multipart
part, cookie), the headers, and the rest of the body. Names and values are
percent-decoded once, as a server would; a value that still holds ``%XX``
after that was encoded twice (a classic filter evasion) and is decoded a
second time, and counted.

Nothing here raises on hostile input: a cell that is no HTTP request gives a
view with an empty method whose ``other`` text is the cell itself.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from antinex.pipeline.http_message import HttpRequest, parse_http_request, parse_params, request_from_text

# where a parameter came from
QUERY, FORM, JSON_BODY, MULTIPART, COOKIE = "q", "f", "j", "m", "c"
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.I)
_DISPOSITION = re.compile(r'\b(name|filename)="([^"]*)"', re.I)
# JSON bodies: at most this many leaves (an API body of thousands of values is read in part)
MAX_JSON_LEAVES = 256
MAX_PART_BYTES = 2048  # text of one multipart part (uploads are read in part)


@dataclass
class RequestView:
    """A request's parts, decoded once (see the module docstring)."""

    method: str = ""
    path: str = ""
    segments: list[str] = field(default_factory=list)
    ext: str = ""  # the last segment's extension, lower-case with its dot (".bak"), or ""
    params: list[tuple[str, str, str]] = field(default_factory=list)  # (source, name, value)
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value), Cookie left out
    content_type: str = ""
    other: str = ""  # body text that is neither form, JSON nor multipart (or the whole cell of a non-request)
    double_encoded: int = 0  # names and values still percent-encoded after one decoding
    raw: bytes = b""
    head_complete: bool = True  # the blank line after the headers arrived (a slow-rate attack never sends it)
    body_complete: bool = True  # the body the headers declared arrived


def _twice(text: str, view: RequestView) -> str:
    """``text`` (decoded once) decoded again when it still holds ``%XX``."""
    if "%" in text and _PCT.search(text):
        view.double_encoded += 1
        return unquote(text, errors="replace")
    return text


def extension(segment: str) -> str:
    """``"db.sql.bak"`` -> ``".bak"``; ``"index~"`` -> ``"~"``; no extension -> ``""``."""
    if segment.endswith("~"):
        return "~"
    dot = segment.rfind(".")
    if dot <= 0 and not (dot == 0 and len(segment) > 1):
        return ""
    ext = segment[dot:].lower()
    return ext if len(ext) <= 12 else ext[:12]


def _json_leaves(value, prefix: str, out: list[tuple[str, str]]) -> None:
    if len(out) >= MAX_JSON_LEAVES:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _json_leaves(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for v in value:
            _json_leaves(v, f"{prefix}[]", out)
    else:
        out.append((prefix or "$", "" if value is None else str(value) if not isinstance(value, bool)
                    else ("true" if value else "false")))


def _multipart(body: bytes, content_type_header: str) -> list[tuple[str, str]] | None:
    m = _BOUNDARY.search(content_type_header)
    if not m:
        return None
    delimiter = b"--" + m.group(1).encode("latin-1", "replace")
    out = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = part.partition(b"\n\n")
        names = dict((k.lower(), v) for k, v in _DISPOSITION.findall(head.decode("latin-1")))
        text = content[:MAX_PART_BYTES].rstrip(b"\r\n").decode("utf-8", "replace")
        name = names.get("name", "")
        if "filename" in names:
            out.append((name + ":filename", names["filename"]))
        out.append((name, text))
    return out


def view_of(req: HttpRequest) -> RequestView:
    """The :class:`RequestView` of a parsed request."""
    view = RequestView(method=req.method, raw=req.raw, content_type=req.content_type,
                       head_complete=req.head_complete, body_complete=req.body_complete)
    path = _twice(req.path, view)
    view.path = path
    view.segments = [s for s in path.split("/") if s]
    view.ext = extension(view.segments[-1]) if view.segments else ""
    for name, value in parse_params(req.query):
        view.params.append((QUERY, _twice(name, view), _twice(value, view)))
    cookie = []
    for name, value in req.headers:
        low = name.lower()
        if low == "cookie":
            cookie.append(value)
        else:
            view.headers.append((low, value))
    for line in cookie:
        for piece in line.split(";"):
            k, _, v = piece.strip().partition("=")
            if k or v:
                view.params.append((COOKIE, k, _twice(unquote(v, errors="replace"), view)))
    body, ctype = req.body, view.content_type
    if not body:
        return view
    if ctype == "application/x-www-form-urlencoded":
        for name, value in parse_params(body.decode("latin-1")):
            view.params.append((FORM, _twice(name, view), _twice(value, view)))
    elif ctype.endswith("json") or (ctype in ("", "text/plain") and body.lstrip()[:1] in (b"{", b"[")):
        try:
            leaves: list[tuple[str, str]] = []
            _json_leaves(json.loads(body.decode("utf-8", "replace")), "", leaves)
            view.params.extend((JSON_BODY, k, _twice(v, view)) for k, v in leaves)
        except (ValueError, RecursionError):
            view.other = body.decode("utf-8", "replace")
    elif ctype.startswith("multipart/"):
        parts = _multipart(body, req.header("content-type") or "")
        if parts is None:
            view.other = body.decode("utf-8", "replace")
        else:
            view.params.extend((MULTIPART, k, v) for k, v in parts)
    else:
        view.other = body.decode("utf-8", "replace")
    return view


def parse_cell(cell) -> RequestView:
    """The view of one dataset cell (escaped request text, as ``request_to_text`` writes it)."""
    if not isinstance(cell, str):
        cell = "" if cell is None or cell != cell else str(cell)  # NaN: an empty cell
    try:
        raw = request_from_text(cell)
    except ValueError:
        raw = cell.encode("utf-8", "replace")
    req = parse_http_request(raw)
    if req is None:
        return RequestView(other=raw.decode("latin-1"), raw=raw)
    return view_of(req)
