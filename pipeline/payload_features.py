"""Payload-aware features: what a packet carries, not who sent it.

Computed from ``raw_load`` (hex) so a model can recognise attacks by
content (quotes, SQL keywords, traversal, script tags, odd encodings)
rather than by port or address. ``PAYLOAD_FEATURES`` is the one list of
their names.

The byte statistics (length, entropy, printable/upper/digit ratios) read the
whole payload. The content counts read only what a client fills in: the
request target, the values of free-form headers (``Referer``, ``Cookie``,
unknown ones, a ``User-Agent`` that breaks its own grammar of product tokens and
comments...) and the body's *values* (a form body as sent, the
leaf values of a JSON body, the contents of multipart parts), and an apostrophe
between two letters (``O'Brien``, ``don't``) is not counted as a quote. The syntax of
the protocol is left out, because it is the same in every benign request:
``Accept: */*`` is a media range, not a SQL comment; a JSON body's quotes and
braces are JSON; a multipart boundary's dashes are a boundary. ``+`` counts as
an encoded space only in the query and a form body (in a base64 cookie it is
a base64 digit). A payload that is no HTTP request (a response, another
protocol, a packet in the middle of a body) is read whole, as before.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

PAYLOAD_FEATURES: tuple[str, ...] = (
    "payload_len", "payload_entropy", "payload_printable_ratio", "payload_upper_ratio",
    "payload_digit_ratio", "payload_n_quote", "payload_n_dquote", "payload_n_angle",
    "payload_n_pct", "payload_n_special", "payload_n_sql", "payload_n_traversal", "payload_n_script",
    "payload_n_space_enc", "http_is_request", "http_is_response", "http_method", "http_path_depth",
    "http_query_len", "http_n_params", "http_status",
)

# Header columns that describe a packet without naming its hosts or
# session: checksums, sequence numbers, ids, timestamps and ports are left
# out on purpose (see docs/dataset-lab.md).
HEADER_FEATURES: tuple[str, ...] = (
    "ip_len", "ip_flags", "tcp_flags", "tcp_window", "tcp_dataofs",
    "tcp_fields_options.MSS", "tcp_fields_options.WScale", "tcp_fields_options.SAckOK",
)

# SQL fragments, matched on decoded text. Each needs SQL context, so that prose does not fire:
# "--" is a comment only right after a value ("1'-- -", "NULL--", "x--+"), never after a space ("notes -- Monday")
# or inside a base64url cookie ("k1--8Jx"); "/*" is a comment opener, never the media range "*/*" or "text/*".
_SQL = re.compile(
    rb"(?i)(\bunion\b(?:\s+all|\s+distinct)?\s*(?:\(\s*)?select\b|\bselect\b\s+(?:\*|null\b|\d|@@|"
    rb"(?:count|concat|char|version|database|user|sleep|case|if)\s*\(|[\w.]+\s*,)|\bsleep\s*\(|\bbenchmark\s*\(|"
    rb"\b(?:x?or|and|having)\s+['\"]?\w+['\"]?\s*(?:=|<|>|like\b)\s*['\"(]?\w+|(?<=[\w'\")])--(?:[\s+#-]|$)|"
    rb"(?<!\*)/\*(?![;,]|\s*$)|\bwaitfor\s+delay\b|\binformation_schema\b|\bconcat(?:_ws)?\s*\(|\bchar\s*\(|"
    rb"\bcast\s*\(|\bxp_\w+|\border\s+by\s+\d+|\bextractvalue\s*\(|\bupdatexml\s*\(|\bpg_sleep\s*\()")
_PCT = re.compile(rb"%[0-9a-fA-F]{2}")
# an apostrophe inside a word (O'Brien, don't) is English, not a string delimiter
_QUOTE = re.compile(rb"(?<![A-Za-z])'|'(?![A-Za-z])")
_METHODS = {b"GET": 1, b"POST": 2, b"PUT": 3, b"DELETE": 4, b"HEAD": 5, b"OPTIONS": 6, b"PATCH": 7}
_REQUEST = re.compile(rb"^([A-Z]{3,7}) (\S+) HTTP/\d")
_RESPONSE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")
_SPECIAL = b";|&$`(){}[]\\^~"
_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"
_UPPER = bytes(range(65, 91))
_DIGITS = bytes(range(48, 58))
# Headers whose values follow a grammar of their own (media ranges, q-values, tokens, dates,
# client hints): their punctuation is syntax in every benign request, so the content counts skip them.
SYNTAX_HEADERS = frozenset({
    "accept", "accept-encoding", "accept-language", "accept-charset", "accept-ranges", "content-type",
    "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "cache-control",
    "pragma", "host", "upgrade-insecure-requests", "if-modified-since", "if-unmodified-since", "if-none-match",
    "if-match", "range", "te", "dnt", "priority", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
    "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-purpose", "purpose",
    "expect", "upgrade", "authorization",
})
_BOUNDARY = re.compile(rb'boundary="?([^";,\r\n]+)"?', re.I)
# a User-Agent in its own grammar (RFC 9110 product tokens and parenthesised comments): its
# parentheses and semicolons are syntax; one outside the grammar (a quote, a "#", "<") is read as content
# (token characters narrowed to letters, digits and . ! * + ~ / - so that | ` % $ & stay visible)
_USER_AGENT = re.compile(rb"^[\w.!*+~/-]+(?:\s+(?:[\w.!*+~/-]+|\([\w .,:;/+_-]*\)))*$")


def filled_in(name: str, value: str) -> bool:
    """True when a header's value is something a client fills in (free-form), not protocol syntax."""
    low = name.strip().lower()
    if low in SYNTAX_HEADERS:
        return False
    return not (low == "user-agent" and _USER_AGENT.match(value.strip().encode("latin-1", "replace")))


def _entropy(data: bytes) -> float:
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def _count(data: bytes, alphabet: bytes) -> int:
    """How many bytes of ``data`` are in ``alphabet``."""
    return len(data) - len(data.translate(None, alphabet))


def _json_values(value, out: list[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _json_values(v, out)
    elif isinstance(value, list):
        for v in value:
            _json_values(v, out)
    elif isinstance(value, str):
        out.append(value)
    elif value is not None and not isinstance(value, bool):
        out.append(str(value))


def _body_values(body: bytes, content_type: bytes) -> tuple[bytes, bytes]:
    """(values, url-encoded part) of a body: the text a client filled in, without the format's syntax."""
    ctype = content_type.split(b";", 1)[0].strip().lower()
    if ctype == b"application/x-www-form-urlencoded":
        return body, body
    if ctype.endswith(b"json") or (not ctype and body.lstrip()[:1] in (b"{", b"[")):
        try:
            values: list[str] = []
            _json_values(json.loads(body.decode("utf-8")), values)
            return " ".join(values).encode("utf-8", "replace"), b""
        except (ValueError, RecursionError):
            return body, b""  # a cut or broken JSON body: read as it is
    if ctype.startswith(b"multipart/"):
        m = _BOUNDARY.search(content_type)
        if m:
            parts = []
            for part in body.split(b"--" + m.group(1))[1:]:
                _, sep, content = part.partition(b"\r\n\r\n")
                parts.append(content.rstrip(b"\r\n") if sep else b"")
            return b"\n".join(parts), b""
    return body, b""


def content_text(payload: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(target, filled-in text, url-encoded text) of a request payload, or None when it is no request.

    The filled-in text is the target, the free-form header values and the body values (module docstring);
    the url-encoded text (the target and a form body) is where ``+`` means a space.
    """
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = payload.partition(b"\n\n")
    lines = head.split(b"\n")
    first = _REQUEST.match(lines[0][:8192])
    if not first:
        return None
    target = first.group(2)
    parts, ctype = [target], b""
    for line in lines[1:]:
        name, colon, value = line.rstrip(b"\r").partition(b":")
        if not colon:
            continue
        low = name.strip().lower()
        if low == b"content-type":
            ctype = value.strip()
        if filled_in(low.decode("latin-1"), value.decode("latin-1")):
            parts.append(value.strip())
    values, encoded = _body_values(body, ctype) if body else (b"", b"")
    if values:
        parts.append(values)
    return target, b"\n".join(parts), target + (b"&" + encoded if encoded else b"")


def payload_features(payload: bytes) -> dict[str, float]:
    """Feature values of one payload (bytes)."""
    n = len(payload)
    out = dict.fromkeys(PAYLOAD_FEATURES, 0.0)
    if not n:
        return out
    request = content_text(payload)
    text, encoded = (request[1], request[2]) if request else (payload, payload)
    low = text.lower()
    decoded = _unescape(text)
    out.update(
        payload_len=float(n),
        payload_entropy=_entropy(payload),
        payload_printable_ratio=_count(payload, _PRINTABLE) / n,
        payload_upper_ratio=_count(payload, _UPPER) / n,
        payload_digit_ratio=_count(payload, _DIGITS) / n,
        payload_n_quote=float(len(_QUOTE.findall(decoded))),
        payload_n_dquote=float(text.count(b'"') + low.count(b"%22")),
        payload_n_angle=float(text.count(b"<") + text.count(b">") + low.count(b"%3c") + low.count(b"%3e")),
        payload_n_pct=float(len(_PCT.findall(text))),
        payload_n_special=float(_count(text, _SPECIAL)),
        payload_n_sql=float(len(_SQL.findall(decoded))),
        payload_n_traversal=float(text.count(b"../") + low.count(b"..%2f") + text.count(b"..\\")),
        payload_n_script=float(low.count(b"<script") + low.count(b"%3cscript") + low.count(b"javascript:")),
        payload_n_space_enc=float(encoded.count(b"+") + encoded.lower().count(b"%20")),
    )
    first = payload.split(b"\r\n", 1)[0][:2048]
    req = _REQUEST.match(first)
    if req:
        target = req.group(2)
        path, _, query = target.partition(b"?")
        out.update(http_is_request=1.0, http_method=float(_METHODS.get(req.group(1), 8)),
                   http_path_depth=float(path.count(b"/")), http_query_len=float(len(query)),
                   http_n_params=float(query.count(b"&") + 1 if query else 0))
    resp = _RESPONSE.match(first)
    if resp:
        out.update(http_is_response=1.0, http_status=float(resp.group(1)))
    return out


def _unescape(data: bytes) -> bytes:
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(data.replace(b"+", b" "))


def _bytes_of(hex_load) -> bytes:
    if not isinstance(hex_load, str) or not hex_load:
        return b""
    try:
        return bytes.fromhex(hex_load)
    except ValueError:
        return b""


def add_payload_features(df: pd.DataFrame, load_column: str = "raw_load") -> pd.DataFrame:
    """``df`` with the payload feature columns added (computed from hex ``raw_load``)."""
    loads = df[load_column] if load_column in df.columns else pd.Series([""] * len(df), index=df.index)
    feats = pd.DataFrame([payload_features(_bytes_of(h)) for h in loads], index=df.index,
                         columns=list(PAYLOAD_FEATURES), dtype=np.float64)
    return pd.concat([df.drop(columns=[c for c in PAYLOAD_FEATURES if c in df.columns]), feats], axis=1)


__all__ = ["HEADER_FEATURES", "PAYLOAD_FEATURES", "SYNTAX_HEADERS", "add_payload_features", "content_text",
           "filled_in", "payload_features"]
