"""A second, cheaper signature baseline: libinjection's SQLi and XSS detectors on a request's inputs.

libinjection is the tokenizer ModSecurity's CRS calls in rules 942100 (SQLi)
and 941100 (XSS). Here it runs in-process (the ``libinjection-python``
wrapper, in the ``lab`` and ``dev`` extras), with no web server, on what
those two rules look at: parameter names and values (query, form body, JSON
body), cookie names and values, the User-Agent and Referer headers, and for
XSS the path. Like the CRS, a value is checked as parsed (decoded once) and
decoded once more (the rules' ``t:urlDecodeUni``). A request is flagged when
any input is SQLi or XSS. It judges only those two families: traversal,
command injection, scanners and protocol abuse are out of its reach.

    verdicts = libinjection_verdicts(raws)   # libinj_flagged, libinj_sqli, libinj_xss, libinj_input
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from urllib.parse import unquote

import pandas as pd

from antinex.pipeline.http_message import HttpRequest, parse_http_request

PACKAGE = "libinjection-python"


def available() -> bool:
    """Whether the libinjection wrapper is installed."""
    try:
        import libinjection  # noqa: F401
    except ImportError:
        return False
    return True


def _json_inputs(value, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(name, value) of every leaf of a JSON body, as ModSecurity's JSON processor makes ARGS of them."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield "name", str(k)
            yield from _json_inputs(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _json_inputs(v, prefix)
    elif value is not None:
        yield "arg", str(value)


def request_inputs(req: HttpRequest) -> Iterator[tuple[str, str]]:
    """(kind, text) pairs libinjection looks at: ``arg``, ``name``, ``cookie``, ``header``, ``path``."""
    for name, value in req.params:
        yield "name", name
        yield "arg", value
    if req.content_type == "application/json" and req.body:
        try:
            yield from _json_inputs(json.loads(req.body.decode("utf-8", "replace")))
        except ValueError:
            pass  # an unparsable body: the CRS would log 200002 and not see its values either
    for cookie in (req.header("cookie") or "").split(";"):
        name, _, value = cookie.strip().partition("=")
        if name:
            yield "cookie", name
            yield "cookie", value
    for header in ("user-agent", "referer"):
        value = req.header(header)
        if value:
            yield "header", value
    yield "path", req.path


def judge(raw: bytes) -> dict:
    """``{sqli, xss, input}`` for one request's bytes (``input``: the first input that matched)."""
    import libinjection

    req = parse_http_request(raw)
    out = {"sqli": False, "xss": False, "input": ""}
    if req is None:
        return out
    for kind, text in request_inputs(req):
        if not text:
            continue
        for candidate in dict.fromkeys((text, unquote(text))):
            sqli = kind != "path" and libinjection.is_sql_injection(candidate)["is_sqli"]
            xss = libinjection.is_xss(candidate)["is_xss"]
            if (sqli or xss) and not out["input"]:
                out["input"] = f"{kind}:{candidate[:80]}"
            out["sqli"] |= bool(sqli)
            out["xss"] |= bool(xss)
    return out


def libinjection_verdicts(requests: Sequence[bytes | object]) -> pd.DataFrame:
    """One row per request, in order: ``libinj_flagged``, ``libinj_sqli``, ``libinj_xss``, ``libinj_input``."""
    if not available():
        raise RuntimeError(f"libinjection is not installed (pip install {PACKAGE}, in the lab/dev extras)")
    cache: dict[bytes, dict] = {}
    rows = []
    for r in requests:
        raw = bytes(r if isinstance(r, (bytes, bytearray)) else getattr(r, "raw"))
        if raw not in cache:
            cache[raw] = judge(raw)
        rows.append(cache[raw])
    df = pd.DataFrame(rows, columns=["sqli", "xss", "input"]).add_prefix("libinj_")
    df.insert(0, "libinj_flagged", df["libinj_sqli"] | df["libinj_xss"])
    return df
