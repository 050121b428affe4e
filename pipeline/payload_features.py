"""Payload-aware features: what a packet carries, not who sent it.

Computed from ``raw_load`` (hex) so a model can recognise attacks by
content (quotes, SQL keywords, traversal, script tags, odd encodings)
rather than by port or address. ``PAYLOAD_FEATURES`` is the one list of
their names.
"""
from __future__ import annotations

import math
import re
from collections import Counter

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

# "--" counts only as a SQL comment ("-- ", "--+", "-- -", "--#", at the end): base64url
# session cookies (Flask's) contain "--" by chance and made normal requests look like SQL
_SQL = re.compile(rb"(?i)(\bunion\b|\bselect\b|\bsleep\s*\(|\bbenchmark\s*\(|\bor\s+\d+=\d+|\band\s+\d+=\d+|--(?:\s|-|\#|$)|/\*|\bwaitfor\b|"
                  rb"\binformation_schema\b|\bconcat\s*\(|\bchar\s*\(|\bcast\s*\(|\bxp_)")
_PCT = re.compile(rb"%[0-9a-fA-F]{2}")
_METHODS = {b"GET": 1, b"POST": 2, b"PUT": 3, b"DELETE": 4, b"HEAD": 5, b"OPTIONS": 6, b"PATCH": 7}
_REQUEST = re.compile(rb"^([A-Z]{3,7}) (\S+) HTTP/\d")
_RESPONSE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")
_SPECIAL = set(b";|&$`(){}[]\\^~")


def _entropy(data: bytes) -> float:
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def payload_features(payload: bytes) -> dict[str, float]:
    """Feature values of one payload (bytes)."""
    n = len(payload)
    out = dict.fromkeys(PAYLOAD_FEATURES, 0.0)
    if not n:
        return out
    unquoted = payload
    out.update(
        payload_len=float(n),
        payload_entropy=_entropy(payload),
        payload_printable_ratio=sum(32 <= b < 127 or b in (9, 10, 13) for b in payload) / n,
        payload_upper_ratio=sum(65 <= b <= 90 for b in payload) / n,
        payload_digit_ratio=sum(48 <= b <= 57 for b in payload) / n,
        payload_n_quote=float(payload.count(b"'") + payload.lower().count(b"%27")),
        payload_n_dquote=float(payload.count(b'"') + payload.lower().count(b"%22")),
        payload_n_angle=float(payload.count(b"<") + payload.count(b">") + payload.lower().count(b"%3c")
                              + payload.lower().count(b"%3e")),
        payload_n_pct=float(len(_PCT.findall(payload))),
        payload_n_special=float(sum(b in _SPECIAL for b in payload)),
        payload_n_sql=float(len(_SQL.findall(_unescape(unquoted)))),
        payload_n_traversal=float(payload.count(b"../") + payload.lower().count(b"..%2f")
                                  + payload.count(b"..\\")),
        payload_n_script=float(payload.lower().count(b"<script") + payload.lower().count(b"%3cscript")
                               + payload.lower().count(b"javascript:")),
        payload_n_space_enc=float(payload.count(b"+") + payload.lower().count(b"%20")),
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
