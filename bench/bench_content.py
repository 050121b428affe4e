"""Request content: requests per second per core of the content encoder, the payload features and the
forward pass of a content network.

Ours: ``utils.content.RequestContent`` (the candidate default's declaration,
``utils/data/default/request-content.json``: hashed byte 1–3-grams in 2,048
columns, tokens, application profile, the payload features of the whole
request) fitting on 5,000 requests and
transforming 20,000; ``pipeline.payload_features.payload_features`` on whole
requests; the numpy forward pass of a 64-32-1 Dense network over the sparse
content matrix. Baselines, same run, same requests: scikit-learn's
``TfidfVectorizer`` (char 1–3-grams, sublinear TF) fitting and transforming
the request text; the payload features as they were before they learnt to
skip protocol syntax (Python loops over the bytes, kept below); Keras'
``predict`` of the same network on the same matrix.
"""
from __future__ import annotations

import math
import os
import random
import re
import time
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WORDS = ["report", "invoice", "meeting", "notes", "holiday", "budget", "draft", "O'Brien", "café crème", "plan"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
       "curl/7.88.1", "python-requests/2.32.3"]
PAYLOADS = ["' OR 1=1-- -", "1 UNION ALL SELECT NULL,NULL,table_name FROM information_schema.tables--",
            "<script>alert(1)</script>", "../../../../etc/passwd", "1; WAITFOR DELAY '0:0:5'--"]


def requests(n: int, seed: int = 1) -> tuple[list[str], list[int]]:
    """``n`` request texts (``request_to_text``) of a notes app, a quarter of them attacks; seeded."""
    from urllib.parse import quote

    from antinex.pipeline.http_message import request_to_text

    rng = random.Random(seed)
    cells, labels = [], []
    for _ in range(n):
        head = (f"Host: 10.77.0.10:8080\r\nUser-Agent: {rng.choice(UAS)}\r\nAccept: text/html,*/*;q=0.8\r\n"
                f"Accept-Encoding: gzip, deflate\r\nCookie: sid={rng.getrandbits(128):032x}\r\nConnection: keep-alive\r\n")
        attack = rng.random() < 0.25
        value = rng.choice(WORDS) + (rng.choice(PAYLOADS) if attack else "")
        kind = rng.random()
        if kind < 0.5:
            raw = f"GET /search?q={quote(value)}&page={rng.randint(1, 9)} HTTP/1.1\r\n{head}\r\n"
        elif kind < 0.8:
            body = f"title={quote(value)}&body={quote(' '.join(rng.choices(WORDS, k=12)))}"
            raw = (f"POST /items HTTP/1.1\r\n{head}Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}")
        else:
            raw = f"GET /items/{rng.randint(1, 500)} HTTP/1.1\r\n{head}\r\n"
        cells.append(request_to_text(raw.encode("utf-8")))
        labels.append(int(attack))
    return cells, labels


# -- the payload features before this change (the baseline): Python loops over every byte -------------
_OLD_SQL = re.compile(rb"(?i)(\bunion\b|\bselect\b|\bsleep\s*\(|\bbenchmark\s*\(|\bor\s+\d+=\d+|\band\s+\d+=\d+|"
                      rb"--(?:\s|-|\#|$)|/\*|\bwaitfor\b|\binformation_schema\b|\bconcat\s*\(|\bchar\s*\(|"
                      rb"\bcast\s*\(|\bxp_)")
_OLD_SPECIAL = set(b";|&$`(){}[]\\^~")


def previous_payload_features(payload: bytes) -> dict:
    from urllib.parse import unquote_to_bytes

    n = len(payload)
    entropy = -sum(c / n * math.log2(c / n) for c in Counter(payload).values())
    low = payload.lower()
    return {"len": n, "entropy": entropy,
            "printable": sum(32 <= b < 127 or b in (9, 10, 13) for b in payload) / n,
            "upper": sum(65 <= b <= 90 for b in payload) / n, "digit": sum(48 <= b <= 57 for b in payload) / n,
            "quote": payload.count(b"'") + low.count(b"%27"), "special": sum(b in _OLD_SPECIAL for b in payload),
            "sql": len(_OLD_SQL.findall(unquote_to_bytes(payload.replace(b"+", b" ")))),
            "pct": low.count(b"%")}


def candidate_spec():
    """The content declaration of the candidate default detector (utils/data/default/request-content.json)."""
    import json

    from antinex.utils.content import ContentSpec
    from antinex.utils.data import DEFAULT_DIR

    return ContentSpec.from_json(json.loads((DEFAULT_DIR / "request-content.json").read_text())["content"])


def _rate(fn, n: int, repeat: int = 1) -> float:
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return n / best


def run(quick: bool = False) -> list[dict]:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from antinex.pipeline.http_message import request_from_text
    from antinex.pipeline.payload_features import payload_features
    from antinex.utils.content import RequestContent

    n_fit, n = (1_000, 4_000) if quick else (5_000, 20_000)
    cells, labels = requests(n_fit + n)
    fit_cells, fit_y, cells = cells[:n_fit], np.array(labels[:n_fit]), cells[n_fit:]
    texts = [request_from_text(c).decode("latin-1") for c in cells]
    spec = candidate_spec()

    est = RequestContent(spec)
    fit = _rate(lambda: est.fit_transform(fit_cells, fit_y), n_fit)
    ours = _rate(lambda: est.transform(cells), n, repeat=2)
    fit_texts = texts[:n_fit]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    tfidf_fit = _rate(lambda: vec.fit_transform(fit_texts), n_fit)
    tfidf = _rate(lambda: vec.transform(texts), n, repeat=2)

    raws = [request_from_text(c) for c in cells[:5_000]]
    features = _rate(lambda: [payload_features(r) for r in raws], len(raws), repeat=2)
    before = _rate(lambda: [previous_payload_features(r) for r in raws], len(raws), repeat=2)

    forward, keras_rate, rows_fw = _forward(est, cells, quick)
    avg = sum(len(r) for r in raws) / len(raws)
    return [
        {"name": "content encoder transform (1 core)", "value": ours, "unit": "req/s",
         "baseline_name": "sklearn TfidfVectorizer char 1-3 transform", "baseline_value": tfidf, "ratio": ours / tfidf,
         "notes": f"{n:,} requests of ~{avg:.0f} bytes; the candidate's encoder: {spec.hash_dims:,} hashed columns "
                  "(n-grams of path, parameters, body and header values; tokens), app profile, 23 aggregate "
                  "columns (TF-IDF: n-grams only)"},
        {"name": "content encoder fit (1 core)", "value": fit, "unit": "req/s",
         "baseline_name": "sklearn TfidfVectorizer char 1-3 fit_transform", "baseline_value": tfidf_fit,
         "ratio": fit / tfidf_fit, "notes": f"{n_fit:,} training requests; includes the 5-fold out-of-fold profile"},
        {"name": "payload features of a whole request", "value": features, "unit": "req/s",
         "baseline_name": "the payload features before (byte loops)", "baseline_value": before,
         "ratio": features / before, "notes": "now also parses the request to skip protocol syntax"},
        {"name": "content network forward pass (numpy, sparse)", "value": forward, "unit": "req/s",
         "baseline_name": "Keras predict, same network and matrix", "baseline_value": keras_rate,
         "ratio": forward / keras_rate, "notes": f"{rows_fw:,} rows, 64-32-1 Dense on the content matrix"},
    ]


def _forward(est, cells, quick: bool) -> tuple[float, float, int]:
    import keras

    from antinex.utils.trained_model import CONTENT_ARTIFACT, TrainedModel

    x = est.transform(cells)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    trained = TrainedModel(model=model, features=[], predict_feature="label_value", ml_type="classification",
                           classes=[0.0, 1.0], artifacts={CONTENT_ARTIFACT: est.to_json()})
    ours = _rate(lambda: trained.forward(x), x.shape[0], repeat=3)
    model.predict(x[:256], verbose=0)  # build the predict function outside the timing
    theirs = _rate(lambda: model.predict(x, verbose=0, batch_size=4096), x.shape[0], repeat=2)
    return ours, theirs, x.shape[0]


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
