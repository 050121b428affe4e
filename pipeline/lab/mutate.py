"""Evasion by mutation: the same attack requests, rewritten the way evasive tools rewrite payloads.

Each mutation rewrites the parameter values (query string and form body)
of a request and leaves everything else as sent, fixing Content-Length:

- ``percent``: every character of a value percent-encoded (``%53%45%4C...``);
- ``double``: the characters a plain encoding would escape, encoded twice (``%2527``);
- ``case``: letters in random case (``SeLeCt``);
- ``whitespace``: spaces replaced by tabs, newlines or ``/**/`` comments;
- ``all``: case, whitespace and percent together.

A server decodes a value once, so ``percent``, ``case`` and ``whitespace``
reach the application as the same attack (case and whitespace matter to
what the payload means only where the target ignores them, as SQL does).
"""
from __future__ import annotations

import random
from urllib.parse import quote, unquote_plus

from antinex.pipeline.http_message import parse_http_request

MUTATIONS = ("percent", "double", "case", "whitespace", "all")
_SPACES = ("\t", "\n", "/**/", "\x0b")


def _percent_all(value: str) -> str:
    return "".join(f"%{b:02X}" for b in value.encode("utf-8"))


def _mutate_value(value: str, how: str, rng: random.Random) -> str:
    """One decoded value, rewritten, then encoded for the wire."""
    if how in ("case", "all"):
        value = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in value)
    if how in ("whitespace", "all"):
        value = "".join(rng.choice(_SPACES) if c == " " else c for c in value)
    if how in ("percent", "all"):
        return _percent_all(value)
    if how == "double":
        return quote(quote(value, safe=""), safe="")
    return quote(value, safe="")


def _mutate_params(text: str, how: str, rng: random.Random) -> str:
    out = []
    for piece in text.split("&"):
        name, sep, value = piece.partition("=")
        out.append(name + sep + _mutate_value(unquote_plus(value), how, rng) if sep else piece)
    return "&".join(out)


def mutate_request(raw: bytes, how: str, seed: int = 0) -> bytes:
    """``raw`` with its parameter values rewritten by ``how`` (unchanged when it has no parameters)."""
    if how not in MUTATIONS:
        raise ValueError(f"unknown mutation {how!r} (use one of {', '.join(MUTATIONS)})")
    req = parse_http_request(raw)
    if req is None or not req.head_complete:
        return raw
    rng = random.Random(seed)
    target = req.target
    if "?" in target:
        path, query = target.split("?", 1)
        target = f"{path}?{_mutate_params(query, how, rng)}"
    body = req.body
    if req.content_type == "application/x-www-form-urlencoded" and body:
        body = _mutate_params(body.decode("latin-1"), how, rng).encode("latin-1")
    if target == req.target and body == req.body:
        return raw
    head = [f"{req.method} {target}" + (f" {req.version}" if req.version else "")]
    for name, value in req.headers:
        if name.lower() == "content-length" and body != req.body:
            value = str(len(body))
        head.append(f"{name}: {value}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
