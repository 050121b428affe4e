"""The evaluation protocol without a recording: folds, scores, mutations, the report on a small real set.

The dataset here is made of real HTTP requests written out by hand (benign
clients and attack payloads), so the baselines train for real; the lab
recording tests (test_lab.py) run the same report on recorded traffic.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from antinex.pipeline.http_message import parse_http_request, request_from_text, request_to_text
from antinex.pipeline.lab.mutate import MUTATIONS, mutate_request
from antinex.pipeline.lab.protocol import BENIGN, legacy_family, make_folds, with_protocol_columns, without_conflicts
from antinex.pipeline.lab.report import evaluate, scores, spread

UAS = {"curl": "curl/7.88.1", "httpie": "HTTPie/3.2.1", "chromium": "Mozilla/5.0 Chrome/126.0",
       "simulated-users": "Mozilla/5.0 Firefox/128.0", "requests": "python-requests/2.32.3"}
WORDS = ["report", "O'Brien", "budget 2024", "naïve café", "a && b", "SELECT-ion", "notes", "holiday plan"]
ATTACKS = {
    "sqli": ["' OR 1=1-- ", "1 UNION SELECT username,password FROM users--", "1' AND SLEEP(5)#",
             "x' AND 1=CONVERT(int,(SELECT @@version))--"],
    "sqli-tamper": ["1%27%20OR%201=1--%20", "1'/**/UNION/**/SELECT/**/1,2--", "1' oR 1=1-- "],
    "xss": ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "<svg/onload=alert(document.cookie)>"],
    "traversal": ["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fshadow", "....//....//etc/hosts"],
}
TOOLS = {"sqli": "sqlmap", "sqli-tamper": "sqlmap-tamper-space2comment", "xss": "wfuzz-xss",
         "traversal": "wfuzz-traversal"}


def _request(path: str, q: str, ua: str) -> str:
    from urllib.parse import quote

    raw = f"GET {path}?q={quote(q, safe='')} HTTP/1.1\r\nHost: lab\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\r\n"
    return request_to_text(raw.encode("utf-8"))


def dataset(n: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for r in range(2):
        for client, ua in UAS.items():
            for i in range(n):
                rows.append({"http_request": _request(rng.choice(["/search", "/items", "/api/items"]),
                                                      rng.choice(WORDS), ua),
                             "label_value": 0, "tool": client, "client": client, "session": f"{client}-r{r}",
                             "round": r, "family": BENIGN})
        for family, payloads in ATTACKS.items():
            for i in range(n // 2):
                rows.append({"http_request": _request("/search", rng.choice(payloads), "sqlmap/1.7.2"),
                             "label_value": 1, "tool": TOOLS[family], "client": "", "session": f"{family}-r{r}",
                             "round": r, "family": family})
    df = pd.DataFrame(rows)
    df["payload_len"] = [len(request_from_text(t)) for t in df["http_request"]]
    df["n_quote"] = [request_from_text(t).count(b"%27") for t in df["http_request"]]
    return df


def test_folds_hold_each_family_out_and_never_train_on_unseen_clients():
    df = with_protocol_columns(dataset())
    folds = {f.name: f for f in make_folds(df, ("curl", "chromium"))}
    assert set(folds) == {"sqli", "xss", "traversal", "sqli-tamper", "sessions"}
    unseen = df["client"].isin(["curl", "chromium"]).to_numpy()
    for fold in folds.values():
        assert not (fold.train & fold.test).any()
        assert not (fold.train & unseen).any()  # clients never in training, in every fold
        assert (fold.test & unseen).sum() == unseen.sum()
    sqli = folds["sqli"]
    fam = df["family"].to_numpy()
    # the tamper sub-family goes with its parent: neither is trained on in the sqli fold
    assert not (sqli.train & np.isin(fam, ["sqli", "sqli-tamper"])).any()
    assert (sqli.test & (fam == "sqli-tamper")).any() and (sqli.train & (fam == "xss")).any()
    # the evasion fold: plain sqli trains, tampers are tested
    ev = folds["sqli-tamper"]
    assert ev.kind == "evasion" and (ev.train & (fam == "sqli")).any() and not (ev.train & (fam == "sqli-tamper")).any()
    last = df["round"].to_numpy() == 1
    assert not (folds["sessions"].train & last).any()
    with pytest.raises(ValueError, match="no benign rows of the held-out clients"):
        make_folds(df, ("lynx",))
    with pytest.raises(ValueError, match="nothing benign left"):
        make_folds(df, tuple(UAS))


def test_attack_rows_that_repeat_a_normal_request_are_not_trained_on():
    """A tool's untouched request (``GET /search?q=notes`` with its own headers) is content a normal client
    sends: left out of every fold's training rows, kept in the test rows."""
    df = dataset()
    plain = [_request("/search", "notes", "sqlmap/1.7.2") for _ in range(6)]
    extra = pd.DataFrame({"http_request": plain, "label_value": 1, "tool": "sqlmap", "client": "",
                          "session": "sqli-r0", "round": 0, "family": "sqli", "payload_len": 0, "n_quote": 0})
    df = with_protocol_columns(pd.concat([df, extra], ignore_index=True))
    assert (df.loc[df["label_value"] == 0, "http_request"].str.contains(r"\?q=notes ")).any()
    plain_rows = df.index.to_numpy() >= len(df) - len(extra)
    folds = {f.name: f for f in without_conflicts(df, make_folds(df, ("curl", "chromium")), "http_request")}
    xss, sqli = folds["xss"], folds["sqli"]
    assert xss.conflicts == 6 and not (xss.train & plain_rows).any()
    assert xss.describe(df)["train_conflicts_dropped"] == 6
    assert sqli.conflicts == 0 and sqli.test[plain_rows].all()  # held out: tested, and counted in recall
    before = {f.name: f for f in make_folds(df, ("curl", "chromium"))}
    assert (before["xss"].train & ~plain_rows == xss.train).all()  # nothing else moved


def test_legacy_datasets_get_families_and_clients():
    old = pd.DataFrame({"tool": ["sqlmap", "wfuzz-sqli", "wfuzz", "simulated-users", "hydra", "mystery"],
                        "label_value": [1, 1, 1, 0, 1, 1]})
    out = with_protocol_columns(old)
    assert list(out["family"]) == ["sqli", "sqli", "discovery", "benign", "brute-force", "unknown"]
    assert list(out["client"])[3] == "simulated-users" and legacy_family("sqlmap-tamper-x", 1) == "sqli-tamper"
    with pytest.raises(ValueError, match="label_value"):
        with_protocol_columns(pd.DataFrame({"tool": ["x"]}))


def test_scores_and_spread():
    s = scores(np.array([1, 1, 0, 0, 0]), np.array([1, 0, 1, 0, 0]))
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (1, 1, 1, 2)
    assert s["recall"] == 0.5 and s["fpr"] == pytest.approx(1 / 3) and s["f1"] == pytest.approx(0.5)
    assert spread([0.5, None, 1.0]) == {"mean": 0.75, "std": 0.25, "min": 0.5, "max": 1.0, "n": 2}
    assert spread([None])["mean"] is None


@pytest.mark.parametrize("how", MUTATIONS)
def test_mutations_keep_the_attack_and_the_request_valid(how):
    raw = (b"POST /login?next=%2Fhome&q=1%27+UNION+SELECT+1%2C2-- HTTP/1.1\r\nHost: lab\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\nusername=admin' --&password=x")
    out = mutate_request(raw, how, seed=3)
    assert out != raw
    req, orig = parse_http_request(out), parse_http_request(raw)
    assert req.complete and int(req.header("content-length")) == len(req.body)
    q = dict(req.params)["q"]
    if how in ("percent", "case"):  # a server decodes once: the same attack (letter case aside)
        assert q.lower() == dict(orig.params)["q"].lower()
    if how == "double":
        assert "%27" in q  # decoded once, still encoded
    if how == "whitespace":
        assert " " not in q and "UNION" in q
    assert mutate_request(b"GET / HTTP/1.1\r\n\r\n", how) == b"GET / HTTP/1.1\r\n\r\n"
    with pytest.raises(ValueError, match="unknown mutation"):
        mutate_request(raw, "rot13")


def test_report_runs_the_protocol_with_baselines(tmp_path):
    """The whole report on a small real set: two seeds, the shipped-style network, both baselines, mutations."""
    path = tmp_path / "requests.csv.gz"
    dataset().to_csv(path, index=False)
    body = {"label": "t", "features_to_process": ["payload_len", "n_quote"], "epochs": 3, "batch_size": 16,
            "model_desc": {"layers": [{"num_neurons": 8, "activation": "relu"},
                                      {"num_neurons": 1, "activation": "sigmoid"}]}}
    res = evaluate(tmp_path / "out", requests=path, holdout_clients=("curl", "chromium"), seeds=(7, 1),
                   request_bodies={"antinex": body}, mutations=("percent", "case"), progress=False)
    unit = res["units"]["request"]
    assert set(unit["folds"]) == {"sqli", "xss", "traversal", "sqli-tamper", "sessions"}
    xss = unit["folds"]["xss"]["detectors"]
    assert set(xss) == {"antinex", "antinex-network", "signatures", "tfidf-lr", "random-forest"}
    for name, d in xss.items():
        trained = name != "signatures"  # no training: one verdict, not one per seed
        assert set(d["seeds"]) == ({"7", "1"} if trained else {"7"}) and d["recall"]["n"] == (2 if trained else 1)
        first = d["seeds"]["7"]
        assert first["tp"] + first["fn"] == unit["folds"]["xss"]["test_attacks"]
        assert set(first["fpr_by_client"]) == {"curl", "chromium"}
        if name != "antinex-network":  # a part of the shipped detector: scored, not mutated again
            assert set(first["mutated_recall"]) == {"percent", "case", "original"}
    # the char n-gram baseline separates script tags from benign words it never saw
    assert xss["tfidf-lr"]["recall"]["mean"] > 0.9
    assert set(unit["overall"]) == {"antinex", "antinex-network", "signatures", "tfidf-lr", "random-forest"}
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Targets" in text and "**xss**" in text and "mean ± standard deviation" in text
    assert any(t["target"].startswith("the shipped detector beats") for t in res["targets"])
    assert (tmp_path / "out" / "per-family-request.png").stat().st_size > 5000
    assert json.loads((tmp_path / "out" / "report.json").read_text())["seeds"] == [7, 1]
    assert all("train_conflicts_dropped" in f for f in unit["folds"].values())


def test_report_replays_the_requests_to_modsecurity_crs(tmp_path):
    """The signature baseline in the same run: a real Apache with ModSecurity and the CRS judges every request."""
    path = tmp_path / "requests.csv.gz"
    dataset(n=12).to_csv(path, index=False)
    body = {"label": "t", "features_to_process": ["payload_len", "n_quote"], "epochs": 2}
    res = evaluate(tmp_path / "out", requests=path, holdout_clients=("curl",), seeds=(7,), crs_levels=(1, 4),
                   crs_allowed_methods=("GET", "HEAD", "POST", "PUT", "DELETE"),
                   request_bodies={"antinex": body}, families=("xss",), progress=False)
    xss = res["units"]["request"]["folds"]["xss"]["detectors"]
    assert {"crs-pl1", "crs-pl4", "crs-pl1-tuned"} <= set(xss)
    assert res["signatures"]["meta"]["allowed_methods"] == ["GET", "HEAD", "POST", "PUT", "DELETE"]
    # these requests are all GETs: the methods change nothing here
    assert xss["crs-pl1-tuned"]["seeds"]["7"] == xss["crs-pl1"]["seeds"]["7"]
    for kw, message in (({"crs_allowed_methods": ("PUT",)}, "needs the first"),
                        ({"crs_levels": (1,), "crs_allowed_methods": ("get",)}, "in capitals")):
        with pytest.raises(ValueError, match=message):
            evaluate(tmp_path / "bad", requests=path, seeds=(7,), progress=False, **kw)
    # script tags are what the CRS was written for; PL4 flags at least what PL1 does
    assert xss["crs-pl1"]["recall"]["mean"] > 0.9
    assert xss["crs-pl4"]["seeds"]["7"]["tp"] >= xss["crs-pl1"]["seeds"]["7"]["tp"]
    assert xss["crs-pl1"]["recall"]["n"] == 1  # no training: one verdict, not one per seed
    assert "modsecurity-crs" in json.dumps(res["signatures"]["meta"]["versions"])
    assert "OWASP Core Rule Set" in (tmp_path / "out" / "report.md").read_text()


def test_the_shipped_detector_is_the_network_or_the_signatures_or_the_rules(tmp_path):
    """With the rules' verdicts in the dataset, "antinex" flags what the network, the injection signatures or the
    rules flag; each part is reported alone too, the network from the same fit."""
    df = dataset(n=16)
    df["rule_flag"] = ((df["family"] == "xss") & (df.index % 2 == 0)).astype(int)  # the rules catch half
    path = tmp_path / "requests.csv.gz"
    df.to_csv(path, index=False)
    body = {"label": "t", "features_to_process": ["payload_len"], "epochs": 1,
            "model_desc": {"layers": [{"num_neurons": 1, "activation": "sigmoid"}]}}
    res = evaluate(tmp_path / "out", requests=path, holdout_clients=("curl",), seeds=(7,), families=("xss",),
                   request_bodies={"antinex": body}, progress=False)
    dets = res["units"]["request"]["folds"]["xss"]["detectors"]
    assert {"antinex", "antinex-network", "signatures", "rules", "tfidf-lr", "random-forest"} <= set(dets)
    both, net, rules, sigs = (dets[k]["seeds"]["7"] for k in ("antinex", "antinex-network", "rules", "signatures"))
    assert both["tp"] >= max(net["tp"], rules["tp"], sigs["tp"]) and rules["recall"] == pytest.approx(0.5, abs=0.1)
    assert both["fp"] >= net["fp"]
    # the script-in-markup signature: every XSS payload here runs script; none of the benign text does
    assert sigs["recall"] == 1.0 and sigs["fp"] == 0 and both["recall"] == 1.0


def test_the_signatures_catch_the_held_out_sqli_family(tmp_path):
    """Held out, SQL injection is what a network trained on other families misses; the signatures need no
    training and catch it, on the benign text of unseen clients (O'Brien, a && b, SELECT-ion) quiet."""
    path = tmp_path / "requests.csv.gz"
    dataset(n=12).to_csv(path, index=False)
    body = {"label": "t", "features_to_process": ["payload_len"], "epochs": 1,
            "model_desc": {"layers": [{"num_neurons": 1, "activation": "sigmoid"}]}}
    res = evaluate(tmp_path / "out", requests=path, holdout_clients=("curl",), seeds=(7,), families=("sqli",),
                   request_bodies={"antinex": body}, mutations=("case", "double"), progress=False)
    dets = res["units"]["request"]["folds"]["sqli"]["detectors"]
    sigs, both = dets["signatures"]["seeds"]["7"], dets["antinex"]["seeds"]["7"]
    assert sigs["recall"] >= 0.9 and sigs["fp"] == 0, sigs
    assert both["recall"] >= sigs["recall"]
    mutated = sigs["mutated_recall"]  # judged afresh on the rewritten requests, not read from a column
    assert mutated["case"] >= 0.9 and mutated["double"] >= 0.9, mutated
    assert "injection signatures" in (tmp_path / "out" / "report.md").read_text()


def test_source_escalation_catches_a_tools_plain_requests_and_not_the_users(tmp_path):
    """A tool's session mixes payloads with plain page fetches: once the signatures have flagged three of its
    requests, its next plain ones are attacks too (``antinex``), which the detector without escalation misses;
    benign sessions never reach three attack verdicts, so their false positives do not change."""
    df = dataset(n=16)
    df["ts"] = df.groupby("session").cumcount().astype(float)  # one request a second per session
    plain = _request("/search", "holiday plan", "sqlmap/1.7.2")
    probes = (df["family"] == "sqli") & (df.groupby("session").cumcount() >= 6) & (df.index % 2 == 0)
    df.loc[probes, "http_request"], df.loc[probes, "tool"] = plain, "sqlmap-crawl"
    df["payload_len"] = [len(request_from_text(t)) for t in df["http_request"]]
    df["n_quote"] = [request_from_text(t).count(b"%27") for t in df["http_request"]]
    path = tmp_path / "requests.csv.gz"
    df.to_csv(path, index=False)
    # a network that (nearly) never says attack: the signatures' verdicts drive the escalation
    body = {"label": "t", "features_to_process": ["payload_len", "n_quote"], "epochs": 1, "threshold": 0.9999,
            "model_desc": {"layers": [{"num_neurons": 1, "activation": "sigmoid"}]}}
    res = evaluate(tmp_path / "out", requests=path, holdout_clients=("curl",), seeds=(7,), families=("sqli",),
                   request_bodies={"antinex": body}, escalate=(3, 60.0), progress=False)
    dets = res["units"]["request"]["folds"]["sqli"]["detectors"]
    assert {"antinex", "antinex-no-escalation", "antinex-network", "signatures"} <= set(dets)
    esc, plain_only = dets["antinex"]["seeds"]["7"], dets["antinex-no-escalation"]["seeds"]["7"]
    assert esc["by_tool"]["sqlmap-crawl"] == 1.0 > plain_only["by_tool"]["sqlmap-crawl"]
    assert esc["tp"] > plain_only["tp"] and esc["fp"] == plain_only["fp"]
    assert res["escalation"] == [3, 60.0]
    assert "antinex-no-escalation" in (tmp_path / "out" / "report.md").read_text()
    # off, or without the columns it needs: no escalation, and the report says why
    off = evaluate(tmp_path / "off", requests=path, holdout_clients=("curl",), seeds=(7,), families=("sqli",),
                   request_bodies={"antinex": body}, escalate=(0, 60.0), mutations=(), progress=False)
    assert "antinex-no-escalation" not in off["units"]["request"]["folds"]["sqli"]["detectors"]
    df.drop(columns=["ts"]).to_csv(path, index=False)
    bare = evaluate(tmp_path / "bare", requests=path, holdout_clients=("curl",), seeds=(7,), families=("sqli",),
                    request_bodies={"antinex": body}, progress=False)
    assert bare["escalation"] is None and any("source escalation" in s for s in bare["skipped"])


def test_the_evaluation_sample_keeps_consecutive_requests_per_session(tmp_path):
    from antinex.pipeline.lab.cli import main

    df = dataset(n=40)
    df["ts"] = df.groupby("session").cumcount().astype(float)
    src = tmp_path / "ds"
    src.mkdir()
    df.to_csv(src / "requests.csv.gz", index=False)
    (src / "metadata.json").write_text("{}")
    assert main(["sample", str(src), "-o", str(tmp_path / "s"), "--attack-rows", "5", "--benign-rows", "12"]) == 0
    out = pd.read_csv(tmp_path / "s" / "requests.csv.gz")
    assert (tmp_path / "s" / "metadata.json").is_file()
    sizes = out.groupby("session").size()
    assert set(sizes[[s for s in sizes.index if s.startswith(tuple(ATTACKS))]]) == {5}
    assert set(sizes[[s for s in sizes.index if not s.startswith(tuple(ATTACKS))]]) == {12}
    for _, g in out.groupby("session"):  # one block: consecutive seconds
        assert np.all(np.diff(np.sort(g["ts"].to_numpy())) == 1.0)
    assert main(["sample", str(src), "-o", str(src)]) == 2
    assert main(["sample", str(tmp_path / "nothing"), "-o", str(tmp_path / "x")]) == 2


def test_escalation_counts_the_rules_verdicts_when_they_fired():
    """A slow-read tool's requests look ordinary; the rules flag its connections seconds later. Those verdicts
    escalate its later requests, not the ones before them."""
    from antinex.pipeline.lab.detectors import Escalated, FixedVerdicts

    test = pd.DataFrame({"session": ["slow"] * 6 + ["user"] * 2, "ts": [0, 1, 2, 20, 21, 22, 0, 30],
                         "net": [0] * 8, "rule_flag": [1, 1, 1, 0, 0, 0, 0, 0],
                         "rule_ts": [15, 16, 17, None, None, None, None, None]})
    esc = Escalated("e", FixedVerdicts("net", "net"), 3, 60, rules="rule_flag")
    assert esc.predict(test).tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
    # without the times the rules fired, nothing to count them by
    assert esc.predict(test.drop(columns=["rule_ts"])).tolist() == [0] * 8
