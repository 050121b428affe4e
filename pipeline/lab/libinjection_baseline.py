"""A second, cheaper signature baseline: libinjection's SQLi and XSS detectors on a request's inputs.

libinjection is the tokenizer ModSecurity's CRS calls in rules 942100 (SQLi)
and 941100 (XSS). Here it runs in-process, with no web server, through the
product's own signatures (:mod:`antinex.pipeline.injection`: the same inputs
those two rules look at, decoded as they decode them), both kinds on. A
request is flagged when any input is SQLi or XSS. It judges only those two families: traversal,
command injection, scanners and protocol abuse are out of its reach.

    verdicts = libinjection_verdicts(raws)   # libinj_flagged, libinj_sqli, libinj_xss, libinj_input
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from antinex.pipeline.http_message import parse_http_request
from antinex.pipeline.injection import InjectionSignatures, SignatureError, version

PACKAGE = "libinjection-python"


def available() -> bool:
    """Whether the libinjection wrapper is installed."""
    try:
        version()
    except SignatureError:
        return False
    return True


def judge(raw: bytes, sqli: InjectionSignatures | None = None, xss: InjectionSignatures | None = None) -> dict:
    """``{sqli, xss, input}`` for one request's bytes (``input``: the first input that matched)."""
    sqli = sqli or InjectionSignatures(("sqli",))
    xss = xss or InjectionSignatures(("xss",))
    req = parse_http_request(raw)
    if req is None:
        return {"sqli": False, "xss": False, "input": ""}
    hits = [sqli.match(req), xss.match(req)]
    first = next((h for h in hits if h is not None), None)
    return {"sqli": hits[0] is not None, "xss": hits[1] is not None,
            "input": f"{first.where}:{first.value}" if first else ""}


def libinjection_verdicts(requests: Sequence[bytes | object]) -> pd.DataFrame:
    """One row per request, in order: ``libinj_flagged``, ``libinj_sqli``, ``libinj_xss``, ``libinj_input``."""
    try:
        sqli, xss = InjectionSignatures(("sqli",)), InjectionSignatures(("xss",))
    except SignatureError as exc:
        raise RuntimeError(str(exc)) from None
    cache: dict[bytes, dict] = {}
    rows = []
    for r in requests:
        raw = bytes(r if isinstance(r, (bytes, bytearray)) else getattr(r, "raw"))
        if raw not in cache:
            cache[raw] = judge(raw, sqli, xss)
        rows.append(cache[raw])
    df = pd.DataFrame(rows, columns=["sqli", "xss", "input"]).add_prefix("libinj_")
    df.insert(0, "libinj_flagged", df["libinj_sqli"] | df["libinj_xss"])
    return df
