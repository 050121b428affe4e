"""Request-level detectors on held-out tools and held-out clients, beside two baselines.

    python scripts/eval_content.py LAB.csv.gz CLIENTS.csv.gz OUT_DIR [--seeds 1,2,3] [--detectors a,b]
                                   [--tools sqlmap,...] [--max-train N]

LAB: one row per request of an antinex-lab recording (``scripts/request_data.py lab``), with rounds.
CLIENTS: benign requests of real clients (``scripts/benign_clients.py``), one ``tool`` per client.

Folds (never a random row split): for each attack tool T, with client C (the clients in turn):
train on the first round's rows without T plus every benign client but C; test on all of T's rows,
the last round's normal rows (a session never seen) and all of C's rows (a client never seen). A
fold "none" holds out no tool: its attacks are the last round's. Every detector is trained on the
same rows in the same run, once per seed:

- the detectors of this project, trained through ``utils.train.train`` from a request body
  (``DETECTORS``: the candidate default ``utils/data/default/request-content.json``, ablations, a
  sequence network, the quick start's 21-feature MLP);
- ``tfidf-lr``: character 1–3-gram TF-IDF (sublinear) + logistic regression on the request text;
- ``forest-content``: a random forest (200 trees) on the content matrix the detector sees;
- ``forest-21``: a random forest on the 21 payload features of the whole request.

Scores: recall on T at the detector's own threshold, false-positive rates on the new session and the
new client, F1 over the fold's test rows, and the recall at the threshold where 0.1% of the fold's
benign test rows are flagged (an oracle threshold: how separable, not what a user gets); the same
recalls on T's *novel* requests, those whose method, target and body no normal training request has
(a tool's plain requests, e.g. sqlmap's first ``GET /search?q=notes`` or hydra's logins, are the
same content as a user's and only their headers or their rate tell them apart). Writes
OUT_DIR/eval.json, OUT_DIR/summary.md, the scores of every run (scores-*.npz) and per-tool plots.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CANDIDATE = ROOT / "utils" / "data" / "default" / "request-content.json"
NORMAL = "simulated-users"


def _candidate() -> dict:
    body = json.loads(CANDIDATE.read_text())
    body.pop("dataset", None)
    return body


def _variant(body: dict | None = None, **content) -> dict:
    b = _candidate()
    b["content"] = {**b["content"], **content}
    b.update(body or {})
    return b


SEQUENCE = {
    "label": "eval-sequence", "content": {"column": "http_request", "encoding": "bytes", "max_len": 512},
    "class_weight": "balanced", "epochs": 4, "batch_size": 128,
    "model_desc": {"layers": [
        {"layer_type": "embedding", "output_dim": 16},
        {"layer_type": "conv1d", "filters": 64, "kernel_size": 5, "activation": "relu"},
        {"layer_type": "globalmaxpooling1d"},
        {"num_neurons": 32, "activation": "relu"},
        {"num_neurons": 1, "activation": "sigmoid"}]},
}


def detectors() -> dict:
    """name -> request body (trained through the library) or a baseline name."""
    from antinex.pipeline.payload_features import PAYLOAD_FEATURES
    from antinex.utils.data import DEFAULT_REQUEST

    quick = json.loads(DEFAULT_REQUEST.read_text())
    quick.pop("dataset", None)
    quick.update(features_to_process=[f"req_{f}" for f in PAYLOAD_FEATURES])
    return {
        "content (candidate)": _candidate(),
        "content - header values": _variant(headers="none"),
        "content + header shapes": _variant(headers="shape"),
        "content + client profile": _variant(profile="all"),
        "content - profile": _variant(profile="none"),
        "content - aggregate": _variant(aggregate=False),
        "content - tokens": _variant(tokens=False),
        "content - class weight": _variant({"class_weight": None}),
        "content - header values - class weight": _variant({"class_weight": None}, headers="none"),
        "sequence (conv1d)": SEQUENCE,
        "mlp-21 (quick start)": {**quick, "scaler": "minmax"},  # as shipped before issue #14
        "mlp-21 fixed": {**quick, "scaler": "standard", "class_weight": "balanced"},
        "tfidf-lr": "tfidf-lr",
        "forest-content": "forest-content",
        "forest-21": "forest-21",
    }


def raw_text(df: pd.DataFrame) -> list[str]:
    from antinex.pipeline.http_message import request_from_text

    return [request_from_text(t).decode("latin-1") for t in df["http_request"]]


def with_aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """The 21 payload features of each whole request as ``req_<name>`` columns."""
    from antinex.pipeline.http_message import request_from_text
    from antinex.pipeline.payload_features import PAYLOAD_FEATURES, payload_features

    rows = [payload_features(request_from_text(t)) for t in df["http_request"]]
    agg = pd.DataFrame(rows, index=df.index)[list(PAYLOAD_FEATURES)].add_prefix("req_")
    return pd.concat([df, agg], axis=1)


def fit_detector(name: str, spec, train: pd.DataFrame, seed: int):
    """A function rows -> attack probability, trained on ``train``."""
    if spec == "tfidf-lr":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=300_000)
        lr = LogisticRegression(C=10, max_iter=3000, random_state=seed)
        lr.fit(vec.fit_transform(raw_text(train)), train["label_value"])
        return lambda df: lr.predict_proba(vec.transform(raw_text(df)))[:, 1], 0.5
    if spec in ("forest-content", "forest-21"):
        from sklearn.ensemble import RandomForestClassifier

        rf = RandomForestClassifier(200, n_jobs=2, random_state=seed)
        if spec == "forest-21":
            cols = [c for c in train.columns if c.startswith("req_")]
            rf.fit(train[cols].to_numpy(), train["label_value"])
            return lambda df: rf.predict_proba(df[cols].to_numpy())[:, 1], 0.5
        from antinex.utils.content import ContentSpec, RequestContent

        est = RequestContent(ContentSpec.from_json(_candidate()["content"]))
        rf.fit(est.fit_transform(train["http_request"].tolist(), train["label_value"].to_numpy()), train["label_value"])
        return lambda df: rf.predict_proba(est.transform(df["http_request"].tolist()))[:, 1], 0.5
    from antinex.utils.request import parse_request
    from antinex.utils.train import train as fit

    body = copy.deepcopy(spec)
    body.update(label=f"eval-{name}", seed=seed, verbose=0)
    cols = list(dict.fromkeys(body.get("features_to_process") or []))
    cols += ["http_request", "label_value"] if body.get("content") else ["label_value"]
    trained = fit(parse_request(body), train[cols])
    return lambda df: trained.scores(trained.predict_raw(df)), trained.threshold


def content_key(df: pd.DataFrame) -> pd.Series:
    """A request without its headers: method, target and body (what a content detector can judge)."""
    from antinex.pipeline.http_message import request_from_text

    def key(text: str) -> bytes:
        raw = request_from_text(text)
        head, _, body = raw.partition(b"\r\n\r\n")
        return head.split(b"\r\n", 1)[0].rsplit(b" ", 1)[0] + b"\n" + body

    return df["http_request"].map(key)


def fold_scores(p_att, p_sess, p_client, threshold: float, novel: np.ndarray | None = None) -> dict:
    """Scores of one fold; ``novel``: attack rows whose method, target and body no normal training row has."""
    y = np.r_[np.ones(len(p_att)), np.zeros(len(p_sess) + len(p_client))]
    p = np.r_[p_att, p_sess, p_client]
    pred = p >= threshold
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    recall = tp / max(len(p_att), 1)
    precision = tp / max(tp + fp, 1)
    benign = np.sort(p[y == 0])[::-1]
    k = int(np.floor(0.001 * len(benign)))
    oracle = benign[k] if k < len(benign) else -np.inf
    out_novel = {}
    if novel is not None:
        out_novel = {"attacks_novel": int(novel.sum()),
                     "recall_novel": float((p_att[novel] >= threshold).mean()) if novel.any() else None,
                     "recall_novel_at_0.1pct": float((p_att[novel] > oracle).mean()) if novel.any() else None}
    return {**out_novel, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "fpr_session": float((p_sess >= threshold).mean()) if len(p_sess) else None,
            "fpr_client": float((p_client >= threshold).mean()) if len(p_client) else None,
            "recall_at_0.1pct": float((p_att > oracle).mean()) if len(p_att) else None,
            "attacks": len(p_att), "benign_session": len(p_sess), "benign_client": len(p_client)}


def folds(lab: pd.DataFrame, clients: pd.DataFrame, tools: list[str]):
    rounds = sorted(lab["round"].unique())
    first, last = rounds[0], rounds[-1]
    names = sorted(clients["tool"].unique())
    for k, tool in enumerate(tools):
        client = names[k % len(names)]
        train = pd.concat([lab[(lab["round"] == first) & (lab["tool"] != tool)], clients[clients["tool"] != client]],
                          ignore_index=True)
        attacks = lab[(lab["tool"] == tool)] if tool != "none" else lab[(lab["round"] == last) & (lab["label_value"] == 1)]
        session = lab[(lab["round"] == last) & (lab["label_value"] == 0)]
        yield tool, client, train, attacks, session, clients[clients["tool"] == client]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lab")
    ap.add_argument("clients")
    ap.add_argument("out")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--detectors", default="", help="comma-separated names (default: all)")
    ap.add_argument("--tools", default="", help="held-out tools, 'none' for no tool (default: none + every tool)")
    ap.add_argument("--evasion", default="", help="a CSV of tampered sqlmap requests (scripts/sqlmap_tampers.py): "
                                                   "recall per tamper, no tamper in training, instead of the folds")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lab = with_aggregate(pd.read_csv(args.lab))
    clients = with_aggregate(pd.read_csv(args.clients))
    tools = args.tools.split(",") if args.tools else ["none"] + sorted(set(lab["tool"]) - {NORMAL})
    chosen = {k: v for k, v in detectors().items() if not args.detectors or k in args.detectors.split(",")}
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.evasion:
        return evasion(lab, clients, with_aggregate(pd.read_csv(args.evasion)), chosen, seeds, out)
    path = out / "eval.json"
    results = json.loads(path.read_text()) if path.exists() else {"runs": []}
    done = {(r["fold"], r["detector"], r["seed"]) for r in results["runs"]}
    for tool, client, train, attacks, session, unseen in folds(lab, clients, tools):
        for name, spec in chosen.items():
            for seed in seeds:
                if (tool, name, seed) in done:
                    continue
                started = time.perf_counter()
                predict, threshold = fit_detector(name, spec, train, seed)
                fitted = time.perf_counter() - started
                normal_keys = set(content_key(train[train["label_value"] == 0]))
                novel = ~content_key(attacks).isin(normal_keys).to_numpy()
                p_att, p_sess, p_client = predict(attacks), predict(session), predict(unseen)
                s = fold_scores(p_att, p_sess, p_client, threshold, novel)
                np.savez_compressed(out / f"scores-{tool}-{name.replace(' ', '_').replace('/', '_')}-{seed}.npz",
                                    attacks=p_att.astype(np.float32), session=p_sess.astype(np.float32),
                                    client=p_client.astype(np.float32), novel=novel, threshold=threshold)
                run = {"fold": tool, "client": client, "detector": name, "seed": seed, **s,
                       "train_rows": len(train), "train_seconds": round(fitted, 1)}
                results["runs"].append(run)
                path.write_text(json.dumps(results, indent=1))
                print(json.dumps(run), flush=True)
    (out / "summary.md").write_text(summary(results))
    plot(results, out)
    print(summary(results))
    return 0


def evasion(lab, clients, tampered, chosen: dict, seeds: list[int], out: Path) -> int:
    """Train on the first round (untampered sqlmap included) and every client but the first; recall on each
    tamper's requests (all of them, and those whose method, target and body no normal training request has)."""
    first = sorted(lab["round"].unique())[0]
    held = sorted(clients["tool"].unique())[0]
    train = pd.concat([lab[lab["round"] == first], clients[clients["tool"] != held]], ignore_index=True)
    normal_keys = set(content_key(train[train["label_value"] == 0]))
    novel = ~content_key(tampered).isin(normal_keys).to_numpy()
    rows = []
    for name, spec in chosen.items():
        for seed in seeds:
            predict, threshold = fit_detector(name, spec, train, seed)
            p = predict(tampered)
            for tool in sorted(tampered["tool"].unique()):
                m = (tampered["tool"] == tool).to_numpy()
                rows.append({"detector": name, "seed": seed, "tamper": tool, "requests": int(m.sum()),
                             "recall": float((p[m] >= threshold).mean()),
                             "recall_novel": float((p[m & novel] >= threshold).mean()) if (m & novel).any() else None,
                             "novel": int((m & novel).sum())})
                print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows).groupby(["tamper", "detector"]).agg(
        recall=("recall", "mean"), recall_novel=("recall_novel", "mean"), novel=("novel", "first"),
        requests=("requests", "first")).unstack("detector")
    (out / "evasion.json").write_text(json.dumps(rows, indent=1))
    (out / "evasion.md").write_text("```\n" + table.round(3).to_string() + "\n```\n")
    print(table.round(3).to_string())
    return 0


def summary(results: dict) -> str:
    runs = pd.DataFrame(results["runs"])
    agg = runs.groupby(["fold", "client", "detector"], sort=False).agg(
        recall=("recall", "mean"), recall_sd=("recall", "std"), recall_novel=("recall_novel", "mean"),
        novel=("attacks_novel", "mean"), f1=("f1", "mean"),
        fpr_session=("fpr_session", "mean"), fpr_client=("fpr_client", "mean"),
        recall_at_01=("recall_at_0.1pct", "mean"), seeds=("seed", "count"), train_s=("train_seconds", "mean"))
    overall = runs[runs["fold"] != "none"].groupby("detector", sort=False).agg(
        recall=("recall", "mean"), recall_novel=("recall_novel", "mean"), f1=("f1", "mean"), fpr_session=("fpr_session", "mean"),
        fpr_client=("fpr_client", "mean"), recall_at_01=("recall_at_0.1pct", "mean"))
    return ("## Per fold (mean over seeds)\n\n```\n" + agg.round(4).to_string() + "\n```\n\n"
            "## Leave-one-tool-out, mean over tools and seeds\n\n```\n" + overall.round(4).to_string() + "\n```\n")


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = pd.DataFrame(results["runs"])
    for metric, label in (("recall", "recall on the held-out tool"), ("fpr_client", "false positives, unseen client")):
        table = runs.groupby(["fold", "detector"])[metric].mean().unstack()
        fig, ax = plt.subplots(figsize=(11, 4.2))
        table.plot.bar(ax=ax, width=0.85)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, ncol=3)
        ax.set_title(f"{label} (mean over seeds)")
        fig.tight_layout()
        fig.savefig(out / f"{metric}.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
