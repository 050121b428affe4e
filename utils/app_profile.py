"""How an application is used, learned from its normal traffic only: the profile features.

AntiNex's idea is to learn how *your* application is used. ``AppProfile``
records, from the training split's normal requests only: the methods, the
path templates (``/items/{int}``), path segments and file extensions, every
parameter name by where it came from, and per parameter the shapes of its
values (digits, words, uuid, email, free text...), their length range and
the punctuation they contain; the header names, and per header the
punctuation of its values. ``features`` then says how far a request is from
that: how many of its parameter names were never seen, how many values have
a shape or a character their parameter never had, an extension the site
never served, and so on (``PROFILE_FEATURES`` names them).

The fitted profile is plain JSON (``to_json``/``from_json``), bounded
(``MAX_ENTRIES`` per vocabulary, most frequent kept) and deterministic
(sorted). Its ``format`` says how paths were read when it was fitted, so a
stored model keeps reading them that way: format 1 made placeholders of
whole-number, uuid and hex segments only; format 2 (:data:`FORMAT`) also
of the number at the end of a word (``/users/user7`` -> ``/users/user{int}``),
because a site's users, pages and items are numbered and the training
traffic never asks for all of them (the unseen clients' false positives of
the 2026-12-04 lab recording were ``GET /users/user5`` and ``user7``).
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from antinex.utils.request_view import COOKIE, RequestView

PROFILE_FEATURES: tuple[str, ...] = (
    "prof_method_unseen", "prof_template_unseen", "prof_segments_unseen", "prof_ext_unseen",
    "prof_path_new_chars", "prof_params", "prof_param_names_unseen", "prof_param_share_unseen",
    "prof_values_shape_unseen", "prof_values_too_long", "prof_values_new_chars", "prof_values_max_new_chars",
    "prof_cookie_names_unseen", "prof_cookie_new_chars", "prof_content_type_unseen", "prof_header_names_unseen",
    "prof_header_new_chars", "prof_header_too_long", "prof_double_encoded", "prof_other_body",
)
# profile features that describe the client rather than the application (header names and
# values): left out with "profile": "app" (see docs/request-features.md)
CLIENT_FEATURES = frozenset({"prof_header_names_unseen", "prof_header_new_chars", "prof_header_too_long"})

MAX_ENTRIES = 5000  # per vocabulary: the most frequent are kept
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_HEX = re.compile(r"^[0-9a-fA-F]{8,}$")
_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?\d*\.\d+$")
_WORDS = re.compile(r"^[\w .,-]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.=+/]{16,}$")
_URL = re.compile(r"^https?://\S+$", re.I)
_SEGMENT_INT = re.compile(r"^\d+$")
_SEGMENT_NUMBERED = re.compile(r"^[A-Za-z][A-Za-z_-]*(\d+)$")  # user7, page-2, item_12 (not v2.1, a1b2)
FORMAT = 2  # how a profile reads paths (the module docstring); profiles without one are format 1
FORMATS = (1, 2)  # the formats this code reads


@lru_cache(maxsize=1 << 16)
def shape(value: str) -> str:
    """The shape class of a value: empty, int, float, uuid, hex, email, url, alpha, alnum, words, token, text."""
    if not value:
        return "empty"
    if _INT.match(value):
        return "int"
    if _FLOAT.match(value):
        return "float"
    if _UUID.match(value):
        return "uuid"
    if _HEX.match(value) and any(c.isdigit() for c in value):
        return "hex"
    if value.isalpha():
        return "alpha"
    if value.isalnum():
        return "alnum"
    if _EMAIL.match(value):
        return "email"
    if _URL.match(value):
        return "url"
    if _TOKEN.match(value) and not value.isspace():
        return "token"
    if _WORDS.match(value):
        return "words"
    return "text"


_PUNCTUATION = re.compile(r"[^\w ]|_")


@lru_cache(maxsize=1 << 16)  # headers and many values repeat from request to request
def punctuation(value: str) -> frozenset[str]:
    """The characters of ``value`` that are neither letters, digits nor a space."""
    if value.isalnum():  # most values: nothing to collect
        return frozenset()
    return frozenset(_PUNCTUATION.findall(value))


def segment_key(segment: str, fmt: int = FORMAT) -> str:
    """A path segment as a profile of format ``fmt`` reads it: ``17`` -> ``{int}``, a uuid -> ``{uuid}``, a hash
    -> ``{hex}``, and (format 2) ``user7`` -> ``user{int}``; other segments as they are."""
    if _SEGMENT_INT.match(segment):
        return "{int}"
    if _UUID.match(segment):
        return "{uuid}"
    if _HEX.match(segment) and any(c.isdigit() for c in segment):
        return "{hex}"
    if fmt >= 2 and segment[-1:].isdigit():
        m = _SEGMENT_NUMBERED.match(segment)
        if m:
            return segment[:m.start(1)] + "{int}"
    return segment


def template(segments: list[str], fmt: int = FORMAT) -> str:
    """``["items", "17"]`` -> ``"/items/{int}"`` (ids and hashes become placeholders; :func:`segment_key`)."""
    return "/" + "/".join(segment_key(s, fmt) for s in segments)


def _top(counter: Counter) -> list[str]:
    return sorted(k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ENTRIES])


class AppProfile:
    """The profile of an application's normal requests (see the module docstring)."""

    def __init__(self, fmt: int = FORMAT):
        if fmt not in FORMATS:
            raise ValueError(f"application profile format {fmt} is not one of {', '.join(map(str, FORMATS))}")
        self.format = fmt  # how paths are read (the module docstring)
        self.methods: set[str] = set()
        self.templates: set[str] = set()
        self.segments: set[str] = set()
        self.exts: set[str] = set()
        self.path_chars: set[str] = set()
        self.params: dict[str, dict] = {}  # "source:name" -> {"shapes", "max_len", "chars"}
        self.value_chars: set[str] = set()  # punctuation of any normal value (for unseen names)
        self.content_types: set[str] = set()
        self.headers: dict[str, dict] = {}  # name -> {"max_len", "chars"}

    # -- fitting ---------------------------------------------------------------
    def fit(self, views: list[RequestView]) -> "AppProfile":
        """Learn the profile from normal requests."""
        methods, templates, segments, exts = Counter(), Counter(), Counter(), Counter()
        names: Counter = Counter()
        shapes: dict[str, set] = defaultdict(set)
        lengths: dict[str, int] = defaultdict(int)
        chars: dict[str, set] = defaultdict(set)
        headers: Counter = Counter()
        header_len: dict[str, int] = defaultdict(int)
        header_chars: dict[str, set] = defaultdict(set)
        path_chars, value_chars, ctypes = set(), set(), set()
        for v in views:
            f = facts(v)
            methods[v.method] += 1
            templates[f.templates[self.format]] += 1
            segments.update(f.segments[self.format])
            if v.ext:
                exts[v.ext] += 1
            path_chars |= f.path_chars
            if v.content_type:
                ctypes.add(v.content_type)
            for key, cookie, kind, length, p in f.params:
                names[key] += 1
                shapes[key].add(kind)
                lengths[key] = max(lengths[key], length)
                chars[key] |= p
                if not cookie:
                    value_chars |= p
            for name, length, p in f.headers:
                headers[name] += 1
                header_len[name] = max(header_len[name], length)
                header_chars[name] |= p
        self.methods = set(methods)
        self.templates = set(_top(templates))
        self.segments = set(_top(segments))
        self.exts = set(exts)
        self.path_chars = path_chars
        self.value_chars = value_chars
        self.content_types = ctypes
        self.params = {k: {"shapes": sorted(shapes[k]), "max_len": lengths[k], "chars": "".join(sorted(chars[k]))}
                       for k in _top(names)}
        self.headers = {k: {"max_len": header_len[k], "chars": "".join(sorted(header_chars[k]))}
                        for k in _top(headers)}
        self._index()
        return self

    def _index(self) -> None:
        # sets for the per-request lookups (the JSON form keeps sorted strings)
        self._param_shapes = {k: set(p["shapes"]) for k, p in self.params.items()}
        self._param_chars = {k: set(p["chars"]) for k, p in self.params.items()}
        self._header_chars = {k: set(h["chars"]) for k, h in self.headers.items()}

    # -- features ----------------------------------------------------------------
    def features(self, views: list[RequestView]) -> np.ndarray:
        """The ``PROFILE_FEATURES`` of each request (raw counts and flags, float32)."""
        out = np.zeros((len(views), len(PROFILE_FEATURES)), dtype=np.float32)
        for i, v in enumerate(views):
            out[i] = self._row(v, facts(v))
        return out

    def _row(self, v: RequestView, f: "Facts") -> list[float]:
        segments_unseen = sum(s not in self.segments for s in f.segments[self.format] if s != "{int}")
        n_params = names_unseen = shape_unseen = too_long = new_chars = max_new = 0
        cookie_unseen = cookie_chars = 0
        for key, cookie, kind, length, p in f.params:
            known = self.params.get(key)
            if cookie:
                if known is None:
                    cookie_unseen += 1
                else:
                    cookie_chars += len(p - self._param_chars[key])
                continue
            n_params += 1
            if known is None:
                names_unseen += 1
                fresh = len(p - self.value_chars)
            else:
                shape_unseen += kind not in self._param_shapes[key]
                too_long += length > 2 * known["max_len"] + 8
                fresh = len(p - self._param_chars[key])
            new_chars += fresh
            max_new = max(max_new, fresh)
        header_unseen = header_chars = header_long = 0
        for name, length, p in f.headers:
            known = self.headers.get(name)
            if known is None:
                header_unseen += 1
                continue
            header_chars += len(p - self._header_chars[name])
            header_long += length > 2 * known["max_len"] + 16
        return [
            float(v.method not in self.methods),
            float(f.templates[self.format] not in self.templates),
            float(segments_unseen),
            float(bool(v.ext) and v.ext not in self.exts),
            float(len(f.path_chars - self.path_chars)),
            float(n_params),
            float(names_unseen),
            names_unseen / n_params if n_params else 0.0,
            float(shape_unseen),
            float(too_long),
            float(new_chars),
            float(max_new),
            float(cookie_unseen),
            float(cookie_chars),
            float(bool(v.content_type) and v.content_type not in self.content_types),
            float(header_unseen),
            float(header_chars),
            float(header_long),
            float(v.double_encoded),
            float(bool(v.other)),
        ]

    # -- JSON ------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": self.format, "methods": sorted(self.methods), "templates": sorted(self.templates),
                "segments": sorted(self.segments), "exts": sorted(self.exts),
                "path_chars": "".join(sorted(self.path_chars)), "value_chars": "".join(sorted(self.value_chars)),
                "content_types": sorted(self.content_types), "params": self.params, "headers": self.headers}

    @classmethod
    def from_json(cls, data: dict) -> "AppProfile":
        p = cls(int(data.get("format", 1)))  # profiles stored before formats were format 1
        p.methods, p.templates = set(data["methods"]), set(data["templates"])
        p.segments, p.exts = set(data["segments"]), set(data["exts"])
        p.path_chars, p.value_chars = set(data["path_chars"]), set(data["value_chars"])
        p.content_types = set(data["content_types"])
        p.params = {k: {"shapes": list(v["shapes"]), "max_len": int(v["max_len"]), "chars": str(v["chars"])}
                    for k, v in data["params"].items()}
        p.headers = {k: {"max_len": int(v["max_len"]), "chars": str(v["chars"])} for k, v in data["headers"].items()}
        p._index()
        return p


@dataclass
class Facts:
    """What the profile reads of one request, computed once per request (the out-of-fold fits read each
    training request six times)."""

    templates: dict  # format -> the path's template as that format reads it
    segments: dict  # format -> the path's segments as that format reads them
    path_chars: set
    params: list  # (key, is cookie, shape, length, punctuation) per parameter
    headers: list  # (name, length, punctuation) per header


def facts(v: RequestView) -> Facts:
    """The :class:`Facts` of ``v``, cached on the view."""
    cached = v.__dict__.get("_facts")
    if cached is None:
        keys = {fmt: [segment_key(s, fmt) for s in v.segments] for fmt in FORMATS}
        cached = Facts({fmt: "/" + "/".join(k) for fmt, k in keys.items()}, keys, punctuation(v.path),
                       [(_key(s, n), s == COOKIE, shape(val), len(val), punctuation(val)) for s, n, val in v.params],
                       [(n, len(val), punctuation(val)) for n, val in v.headers])
        v.__dict__["_facts"] = cached
    return cached


def _key(source: str, name: str) -> str:
    # query, form, JSON and multipart parameters share one namespace (a form may move to the
    # query string); cookies have their own
    return f"c:{name}" if source == COOKIE else f"p:{name}"


def log_counts(x: np.ndarray) -> np.ndarray:
    """``log1p`` of non-negative counts: heavy tails compressed, zero stays zero."""
    return np.log1p(np.maximum(x, 0.0, dtype=np.float32))


