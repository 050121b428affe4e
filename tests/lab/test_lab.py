"""The dataset lab for real: namespaces, three web frameworks, real attack
tools, ground-truth labels by address, the session-split report and the
public ZAP captures through the pipeline."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pandas as pd
import pytest
import requests

from conftest import free_port

LAB_TOOLS = ("wfuzz-sqli", "hydra", "slowhttptest")


def _ns_list() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the namespace lab needs root")
    missing = [t for t in ("wfuzz", "hydra", "slowhttptest", "tcpdump") if not shutil.which(t)]
    if missing:
        pytest.fail(f"lab tools missing (scripts/bootstrap.sh installs them): {missing}")
    from antinex.pipeline.lab.record import record_netns

    out = tmp_path_factory.mktemp("lab") / "rec"
    manifest = record_netns(out, tools=LAB_TOOLS, tool_seconds=5, normal_seconds=3, rounds=2, clients=2,
                            users_per_client=2, prefix="anxtest", progress=False)
    return out, manifest


@pytest.fixture(scope="module")
def full(recording):
    from antinex.pipeline.lab.build import build_full

    return build_full(recording[0])


def test_namespaces_are_created_and_removed(recording):
    out, manifest = recording
    assert "anxtest-" not in _ns_list()  # nothing left behind
    roles = {v["role"] for v in manifest["addresses"].values()}
    assert roles == {"target", "client", "attacker"}
    assert set(manifest["targets"]) == {"wsgi", "flask", "drf"}
    assert [s["session"] for s in manifest["sessions"] if s["label"] == "attack"] == [
        f"{t}@{fw}-r{r}" for r in range(2) for t, fw in zip(LAB_TOOLS, (("wsgi", "flask", "drf"),
                                                                      ("flask", "drf", "wsgi"))[r])]
    assert all(s["requests"] > 10 for s in manifest["sessions"] if s["label"] == "not_attack")
    # the pipeline's own capture agent and subscriber recorded the same traffic beside tcpdump
    agent = manifest["pipeline_agent"]
    assert agent["rows"] > 0.5 * agent["tcpdump_packets"] > 0, agent
    rows = pd.concat([pd.read_csv(f) for f in sorted((out / "agent").glob("netns-*.csv"))])
    assert {"10.77.0.66", "10.77.0.21"} <= set(rows["ip_src"])


def test_labels_follow_the_sender_address(recording, full):
    _, manifest = recording
    attacker = next(ip for ip, v in manifest["addresses"].items() if v["role"] == "attacker")
    clients = {ip for ip, v in manifest["addresses"].items() if v["role"] == "client"}
    is_attacker = (full["ip_src"] == attacker) | (full["ip_dst"] == attacker)
    assert (full.loc[is_attacker, "label_name"] == "attack").all()
    assert (full.loc[~is_attacker, "label_name"] == "not_attack").all()
    assert (full.loc[~is_attacker, "ip_src"].isin(clients) | full.loc[~is_attacker, "ip_dst"].isin(clients)).all()
    # every tool left packets, attributed to its own time window
    attack_tools = set(full.loc[is_attacker, "tool"])
    assert set(LAB_TOOLS) <= attack_tools, attack_tools
    assert (full.loc[is_attacker, "session"] != "attacker-unattributed").mean() > 0.95
    # normal users reached all three frameworks
    ports = set(full.loc[~is_attacker & full["http_is_request"].gt(0), "tcp_dport"].astype(int))
    assert {8080, 5000, 8000} <= ports


def test_build_and_report_split_by_session(recording, tmp_path):
    from antinex.pipeline.lab.build import FEATURES
    from antinex.pipeline.lab.cli import main

    ds = tmp_path / "ds"
    assert main(["build", str(recording[0]), "-o", str(ds)]) == 0
    ready = pd.read_csv(ds / "train.csv.gz")
    assert set(FEATURES) <= set(ready.columns)
    assert not {"ip_src", "ip_dst", "tcp_sport", "tcp_dport", "idx", "eth_src"} & set(FEATURES)
    assert set(ready["label_name"]) == {"attack", "not_attack"}
    assert ready["round"].nunique() == 2
    meta = json.loads((ds / "metadata.json").read_text())
    assert meta["rows"] == len(ready) and meta["recording"]["mode"] == "netns"
    # the pipeline agents' rows through /mlprepare/'s function: full and cleaned files, labels by address
    full = pd.read_csv(ds / "fulldata_netns.csv")
    by_attacker = full["ip_src"].eq("10.77.0.66") | full["ip_dst"].eq("10.77.0.66")
    assert (full["label_value"] == by_attacker.astype(int)).all() and by_attacker.any() and (~by_attacker).any()
    cleaned = pd.read_csv(ds / "cleaned_netns.csv")
    assert len(cleaned) == len(full) and "ip_src" not in cleaned.columns
    assert json.loads((ds / "cleaned_netns_metadata.json").read_text())["feature_to_predict"] == "label_value"

    from antinex.pipeline.lab.report import evaluate

    # the second client namespace plays the client never seen in training
    ready["client"] = [s.split("-r")[0] if v == 0 else "" for s, v in zip(ready["session"], ready["label_value"])]
    ready.to_csv(ds / "packets.csv.gz", index=False)
    res = evaluate(tmp_path / "report", packets=ds / "packets.csv.gz", holdout_clients=("client-2",), epochs=3,
                   seeds=(7, 1), progress=False)
    folds = res["units"]["packet"]["folds"]
    assert {"sqli", "brute-force", "slow-dos", "sessions"} <= set(folds)  # wfuzz-sqli, hydra, slowhttptest
    for fold in folds.values():
        for det in fold["detectors"].values():
            assert set(det["seeds"]) == {"7", "1"}  # every seed trained and scored
            for run in det["seeds"].values():
                assert run["rows"] == run["tp"] + run["fp"] + run["fn"] + run["tn"] == fold["test_rows"]
                assert set(run["fpr_by_client"]) == {"client-2"}
    text = (tmp_path / "report" / "report.md").read_text()
    assert "**brute-force** (held out;" in text and "## Per packet" in text
    assert (tmp_path / "report" / "per-family-packet.png").stat().st_size > 5000


def test_three_frameworks_serve_the_same_application():
    from antinex.pipeline.lab.traffic import simulate_user
    from antinex.pipeline.lab.webapp import FRAMEWORKS, serve

    import random

    for fw in FRAMEWORKS:
        port = free_port()
        server, _ = serve("127.0.0.1", port, fw)
        try:
            base = f"http://127.0.0.1:{port}"
            n = simulate_user(base, 1, time.time() + 1.5, random.Random(1))
            assert n > 5
            s = requests.Session()
            assert s.post(f"{base}/login", data={"username": "user1", "password": "bad"}).status_code == 401
            assert s.post(f"{base}/login", data={"username": "user1", "password": "secret1"}).status_code == 200
            assert s.post(f"{base}/items", data={"title": "t", "body": "b"}).status_code == 200  # after redirect
            assert any(i["title"] == "t" for i in s.get(f"{base}/api/items").json())
            assert s.get(f"{base}/items/999999").status_code == 404
        finally:
            server.shutdown()


def test_public_zap_captures_through_the_pipeline(antinex_data, redis_db, tmp_path):
    """The archive's broker messages go through NEW_PACKETS and the subscriber into CSV rows;
    the report's reader gets the same request payloads."""
    from antinex.pipeline.lab.report import zap_rows
    from antinex.pipeline.publisher import PacketPublisher
    from antinex.pipeline.subscriber import Subscriber

    src = antinex_data / "network-pipeline-datasets"
    archive = next(src.rglob("packets-*.json"))
    packets = json.loads(archive.read_text())["packets"]
    url = redis_db("lab")
    with PacketPublisher(url) as pub:
        for p in packets:
            pub.publish(p)
    sub = Subscriber(url, tmp_path, "zap")
    sub.run(stop_after=len(packets), idle_timeout=5)
    assert sub.received == len(packets) and sub.bad == 0
    recorded = pd.concat([pd.read_csv(f) for f in sorted(tmp_path.glob("*.csv"))], ignore_index=True)
    rows = zap_rows(src)
    mine = rows[rows["source_file"] == archive.name]
    assert len(mine) > 50 and len(rows) > 10 * len(mine)  # the CSV captures add more requests
    from antinex.pipeline.payload_features import add_payload_features

    through = add_payload_features(recorded)
    through = through[through["http_is_request"] > 0]
    assert sorted(through["raw_load"]) == sorted(mine["raw_load"])
    assert (rows["payload_n_sql"] > 0).sum() > 5  # ZAP's injections are visible in the payload features
