"""The dataset lab for real: namespaces, five target apps on four frameworks,
every benign client kind (headless Chromium, curl, wget, httpie, requests, a
JSON API client) and every attack tool, ground-truth labels by address, the
build and the session-split report, and the public ZAP captures through the
pipeline. One short recording (a few seconds per tool, attackers side by side)
serves the module."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests

from conftest import free_port

TOOL_SECONDS = 8  # on a loaded 2-core machine, whatweb (Ruby) and wapiti take seconds to start


def _ns_list() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the namespace lab needs root")
    from antinex.pipeline.lab.tools import ATTACK_TOOLS, TOOLS, executable

    missing = [t for t in ATTACK_TOOLS if not executable(t)]
    missing += [p for p in ("tcpdump", "curl", "wget", "http", "chromium", "chromedriver") if not shutil.which(p)]
    if missing:
        pytest.fail(f"lab tools missing (scripts/bootstrap.sh and the dev extra install them): {missing}")
    from antinex.pipeline.lab.record import record_netns

    out = tmp_path_factory.mktemp("lab") / "rec"
    manifest = record_netns(out, tools=ATTACK_TOOLS, tool_seconds=TOOL_SECONDS, normal_seconds=4, rounds=1,
                            clients=1, users_per_client=2, attackers=5, prefix="anxtest", progress=False)
    assert {s["tool"] for s in manifest["sessions"] if s["label"] == "attack"} == set(TOOLS)
    return out, manifest


@pytest.fixture(scope="module")
def full(recording):
    from antinex.pipeline.lab.build import build_full

    return build_full(recording[0])


def test_namespaces_and_the_manifest(recording):
    from antinex.pipeline.lab.clients import CLIENT_KINDS
    from antinex.pipeline.lab.targets import TARGETS
    from antinex.pipeline.lab.tools import TOOLS

    out, manifest = recording
    assert "anxtest-" not in _ns_list()  # nothing left behind
    hosts = {v["host"]: v for v in manifest["addresses"].values()}
    assert {v["role"] for v in hosts.values()} == {"target", "client", "attacker"}
    # every benign client kind in its own namespace with its own address
    assert {v["kind"] for v in hosts.values() if v["role"] == "client"} == {"simulated-users", *CLIENT_KINDS}
    assert sum(v["role"] == "attacker" for v in hosts.values()) == 5
    assert set(manifest["targets"]) == set(TARGETS)
    assert {(t["app"], t["framework"]) for t in manifest["targets"].values()} == {
        ("notes", "wsgi"), ("notes", "flask"), ("notes", "drf"), ("spa", "flask"), ("forms", "django")}
    for s in manifest["sessions"]:
        for key in ("round", "host", "namespace", "address", "client", "tool", "family", "app", "framework",
                    "command", "version", "started", "ended", "exit"):
            assert s.get(key) not in (None, ""), (s["session"], key)
        assert hosts[s["host"]]["namespace"] == s["namespace"]
        assert manifest["addresses"][s["address"]]["host"] == s["host"]
        assert s["started"] < s["ended"]
        if s["label"] == "attack":
            assert s["family"] == TOOLS[s["tool"]].family and s["client"] == s["tool"]
            assert s["app"] in ("notes", "spa", "forms") and s["target"] in TARGETS
            assert not str(s["exit"]).startswith("not started"), s
            assert s["command"][0].endswith(TOOLS[s["tool"]].program)
            assert s["version"] not in ("missing", "unknown")
        else:
            assert s["family"] == "benign" and s["client"] == hosts[s["host"]]["kind"]
            assert s["exit"] == 0 and s["requests"] > 3, s
            if s["errors"] is not None:  # the client kinds count failed visits; a few may time out on 2 cores
                assert s["errors"] <= max(2, s["requests"] // 5), s
    tampers = [s for s in manifest["sessions"] if s["family"] == "sqli-tamper"]
    assert len({s["tool"] for s in tampers}) >= 10 and all("--tamper" in s["command"] for s in tampers)
    # each attacker host runs one tool at a time: its windows do not overlap
    for host in {s["host"] for s in manifest["sessions"] if s["label"] == "attack"}:
        mine = sorted((s for s in manifest["sessions"] if s["host"] == host), key=lambda s: s["started"])
        assert all(a["ended"] <= b["started"] for a, b in zip(mine, mine[1:]))
    assert set(manifest["versions"]) >= set(TOOLS) | set(CLIENT_KINDS)
    # the pipeline's own capture agent and subscriber recorded the same traffic beside tcpdump
    agent = manifest["pipeline_agent"]
    assert agent["rows"] > 0 and agent["tcpdump_packets"] > 0, agent
    rows = pd.concat([pd.read_csv(f, usecols=["ip_src"]) for f in sorted((out / "agent").glob("netns-*.csv"))])
    assert {"10.77.0.66", "10.77.0.21", "10.77.0.31"} <= set(rows["ip_src"])


def test_labels_attribution_and_every_client_and_tool(recording, full):
    from antinex.pipeline.lab.clients import CLIENT_KINDS
    from antinex.pipeline.lab.tools import TOOLS

    _, manifest = recording
    attackers = {ip for ip, v in manifest["addresses"].items() if v["role"] == "attacker"}
    kinds = {ip: v["kind"] for ip, v in manifest["addresses"].items() if v["role"] == "client"}
    is_attacker = full["ip_src"].isin(attackers) | full["ip_dst"].isin(attackers)
    assert (full.loc[is_attacker, "label_name"] == "attack").all()
    assert (full.loc[~is_attacker, "label_name"] == "not_attack").all()
    # the client column is ground truth by address
    benign = full[~is_attacker]
    peer = benign["ip_src"].where(benign["ip_src"].isin(kinds), benign["ip_dst"])
    assert (peer.map(kinds) == benign["client"]).all()
    assert set(benign["family"]) == {"benign"}
    # every attacker packet falls in a tool's window on its own attacker host
    attack = full[is_attacker]
    assert (attack["session"] != "attacker-unattributed").mean() > 0.95
    # the same rule for rows made another way (requests reassembled from the pcaps)
    from antinex.pipeline.lab.build import attribute

    sample = attack[attack["ip_src"].isin(attackers)].sample(200, random_state=1)
    for ip, rows in sample.groupby("ip_src"):
        found = attribute(manifest, ip, rows["time"])
        assert [s["session"] if s else "attacker-unattributed" for s in found] == list(rows["session"])
    with pytest.raises(ValueError, match="no client or attacker"):
        attribute(manifest, "10.77.0.10", [0.0])
    by_tool = attack.groupby("tool").size()
    assert set(TOOLS) <= set(by_tool.index), sorted(set(TOOLS) - set(by_tool.index))
    assert (attack["family"] == attack["tool"].map(lambda t: TOOLS[t].family if t in TOOLS else "unknown")).all()
    # every client kind sent requests to every app, and the apps answered
    req = full[full["http_is_request"] > 0]
    reached = req[req["label_name"] == "not_attack"].groupby("client")["app"].agg(set)
    for kind in ("simulated-users", *CLIENT_KINDS):
        want = {"notes"} if kind == "simulated-users" else {"notes", "spa", "forms"}
        assert want <= reached.get(kind, set()), (kind, reached.get(kind))
    # every kind but the browser (browsers never do) also asks HEAD of the apps' pages (content.PAGES):
    # no method of an app is one that only the held-out clients use
    sent = req[(req["label_name"] == "not_attack") & req["ip_src"].isin(kinds)]
    assert set(CLIENT_KINDS) - {"browser"} <= set(sent.loc[sent["http_method"] == 5, "client"])
    assert "browser" not in set(sent.loc[sent["http_method"] == 5, "client"])
    answers = full[(full["http_is_response"] > 0) & ~is_attacker]
    ok = answers[answers["http_status"].between(200, 399)].groupby("framework")["app"].agg(set)
    assert {fw: ok.get(fw) for fw in ("wsgi", "flask", "drf", "django")} == {
        "wsgi": {"notes"}, "flask": {"notes", "spa"}, "drf": {"notes"}, "django": {"forms"}}
    # benign content that looks like attack syntax: quotes, angle brackets, SQL words
    b = req[req["label_name"] == "not_attack"]
    assert (b["payload_n_quote"] > 0).sum() > 20 and (b["payload_n_angle"] > 0).sum() > 5
    assert (b["payload_n_sql"] > 0).sum() > 5
    browser = full[(full["client"] == "browser") & full["ip_src"].isin(kinds)]  # what the browser sent
    paths = b" ".join(bytes.fromhex(h) for h in browser["raw_load"].dropna().astype(str)).decode("latin-1")
    for asset in ("/static/spa.js", "/static/spa.css", "/static/logo.png", "/static/forum.css", "/api/login",
                  "csrfmiddlewaretoken"):
        assert asset in paths, asset


def test_build_and_report_on_the_recording(recording, tmp_path, capsys):
    from antinex.pipeline.lab.build import FEATURES, LABEL_COLUMNS
    from antinex.pipeline.lab.cli import main
    from antinex.pipeline.lab.tools import FAMILIES

    ds = tmp_path / "ds"
    assert main(["build", str(recording[0]), "-o", str(ds)]) == 0
    assert "sqlmap-tamper-space2comment" in capsys.readouterr().out  # the per family/client table
    ready = pd.read_csv(ds / "train.csv.gz")
    assert set(FEATURES) | set(LABEL_COLUMNS) <= set(ready.columns)
    assert not {"ip_src", "ip_dst", "tcp_sport", "tcp_dport", "idx", "eth_src"} & set(FEATURES)
    assert set(ready["label_name"]) == {"attack", "not_attack"}
    assert set(ready["family"]) <= {*FAMILIES, "benign", "unknown"}
    assert {"benign", "sqli", "sqli-tamper", "xss", "cmdi", "discovery", "brute-force", "slow-dos"} <= set(
        ready["family"])
    assert set(ready["app"]) >= {"notes", "spa", "forms"}
    meta = json.loads((ds / "metadata.json").read_text())
    assert meta["rows"] == len(ready) and meta["recording"]["mode"] == "netns"
    assert {r["client"] for r in meta["per_client"]} >= {"browser", "curl", "hydra"}
    # the pipeline agents' rows through /mlprepare/'s function: full and cleaned files, labels by address
    agents = pd.read_csv(ds / "fulldata_netns.csv", usecols=["ip_src", "ip_dst", "label_value"])
    attackers = [ip for ip, v in meta["recording"]["addresses"].items() if v["role"] == "attacker"]
    by_attacker = agents["ip_src"].isin(attackers) | agents["ip_dst"].isin(attackers)
    assert (agents["label_value"] == by_attacker.astype(int)).all() and by_attacker.any() and (~by_attacker).any()

    from antinex.pipeline.lab.report import evaluate

    res = evaluate(tmp_path / "report", packets=ds / "train.csv.gz", holdout_clients=("curl", "browser"), epochs=2,
                   seeds=(7, 1), progress=False, families=("sqli", "brute-force", "slow-dos"))
    folds = res["units"]["packet"]["folds"]
    assert {"sqli", "brute-force", "slow-dos", "sqli-tamper"} <= set(folds)
    for fold in folds.values():
        assert not {"browser", "curl", "simulated-users"} & set(fold["held_out"])  # clients are not attack tools
        for det in fold["detectors"].values():
            assert set(det["seeds"]) == {"7", "1"}  # every seed trained and scored
            for run in det["seeds"].values():
                assert run["rows"] == run["tp"] + run["fp"] + run["fn"] + run["tn"] == fold["test_rows"]
                assert set(run["fpr_by_client"]) == {"curl", "browser"}
    text = (tmp_path / "report" / "report.md").read_text()
    assert "**brute-force** (held out;" in text and "## Per packet" in text
    assert (tmp_path / "report" / "per-family-packet.png").stat().st_size > 5000


def test_the_timing_and_window_rules_per_connection(recording):
    """Slow-rate attacks and brute force are caught by limits learned from benign clients only."""
    from antinex.pipeline.lab import flow_eval

    res = flow_eval.evaluate_flows(recording[0], ("curl", "browser"), progress=False)
    tools = res["summary"]["tools"]
    assert {"slowhttptest-slowloris", "slowhttptest-slowread"} <= set(tools)
    assert tools["slowhttptest-slowloris"]["share"]["mean"] > 0.5 and "slowloris" in tools[
        "slowhttptest-slowloris"]["rules"]
    brute = [t for t in tools.values() if t["family"] == "brute-force"]
    assert brute and all(t["attempt"] is not None for t in brute)
    # every attacker connection is counted once, in the session the dataset gives it (build.attribute): tools
    # run back to back on a host, and the grace window after one must not lend it the next one's connections
    for pair in res["pairs"]:
        counted = sum(t["flows"] for t in pair["attacks"].values())
        assert counted + pair["unattributed_flows"] == pair["attacker_flows"] > 0, pair
    benign = res["summary"]["benign"]
    assert benign["curl"]["unseen"] and not benign["simulated-users"]["unseen"]
    assert res["summary"]["benign_share"] < 0.05
    text = "\n".join(flow_eval.markdown(res))
    assert "| slowhttptest-slowloris | slow-dos |" in text and "One round only" in text
    names = [t["target"] for t in flow_eval.targets(res["summary"])]
    assert any(n.startswith("slowhttptest-slowloris") for n in names) and names[-1].startswith("benign")


def test_three_frameworks_serve_the_notes_app():
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
            bad = s.post(f"{base}/login", data={"username": "user1", "password": "bad"})
            # a failed form login answers 200 with the form again (hydra reads 401 as HTTP auth)
            assert bad.status_code == 200 and "invalid credentials" in bad.text and "<form" in bad.text
            assert s.post(f"{base}/login", data={"username": "user1", "password": "secret1"}).status_code == 200
            assert s.post(f"{base}/items", data={"title": "t", "body": "b"}).status_code == 200  # after redirect
            assert any(i["title"] == "t" for i in s.get(f"{base}/api/items").json())
            assert s.get(f"{base}/items/999999").status_code == 404
            assert "action=/upload" in s.get(f"{base}/items").text  # forms for a browser to submit
        finally:
            server.shutdown()


def test_single_page_app_json_api():
    from antinex.pipeline.lab.spaapp import spa_app
    from antinex.pipeline.lab.webapp import serve_app

    port = free_port()
    server, _ = serve_app("127.0.0.1", port, spa_app())
    base = f"http://127.0.0.1:{port}"
    try:
        page = requests.get(f"{base}/")
        assert page.status_code == 200 and '<script src="/static/spa.js">' in page.text
        assert "fetch(path" in requests.get(f"{base}/static/spa.js").text
        assert requests.get(f"{base}/static/logo.png").content.startswith(b"\x89PNG")
        bad = requests.post(f"{base}/api/login", json={"username": "user2", "password": "nope"})
        assert bad.status_code == 400 and bad.json() == {"error": "invalid credentials"}
        assert requests.get(f"{base}/api/notes").status_code == 401
        token = requests.post(f"{base}/api/login", json={"username": "user2", "password": "secret2"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        note = {"title": "Café O'Brien", "body": "SELECT 1; <b>", "tags": ["x"], "meta": {"a": {"b": [1, 2]}}}
        made = requests.post(f"{base}/api/notes", json=note, headers=auth)
        assert made.status_code == 201 and made.json()["meta"] == note["meta"]
        nid = made.json()["id"]
        assert requests.patch(f"{base}/api/notes/{nid}", json={"tags": ["y"]}, headers=auth).json()["tags"] == ["y"]
        assert requests.put(f"{base}/api/notes/{nid}", json={"title": "n"}, headers=auth).json()["body"] == ""
        assert requests.get(f"{base}/api/search", params={"q": "n"}).json()["count"] >= 1
        assert requests.delete(f"{base}/api/notes/{nid}", headers=auth).status_code == 204
        assert requests.get(f"{base}/api/notes/{nid}", headers=auth).status_code == 404
        assert requests.get(f"{base}/api/notes", params={"page": "x"}, headers=auth).json() == {
            "error": "page: not a number"}
        assert requests.get(f"{base}/nowhere").json() == {"error": "not found"}
    finally:
        server.shutdown()


def test_form_app_with_csrf_sessions_profile_and_comments():
    """Django's CSRF and signed-cookie sessions, in the forum's own process (Django is configured
    once per process)."""
    import re

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "antinex.pipeline.lab.formapp", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout.readline().startswith(b"serving forms")
        s = requests.Session()
        page = s.get(f"{base}/login")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        assert "csrftoken" in s.cookies
        assert s.post(f"{base}/login", data={"username": "user1", "password": "secret1"}).status_code == 403
        bad = s.post(f"{base}/login", data={"csrfmiddlewaretoken": token, "username": "user1", "password": "x"})
        assert bad.status_code == 200 and "invalid credentials" in bad.text
        ok = s.post(f"{base}/login", data={"csrfmiddlewaretoken": token, "username": "user1", "password": "secret1"})
        assert ok.url.endswith("/profile") and "sessionid" in s.cookies
        token = s.cookies["csrftoken"]  # rotated at login
        saved = s.post(f"{base}/profile", data={"csrfmiddlewaretoken": token, "bio": "Zürich <3 'quotes'",
                                                 "website": "https://example.org/?a=1&b=2"},
                       files={"avatar": ("a.png", b"\x89PNG....")})
        assert "Saved." in saved.text
        assert "Zürich &lt;3 &#x27;quotes&#x27;" in s.get(f"{base}/users/user1").text
        s.post(f"{base}/posts/1/comments", data={"csrfmiddlewaretoken": token, "text": "日本語 && --flag"})
        assert "日本語 &amp;&amp; --flag" in s.get(f"{base}/posts/1").text
        assert requests.get(f"{base}/profile", allow_redirects=False).headers["Location"] == "/login?next=/profile"
        assert requests.get(f"{base}/posts/999").status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)


def test_tool_registry_rotation_and_bad_input(capsys):
    from antinex.pipeline.lab.cli import main
    from antinex.pipeline.lab.record import plan_round
    from antinex.pipeline.lab.targets import TARGETS, select
    from antinex.pipeline.lab.tools import FAMILIES, TAMPERS, TOOLS, resolve

    assert len(TAMPERS) >= 10
    assert {t.family for t in TOOLS.values()} == set(FAMILIES)
    assert resolve(["classic"])[:2] == ("sqlmap", "wfuzz") and len(resolve(["classic"])) == 8
    assert set(resolve(["slow-dos"])) == {"slowhttptest-slowloris", "slowhttptest-slowbody", "slowhttptest-slowread"}
    assert resolve(["hydra", "brute-force"]) == ("hydra",)
    targets = select()
    assert [t.name for t in targets] == list(TARGETS)
    # over as many rounds as targets, every tool meets every target
    met = {}
    for r in range(len(targets)):
        for queue in plan_round(tuple(TOOLS), targets, 3, r):
            for tool, t in queue:
                met.setdefault(tool, set()).add(t.name)
    assert all(v == set(TARGETS) for v in met.values())
    for argv, reason in ((["record", "/tmp/x", "--netns", "--tools", "sqlmap,nikto"], "unknown tool or group 'nikto'"),
                         (["record", "/tmp/x", "--netns", "--client-kinds", "lynx"], "--client-kinds: unknown lynx"),
                         (["record", "/tmp/x", "--netns", "--apps", "shop"], "--apps: unknown shop")):
        assert main(argv) == 2
        assert reason in capsys.readouterr().err


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


def test_every_public_page_answers_get_and_head():
    """content.PAGES is what every benign client reads after each visit: each page exists in its app,
    and answers HEAD as it answers GET (a map with a dead page would teach the detector 404s)."""
    import random

    from antinex.pipeline.lab import content

    ports = {"notes": free_port(), "spa": free_port(), "forms": free_port()}
    py = sys.executable
    procs = [subprocess.Popen([py, "-m", "antinex.pipeline.lab.webapp", "--host", "127.0.0.1", "--wsgi",
                               str(ports["notes"]), "--flask", str(free_port()), "--drf", str(free_port())]),
             subprocess.Popen([py, "-m", "antinex.pipeline.lab.spaapp", "--host", "127.0.0.1", "--port",
                               str(ports["spa"])]),
             subprocess.Popen([py, "-m", "antinex.pipeline.lab.formapp", "--host", "127.0.0.1", "--port",
                               str(ports["forms"])])]
    try:
        for app, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    requests.get(base + "/", timeout=2)
                    break
                except requests.ConnectionError:
                    time.sleep(0.2)
            rng = random.Random(3)
            assert set(content.PAGES) == {"notes", "spa", "forms"}
            for _ in range(60):
                path = content.page(app, rng)
                got = requests.get(base + path, timeout=10, allow_redirects=False)
                head = requests.head(base + path, timeout=10, allow_redirects=False)
                # a note by id may not exist yet (the apps start empty; clients add notes): 404 is benign there
                want = (200, 404) if path.startswith("/items/") else (200,)
                assert got.status_code in want and head.status_code == got.status_code, (app, path, got.status_code)
                assert not head.content
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
