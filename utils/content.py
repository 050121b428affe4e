"""Request content as numbers: the matrix a network learns from (a request's ``content`` field).

Two encodings of a dataset's request-text column (``http_request``, one request
per row in the text form of :func:`pipeline.http_message.request_to_text`):

``"features"`` (:class:`RequestContent`, for Dense networks): one sparse row per
request made of

- **hashed n-grams**: byte 1–3-grams (``ngrams``) of the request's *payload
  text* (the decoded path, every ``name=value`` of the query, form, JSON and
  multipart body, other body text and, with ``headers: "values"``, the values
  a client fills in headers and cookies: a ``Referer``, a cookie, a custom
  header; never protocol syntax such as ``Accept``, never the ``User-Agent``,
  which names the client; lower-cased), tokens for the method, the path
  segments, the extension, each parameter name and the shape of its value, and
  (``headers: "shape"``) the header names with their values reduced to their
  punctuation (``Mozilla/5.0 (X11; ...)`` reads ``a/a.a (a; ...)``), all
  hashed into ``hash_dims`` columns; sublinear TF (``1 + log tf``) times an
  IDF fitted on the training rows, each row L2-normalised. Columns no training row
  touched get IDF 0: an n-gram never seen in training adds nothing, instead of
  whatever random weight its input kept from initialisation;
- **profile** (``profile``): how far the request is from the application's
  normal traffic of the training split (:mod:`utils.app_profile`);
- **aggregate** (``aggregate``): the payload features of
  :mod:`pipeline.payload_features` computed on the whole request, and two flags:
  the head or the body never arrived whole (a slow-rate attack's trickle).

The dense columns (profile and aggregate) are ``log1p``-compressed and divided
by their training maximum, so every column lies in about [0, 1].

``"bytes"`` (:func:`byte_tokens`, for sequence networks): the first ``max_len``
bytes of the request as tokens 1–256 (byte value + 1), 0 padding after the end.

Everything fitted is JSON (``to_json``/``from_json``), stored beside the model
as the artifact ``request-content`` (``TrainedModel.artifacts``), and
deterministic: the hash is a fixed 64-bit mix, never Python's salted ``hash``.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from antinex.pipeline.http_message import request_from_text
from antinex.pipeline.payload_features import PAYLOAD_FEATURES, filled_in, payload_features
from antinex.utils.app_profile import CLIENT_FEATURES, FORMAT, FORMATS, PROFILE_FEATURES, AppProfile, facts
from antinex.utils.request_view import COOKIE, RequestView, parse_cell

ENCODINGS = ("features", "bytes")
HEADER_MODES = ("values", "shape", "none")
PROFILE_MODES = ("all", "app", "none")
# what training does with attack rows whose content equals a normal row's (see conflicting_rows)
CONFLICT_MODES = ("keep", "drop")
# n-gram text per request and namespace: an attack sits in the first kilobytes; a 64 KB upload
# must not cost 200,000 n-grams
MAX_TEXT_BYTES = 4096
BYTE_VOCABULARY = 257  # byte tokens 1..256 and the padding token 0
# the payload features that are ratios in [0, 1] already (no log compression)
_RATIOS = frozenset({"payload_printable_ratio", "payload_upper_ratio", "payload_digit_ratio"})
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
# the aggregate block: the payload features of the whole request, and whether its head and body are whole
AGGREGATE_COLUMNS: tuple[str, ...] = tuple(f"req_{f}" for f in PAYLOAD_FEATURES) + ("req_head_incomplete",
                                                                                    "req_body_incomplete")


@dataclass
class ContentSpec:
    """What a request's ``content`` field asks for (validated in :mod:`utils.network_options`)."""

    column: str = "http_request"
    encoding: str = "features"
    ngrams: tuple[int, int] = (1, 3)
    hash_dims: int = 2048
    tokens: bool = True
    headers: str = "values"
    profile: str = "app"
    aggregate: bool = True
    max_len: int = 512  # bytes encoding: tokens per request
    folds: int = 5  # out-of-fold profile features for the training rows (see RequestContent.fit_transform)
    conflicts: str = "keep"  # "drop": leave attack rows whose content is a normal row's out of training

    def to_json(self) -> dict:
        out = asdict(self)
        out["ngrams"] = list(self.ngrams)
        return out

    @classmethod
    def from_json(cls, data: dict) -> "ContentSpec":
        data = dict(data)
        data["ngrams"] = tuple(data.get("ngrams") or (1, 3))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def profile_columns(self) -> list[str]:
        if self.profile == "none":
            return []
        return [f for f in PROFILE_FEATURES if self.profile == "all" or f not in CLIENT_FEATURES]

    @property
    def dense_columns(self) -> list[str]:
        return self.profile_columns + (list(AGGREGATE_COLUMNS) if self.aggregate else [])

    @property
    def width(self) -> int:
        """Columns of the matrix (features) or tokens per row (bytes)."""
        if self.encoding == "bytes":
            return self.max_len
        return self.hash_dims + len(self.dense_columns)


# -- hashing -------------------------------------------------------------------
def _mix(key: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash of 64-bit keys (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = key.astype(np.uint64, copy=True)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _bucket(hashed: np.ndarray, dims: int) -> np.ndarray:
    # Lemire's range reduction of the high 32 bits: uniform for any number of columns
    return ((hashed >> np.uint64(32)) * np.uint64(dims) >> np.uint64(32)).astype(np.int64)


def ngram_columns(docs: list[bytes], lo: int, hi: int, dims: int, namespace: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every byte ``lo``..``hi``-gram of every doc (vectorised over the whole batch)."""
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    buf = np.frombuffer(b"".join(docs), dtype=np.uint8).astype(np.uint64)
    row = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    rows, cols = [], []
    for k in range(lo, hi + 1):
        m = len(buf) - k + 1
        if m <= 0:
            continue
        key = buf[:m].copy()
        for j in range(1, k):
            key |= buf[j:j + m] << np.uint64(8 * j)
        same = row[:m] == row[k - 1:k - 1 + m]  # n-grams never cross two requests
        key = key[same] ^ (np.uint64(k) << np.uint64(56)) ^ (np.uint64(namespace) << np.uint64(60))
        rows.append(row[:m][same])
        cols.append(_bucket(_mix(key), dims))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def token_columns(tokens: list[list[str]], dims: int, namespace: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every token (crc32 of its UTF-8 bytes, then the same mix)."""
    counts = [len(t) for t in tokens]
    flat = [zlib.crc32(t.encode("utf-8", "replace")) for ts in tokens for t in ts]
    if not flat:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.asarray(flat, dtype=np.uint64) ^ (np.uint64(namespace) << np.uint64(60)) ^ (np.uint64(1) << np.uint64(40))
    return np.repeat(np.arange(len(tokens), dtype=np.int64), counts), _bucket(_mix(key), dims)


# -- what each request contributes ------------------------------------------------
def payload_text(v: RequestView, header_values: bool = False) -> bytes:
    """The decoded path, each non-cookie ``name=value``, the other body text and (``header_values``) the values
    a client fills in headers and cookies (never protocol syntax such as ``Accept``, never the User-Agent),
    lower-case."""
    parts = [v.path]
    parts += [f"{name}={value}" for source, name, value in v.params if source != COOKIE or header_values]
    if header_values:
        # the User-Agent names the client (a tool's name would teach the network that tool, not its attacks);
        # an injection into it still shows in the aggregate counts
        parts += [value for name, value in v.headers if name != "user-agent" and filled_in(name, value)]
    if v.other:
        parts.append(v.other)
    return "\n".join(parts).lower().encode("utf-8", "replace")[:MAX_TEXT_BYTES]


def header_text(v: RequestView) -> bytes:
    """Header names and values reduced to their punctuation (letters and digits runs become ``a``), cookies too."""
    parts = [f"{name}:{_ALNUM_RUN.sub('a', value)}" for name, value in v.headers]
    parts += [f"cookie:{_ALNUM_RUN.sub('a', name)}={_ALNUM_RUN.sub('a', value)}"
              for source, name, value in v.params if source == COOKIE]
    return "\n".join(parts).encode("utf-8", "replace")[:MAX_TEXT_BYTES]


_DIGIT_RUN = re.compile(rb"[0-9]+")


def content_key(v: RequestView) -> tuple:
    """What a request asks of the application, whoever sends it: the method, the decoded path, every
    non-cookie ``name=value`` and the other body text (digit runs read as 0: ``/items/7`` is
    ``/items/12``), and whether the head and body arrived whole. Headers and cookies are left out:
    they describe the client, not the request."""
    return v.method, _DIGIT_RUN.sub(b"0", payload_text(v)), v.head_complete, v.body_complete


def content_keys(cells) -> list[tuple]:
    """The :func:`content_key` of each dataset cell (parsing is the cost: compute them once per dataset)."""
    return [content_key(parse_cell(c)) for c in cells]


def conflicts_of(keys: list[tuple], y) -> np.ndarray:
    """:func:`conflicting_rows` from the rows' :func:`content_keys`."""
    y = np.asarray(y)
    if not len(y):
        return np.zeros(0, dtype=bool)
    normal = y == np.min(y)
    seen = {k for k, is_normal in zip(keys, normal) if is_normal}
    return np.array([not is_normal and k in seen for k, is_normal in zip(keys, normal)], dtype=bool)


def conflicting_rows(cells, y) -> np.ndarray:
    """True for the rows of ``y``'s other classes whose :func:`content_key` equals a row's of the lowest
    (normal) class: an attack tool's crawl of public pages, its first untouched request, a brute-force
    tool's plain login page. No content can tell them from normal use; trained on as attacks, they teach
    the network the tool's header set, and every unseen client with a similar one becomes an attack."""
    return conflicts_of(content_keys(cells), y)


def request_tokens(v: RequestView, fmt: int = FORMAT) -> list[str]:
    """Method, path template pieces (as a profile of format ``fmt`` reads the path: ``utils.app_profile``),
    extension, parameter names and the shapes of their values."""
    f = facts(v)
    out = [f"m:{v.method}", f"t:{f.templates[fmt]}"[:200]]
    out += [f"s:{s}"[:80] for s in f.segments[fmt]]
    if v.ext:
        out.append(f"x:{v.ext}")
    for key, cookie, kind, _, _ in f.params:
        out += [key[:80]] if cookie else [key[:80], f"{key}={kind}"[:90]]
    return out


def aggregate_features(views: list[RequestView]) -> np.ndarray:
    """The ``AGGREGATE_COLUMNS`` of each request (float32)."""
    out = np.zeros((len(views), len(AGGREGATE_COLUMNS)), dtype=np.float32)
    for i, v in enumerate(views):
        f = payload_features(v.raw)
        out[i] = [f[name] for name in PAYLOAD_FEATURES] + [float(not v.head_complete), float(not v.body_complete)]
    return out


class RequestContent:
    """The ``"features"`` encoding as a scikit-learn-style estimator (see the module docstring).

    ``fit_transform(cells, y)`` is not ``fit(cells, y).transform(cells)``: like
    scikit-learn's ``TargetEncoder`` it computes the training rows' profile
    features out of fold (each normal row against a profile fitted on the
    other folds' normal rows), so the network sees what an unseen but normal
    value looks like instead of learning that normal rows never hold one.
    """

    def __init__(self, spec: ContentSpec | None = None, fmt: int = FORMAT):
        self.spec = spec or ContentSpec()
        self.format = fmt  # how paths are read: the tokens' and the profile's (utils.app_profile.FORMAT)
        self.idf: np.ndarray | None = None
        self.dense_scale: np.ndarray | None = None
        self.profile: AppProfile | None = None

    # -- scikit-learn API -----------------------------------------------------------
    def fit(self, cells, y) -> "RequestContent":
        self.fit_transform(cells, y)
        return self

    def fit_transform(self, cells, y) -> sp.csr_matrix:
        """Fit on the training rows (``y``: their classes; the lowest is normal) and return their matrix."""
        views = [parse_cell(c) for c in cells]
        y = np.asarray(y)
        normal = y == np.min(y) if len(y) else np.zeros(0, bool)
        counts = self._counts(views)
        df = np.bincount(counts.indices, minlength=self.spec.hash_dims)  # summed: one entry per row and column
        n = len(views)
        self.idf = np.where(df > 0, np.log((1.0 + n) / (1.0 + df)) + 1.0, 0.0).astype(np.float32)
        dense = None
        if self.spec.dense_columns:
            if self.spec.profile_columns:
                self.profile = AppProfile(self.format).fit([v for v, is_normal in zip(views, normal) if is_normal])
            raw = self._dense_raw(views, self._out_of_fold(views, normal))
            self.dense_scale = np.maximum(raw.max(axis=0, initial=0.0), 1e-6).astype(np.float32)
            dense = raw / self.dense_scale
        return self._assemble(counts, dense)

    def transform(self, cells) -> sp.csr_matrix:
        """The matrix of new rows with the fitted IDF, profile and scales."""
        if self.idf is None:
            raise RuntimeError("RequestContent is not fitted")
        views = [parse_cell(c) for c in cells]
        dense = None
        if self.spec.dense_columns:
            profile = self.profile.features(views) if self.profile is not None else None
            dense = self._dense_raw(views, profile) / self.dense_scale
        return self._assemble(self._counts(views), dense)

    @property
    def names(self) -> list[str]:
        """Column names: ``ng_0``.. for the hashed columns, then the dense columns."""
        return [f"ng_{i}" for i in range(self.spec.hash_dims)] + self.spec.dense_columns

    # -- parts ------------------------------------------------------------------------
    def _hashed(self, views: list[RequestView]) -> tuple[np.ndarray, np.ndarray]:
        s, dims = self.spec, self.spec.hash_dims
        values = s.headers == "values"
        parts = [ngram_columns([payload_text(v, values) for v in views], s.ngrams[0], s.ngrams[1], dims, 1)]
        if s.headers == "shape":
            parts.append(ngram_columns([header_text(v) for v in views], s.ngrams[0], s.ngrams[1], dims, 2))
        if s.tokens:
            parts.append(token_columns([request_tokens(v, self.format) for v in views], dims, 3))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _out_of_fold(self, views: list[RequestView], normal: np.ndarray) -> np.ndarray | None:
        if self.profile is None:
            return None
        out = self.profile.features(views)  # attack rows: against every normal row
        where = np.flatnonzero(normal)
        k = self.spec.folds
        if len(where) < 2 * k:
            return out
        # fixed folds (every k-th normal row): deterministic, and no seed to store
        for fold in range(k):
            held = where[fold::k]
            rest = np.setdiff1d(where, held, assume_unique=True)
            fold_profile = AppProfile(self.format).fit([views[i] for i in rest])
            out[held] = fold_profile.features([views[i] for i in held])
        return out

    def _dense_raw(self, views: list[RequestView], profile: np.ndarray | None) -> np.ndarray:
        blocks = []
        if profile is not None:
            keep = [PROFILE_FEATURES.index(c) for c in self.spec.profile_columns]
            blocks.append(np.log1p(np.maximum(profile[:, keep], 0)))
        if self.spec.aggregate:
            agg = aggregate_features(views)
            for j, name in enumerate(PAYLOAD_FEATURES):  # the two flags after them stay 0/1
                if name not in _RATIOS:
                    agg[:, j] = np.log1p(np.maximum(agg[:, j], 0))
            blocks.append(agg)
        return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(views), 0), np.float32)

    def _counts(self, views: list[RequestView]) -> sp.csr_matrix:
        """Term counts per request and hashed column (duplicates summed, indices sorted)."""
        rows, cols = self._hashed(views)
        counts = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(views), self.spec.hash_dims),
                               dtype=np.float32)
        counts.sum_duplicates()
        return counts

    def _assemble(self, counts: sp.csr_matrix, dense: np.ndarray | None) -> sp.csr_matrix:
        """Sublinear TF x IDF, rows L2-normalised, then the dense columns beside them."""
        counts.data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        counts = sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)) @ counts
        if dense is not None and dense.shape[1]:
            counts = sp.hstack([counts, sp.csr_matrix(dense)], format="csr", dtype=np.float32)
        out = counts.tocsr().astype(np.float32)
        out.sort_indices()  # TensorFlow's sparse ops (Keras fit on a CSR matrix) need sorted indices
        return out

    # -- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict:
        if self.idf is None:
            raise RuntimeError("RequestContent is not fitted")
        return {"format": self.format, "spec": self.spec.to_json(),
                "idf": [float(v) for v in self.idf],
                "dense_scale": [float(v) for v in self.dense_scale] if self.dense_scale is not None else None,
                "profile": self.profile.to_json() if self.profile is not None else None}

    @classmethod
    def from_json(cls, data: dict) -> "RequestContent":
        fmt = data.get("format", 1)
        if fmt not in FORMATS:
            raise ValueError(f"content artifact of format {fmt!r}: this AntiNex reads formats "
                             f"{', '.join(map(str, FORMATS))}")
        est = cls(ContentSpec.from_json(data["spec"]), fmt)  # a stored model reads paths as it was trained to
        est.idf = np.asarray(data["idf"], dtype=np.float32)
        if len(est.idf) != est.spec.hash_dims:
            raise ValueError(f"content artifact: {len(est.idf)} IDF values for {est.spec.hash_dims} columns")
        if data.get("dense_scale") is not None:
            est.dense_scale = np.asarray(data["dense_scale"], dtype=np.float32)
        if data.get("profile") is not None:
            est.profile = AppProfile.from_json(data["profile"])
        return est


def byte_tokens(cells, max_len: int) -> np.ndarray:
    """The ``"bytes"`` encoding: (rows, ``max_len``) int32 tokens, byte value + 1, 0 after the end."""
    out = np.zeros((len(cells), max_len), dtype=np.int32)
    for i, cell in enumerate(cells):
        if not isinstance(cell, str):
            cell = "" if cell is None or cell != cell else str(cell)
        try:
            raw = request_from_text(cell)
        except ValueError:
            raw = cell.encode("utf-8", "replace")
        raw = raw[:max_len]
        out[i, :len(raw)] = np.frombuffer(raw, dtype=np.uint8).astype(np.int32) + 1
    return out


class ByteTokens:
    """The ``"bytes"`` encoding with the estimator API of :class:`RequestContent` (nothing to fit)."""

    def __init__(self, spec: ContentSpec):
        self.spec = spec

    def fit_transform(self, cells, y=None) -> np.ndarray:
        return self.transform(cells)

    def transform(self, cells) -> np.ndarray:
        return byte_tokens(cells, self.spec.max_len)

    def to_json(self) -> dict:
        return {"format": 1, "spec": self.spec.to_json()}


def content_encoder(spec: ContentSpec) -> "RequestContent | ByteTokens":
    """A new (unfitted) encoder for ``spec``."""
    return ByteTokens(spec) if spec.encoding == "bytes" else RequestContent(spec)


def load_content(data: dict) -> "RequestContent | ByteTokens":
    """The fitted encoder of a stored ``content`` artifact (its JSON)."""
    if not isinstance(data, dict) or data.get("format") not in FORMATS or not isinstance(data.get("spec"), dict):
        raise ValueError("content artifact: not a content encoder of format 1 or 2")
    spec = ContentSpec.from_json(data["spec"])
    return ByteTokens(spec) if spec.encoding == "bytes" else RequestContent.from_json(data)


__all__ = ["BYTE_VOCABULARY", "ByteTokens", "CONFLICT_MODES", "ContentSpec", "ENCODINGS", "HEADER_MODES",
           "PROFILE_MODES", "RequestContent", "byte_tokens", "conflicting_rows", "conflicts_of", "content_encoder",
           "content_key", "content_keys", "load_content"]
