"""The JSON parser of every endpoint (refuses bodies nested too deeply, before they are parsed), and the
check that a parsed body holds only text PostgreSQL can store.

Python's recursive code (``json``, ``copy``, serializers, the request
schema) fails with ``RecursionError`` somewhere below 1,000 levels, so a
small body of brackets could otherwise become a 500. The depth is measured
on the raw bytes with a few C-level passes and numpy, never by walking the
parsed object: a legal body is 40 MB with 200,000 rows.
"""
from __future__ import annotations

import codecs
import json

import numpy as np
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from antinex.utils.limits import LIMITS
from antinex.utils.request_values import RequestError

# every byte except the five that matter for nesting: " [ ] { }
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b'"[]{}')
# depth change per byte: +1 opens, -1 closes, 0 otherwise
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_depth(body: bytes) -> int:
    """How deeply the arrays/objects of a UTF-8 JSON text nest (0 for a scalar).

    Brackets inside string literals do not count. Escaped backslashes go
    first, then escaped quotes, so every quote left opens or closes a
    string; a bracket is outside every string when an even number of quotes
    precede it. Invalid JSON gets some number; ``json.loads`` refuses it next.
    """
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURAL)
    codes = np.frombuffer(text, dtype=np.uint8)
    quote = codes == ord('"')
    # uint8 wraps around at 256, which keeps the parity: 1 byte per byte of text
    outside = (np.cumsum(quote, dtype=np.uint8) & 1) == 0
    steps = _STEP[codes[outside & ~quote]]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser with a nesting limit (``ANTINEX_MAX_JSON_DEPTH``) and no 500 on any body.

    Refusals are ``RequestError("body", reason)``: the API's 400 ``{"error",
    "field", "reason"}`` (api/ml/errors.py).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            raw = stream.read()
            if codecs.lookup(encoding).name != "utf-8":
                raw = raw.decode(encoding).encode("utf-8")  # the depth is measured on UTF-8 bytes
            depth = json_depth(raw)
            if depth > LIMITS.max_json_depth:
                raise RequestError("body", f"JSON nested {depth} levels deep; the limit is "
                                           f"{LIMITS.max_json_depth} (ANTINEX_MAX_JSON_DEPTH)")
            return json.loads(raw.decode("utf-8"), parse_constant=strict_constant if self.strict else None)
        except RequestError:
            raise
        except (ValueError, RecursionError, LookupError) as exc:  # ValueError covers UnicodeDecodeError
            raise RequestError("body", f"not valid JSON: {exc}") from None


def unstorable(value, path: str = "body") -> str | None:
    """Where ``value`` holds text PostgreSQL cannot store (NUL, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return path
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = unstorable(k, f"{path} key") if isinstance(k, str) else None
            bad = bad or unstorable(v, f"{path}.{k}")
            if bad:
                return bad
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad = unstorable(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


def _may_be_unstorable(body) -> bool:
    """A fast prefilter for ``unstorable``: one C-level JSON encoding instead of a walk over every cell.

    NUL is always escaped as ``\\u0000`` in JSON, and a lone surrogate cannot
    be encoded to UTF-8; a literal backslash-u0000 in the text is a false
    alarm that the walk then clears.
    """
    try:
        text = json.dumps(body, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return True
    return "\\u0000" in text


def check_storable(body) -> None:
    """A RequestError naming the first field with NUL characters or lone surrogates (the database refuses them)."""
    if not _may_be_unstorable(body):
        return
    bad = unstorable(body)
    if bad is None:
        return
    field = bad.removeprefix("body.").split(".")[0].split("[")[0].removesuffix(" key") or "body"
    raise RequestError(field, f"contains characters that cannot be stored (NUL or lone surrogates) at {bad[:80]!r}")
