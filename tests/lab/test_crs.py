"""The CRS baseline for real: Debian's Apache, ModSecurity v2 and OWASP CRS 3.3.4 judging replayed requests."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from urllib.parse import quote

import pandas as pd
import pytest

from antinex.pipeline.http_message import MAX_BODY_BYTES, parse_http_request, request_to_text

BROWSER = ("User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36\r\n"
           "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
           "Accept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n")


def get(target: str, headers: str = BROWSER, host: str = "shop.example") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode()


def post(target: str, body: bytes, ctype: str, headers: str = BROWSER, host: str = "shop.example") -> bytes:
    return (f"POST {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


FORM = "application/x-www-form-urlencoded"
ATTACKS = {
    "sqli": (get("/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"), "942"),
    "xss": (get("/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"), "941"),
    "traversal": (get("/download?file=../../../../etc/passwd"), "930"),
    "command": (post("/ping", b"host=127.0.0.1%3Bcat%20/etc/passwd", FORM), "932"),
    "scanner": (get("/", "User-Agent: Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)\r\nAccept: */*\r\n"),
                "913"),
}
BENIGN = {
    "browser": get("/shop/items/?category=mugs&page=2&sort=price",
                   BROWSER + "Cookie: sessionid=k3n2lq8w7x0v1b9c; csrftoken=Zq0Xw3vYb8nM2pL5tR7sK1dF4gH6jJ9a\r\n"
                   "Referer: http://shop.example/shop/items/\r\n", host="10.77.0.10:8080"),
    "form": post("/accounts/login/", b"csrfmiddlewaretoken=Zq0Xw3vYb8nM2pL5&username=alice&password=S3cret%21"
                                     b"&next=%2Fshop%2F", FORM,
                 BROWSER + "Cookie: csrftoken=Zq0Xw3vYb8nM2pL5\r\nOrigin: http://shop.example\r\n"),
    "json": post("/api/v1/items/", b'{"name": "Blue mug", "price": 9.5, "tags": ["kitchen", "gift"], "stock": 12}',
                 "application/json", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0\r\n"
                                     "Accept: application/json\r\nX-Requested-With: XMLHttpRequest\r\n"),
}
MALFORMED = {
    "garbage": b"GARBAGE\r\n\r\n",
    "cut_head": b"GET /slow HTTP/1.1\r\nHost: shop.example\r\nX-a: b\r\n",
    "no_host_11": b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
    "long_uri": get("/" + "a" * 9000),
    "empty": b"",
    "options_star": b"OPTIONS * HTTP/1.1\r\nHost: shop.example\r\n\r\n",
}


@pytest.fixture(scope="module")
def installed():
    from antinex.pipeline.lab.crs import Installation

    try:
        Installation().check()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (scripts/bootstrap.sh installs them)")


@pytest.fixture(scope="module")
def per_level(installed):
    """The reference: one port per paranoia level, each a plain CRS at that level."""
    from antinex.pipeline.lab.crs import CrsServer

    with CrsServer((1, 2, 3, 4), single_pass=False, threads=8) as server:
        yield server


@pytest.fixture(scope="module")
def single(installed):
    from antinex.pipeline.lab.crs import CrsServer

    with CrsServer((1, 2, 3, 4), threads=8) as server:
        yield server


def mixed() -> list[bytes]:
    """Attacks, benign requests and their variants (one parameter changed), and malformed ones."""
    out = [r for r, _ in ATTACKS.values()] + list(BENIGN.values()) + list(MALFORMED.values())
    for i, word in enumerate(("O'Brien", "select a colour", "1 or 2 mugs", "<b>bold</b>", "a;b", "../up", "ls -la",
                              "python tutorial", "café crème", "100%", "x=1&y=2", "--help")):
        out.append(get(f"/search?q={quote(word)}&n={i}"))
        out.append(post("/comment", f"text={quote(word)}&id={i}".encode(), FORM))
    out.append(post("/upload", b"x" * 100, FORM)[:-40])  # body shorter than its Content-Length
    return out


def test_runs_unprivileged_and_records_versions(single):
    from antinex.pipeline.lab.crs import replay

    run = replay(single, [BENIGN["browser"]])
    v = run.meta["versions"]
    assert v["apache"].startswith("Apache/2.4.")
    assert v["modsecurity"].startswith("2.9.")
    assert v["crs"] == "OWASP_CRS/3.3.4"
    assert set(v["packages"]) == {"apache2-bin", "libapache2-mod-security2", "modsecurity-crs"}
    assert run.meta["threshold"] == 5
    # every Apache process of ours runs as nobody when the caller is root
    pids = [single.proc.pid] + [int(p) for p in os.listdir("/proc") if p.isdigit()
                                and _ppid(int(p)) == single.proc.pid]
    uids = {_uid(p) for p in pids}
    assert uids == ({65534} if os.geteuid() == 0 else {os.geteuid()}), uids
    conf = (single.root / "httpd.conf").read_text()
    assert "SecRuleEngine DetectionOnly" in conf and "SecAuditEngine On" in conf
    assert all(f"Listen 127.0.0.1:{p}" in conf for p in single.ports.values())


def _status(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return dict(line.split(":", 1) for line in fh if ":" in line)
    except OSError:
        return {}


def _ppid(pid: int) -> int:
    return int(_status(pid).get("PPid", "0").strip() or 0)


def _uid(pid: int) -> int:
    return int(_status(pid)["Uid"].split()[1])  # effective uid


def test_classic_attacks_are_flagged_at_pl1(per_level):
    from antinex.pipeline.lab.crs import replay

    run = replay(per_level, [r for r, _ in ATTACKS.values()])
    v = run.verdicts
    for k, (name, (_, family)) in enumerate(ATTACKS.items()):
        assert v.loc[k, "crs_pl1_outcome"] == "inspected", name
        assert v.loc[k, "crs_pl1_flagged"], (name, v.loc[k, "crs_pl1_score"], v.loc[k, "crs_pl1_rules"])
        assert v.loc[k, "crs_pl1_score"] >= 5
        assert any(r.startswith(family) for r in v.loc[k, "crs_pl1_rules"].split()), (name, v.loc[k, "crs_pl1_rules"])


def test_plain_benign_requests_are_not_flagged_at_pl1(per_level):
    from antinex.pipeline.lab.crs import replay

    run = replay(per_level, list(BENIGN.values()))
    v = run.verdicts
    assert (v["crs_pl1_outcome"] == "inspected").all()
    assert not v["crs_pl1_flagged"].any(), v[["crs_pl1_score", "crs_pl1_rules"]]
    assert (v["crs_pl1_status"] == 200).all()
    # the lab's IP-literal Host was renamed (only that header), so 920350 did not score it
    assert v.loc[0, "crs_fixups"] == "host" and run.meta["fixups"] == {"host": 1}
    assert "920350" not in v.loc[0, "crs_pl1_rules"]
    kept = replay(per_level, [BENIGN["browser"]], rewrite_host=False).verdicts
    assert kept.loc[0, "crs_fixups"] == ""
    assert "920350" in kept.loc[0, "crs_pl1_rules"].split() and kept.loc[0, "crs_pl1_score"] == 3


def test_pl4_flags_at_least_what_pl1_flags(per_level):
    from antinex.pipeline.lab.crs import replay

    v = replay(per_level, mixed()).verdicts
    inspected = v["crs_pl1_outcome"] == "inspected"
    for lo, hi in ((1, 2), (2, 3), (3, 4)):
        assert (v.loc[inspected, f"crs_pl{hi}_score"] >= v.loc[inspected, f"crs_pl{lo}_score"]).all()
        assert (v[f"crs_pl{hi}_flagged"] | ~v[f"crs_pl{lo}_flagged"]).all()
    assert v["crs_pl4_flagged"].sum() > v["crs_pl1_flagged"].sum()  # PL4 is stricter on this mix, not only equal


def test_single_pass_gives_the_per_level_verdicts(per_level, single):
    from antinex.pipeline.lab.crs import replay

    requests = mixed()
    ref = replay(per_level, requests).verdicts
    one = replay(single, requests)
    assert one.meta["transactions"] == one.meta["unique_requests"] == len(set(requests))
    cols = [c for c in ref.columns if not c.endswith("_error")]
    pd.testing.assert_frame_equal(ref[cols], one.verdicts[cols])


def test_malformed_and_cut_requests(single):
    from antinex.pipeline.lab.crs import replay

    big = post("/upload", b"q=%3Cscript%3Ealert(1)%3C/script%3E&pad=" + b"a" * (2 * MAX_BODY_BYTES), FORM)
    head, body = big.split(b"\r\n\r\n", 1)
    requests = list(MALFORMED.values()) + [
        post("/upload", b"name=a&text=b", FORM)[:-5],  # the client stopped sending in the body
        # cut by the dataset at MAX_BODY_BYTES: the Content-Length is fixed up, the body inspected
        head + b"\r\n\r\n" + body[:MAX_BODY_BYTES],
        # a large body: inspected up to ModSecurity's 128 KiB limit for bodies without files, refused above it
        post("/upload", b"q=1%27%20UNION%20SELECT%20password%20FROM%20users--&pad=" + b"b" * 100_000, FORM),
        post("/upload", b"q=1%27%20UNION%20SELECT%20password%20FROM%20users--&pad=" + b"b" * (1 << 20), FORM),
    ]
    v = replay(single, requests).verdicts.set_index(pd.Index(list(MALFORMED) + ["cut_body", "dataset_cut", "large", "huge"]))
    for name in ("garbage", "cut_head", "no_host_11"):
        assert v.loc[name, "crs_pl1_outcome"] == "rejected" and v.loc[name, "crs_pl1_status"] == 400, name
        assert not v.loc[name, "crs_pl4_flagged"] and pd.isna(v.loc[name, "crs_pl1_score"])
    assert v.loc["long_uri", "crs_pl1_outcome"] == "rejected" and v.loc["long_uri", "crs_pl1_status"] == 414
    assert v.loc["empty", "crs_pl1_outcome"] == "no_response"
    assert v.loc["options_star", "crs_pl1_outcome"] == "apache_only" and v.loc["options_star", "crs_pl1_status"] == 200
    assert v.loc["cut_body", "crs_pl1_outcome"] == "body_error"
    assert v.loc["dataset_cut", "crs_fixups"] == "content-length"
    assert v.loc["dataset_cut", "crs_pl1_outcome"] == "inspected" and v.loc["dataset_cut", "crs_pl1_flagged"]
    assert v.loc["large", "crs_pl1_outcome"] == "inspected" and v.loc["large", "crs_pl1_flagged"]
    assert "942100" in v.loc["large", "crs_pl1_rules"].split()
    assert v.loc["huge", "crs_pl1_outcome"] == "body_limit" and v.loc["huge", "crs_pl1_status"] == 413
    assert not v.loc["huge", "crs_pl4_flagged"]


def test_expect_100_continue_is_judged_on_the_final_answer(single):
    """curl sends ``Expect: 100-continue`` with bodies over 1 KiB: Apache's interim 100 comes first."""
    from antinex.pipeline.lab.crs import replay

    body = b"comment=" + b"nice+mug+" * 200 + b"&id=1%27%20UNION%20SELECT%20password%20FROM%20users--"
    raw = (b"POST /comment HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
           % len(body)) + body
    v = replay(single, [raw]).verdicts
    assert v.loc[0, "crs_pl1_outcome"] == "inspected" and v.loc[0, "crs_pl1_status"] == 200
    assert v.loc[0, "crs_pl1_flagged"] and "942100" in v.loc[0, "crs_pl1_rules"].split()


def test_cache_keeps_verdicts_per_configuration(single, per_level, tmp_path):
    from antinex.pipeline.lab.crs import replay

    cache = tmp_path / "verdicts.sqlite"
    first = replay(single, mixed(), cache=cache)
    assert first.meta["from_cache"] == 0 and first.meta["transactions"] == first.meta["unique_requests"]
    # a new request is the only one sent; the verdicts of the others are the same as before
    extra = get("/search?q=%3Csvg%20onload%3Dalert(1)%3E")
    second = replay(single, mixed() + [extra], cache=cache)
    cols = [c for c in first.verdicts.columns if not c.endswith("_error")]
    pd.testing.assert_frame_equal(second.verdicts[cols].iloc[:-1], first.verdicts[cols])
    transient = sum(first.verdicts["crs_pl1_outcome"].isin(["no_response", "no_record"]))
    assert second.meta["transactions"] == 1 + transient and second.flagged(1).iloc[-1]
    # a server with another configuration (no ModSecurity) shares nothing with it
    assert single.fingerprint() == per_level.fingerprint()  # same rules and templates: same verdicts
    from antinex.pipeline.lab.crs import CrsServer

    with CrsServer((1,), modsecurity=False, threads=4) as plain:
        assert plain.fingerprint() != single.fingerprint()


def test_allowed_methods_tune_the_crs_for_an_api(single):
    """A JSON API's PUT and DELETE are flagged by the default CRS (rule 911100); told the application's
    methods, the CRS lets them through and still flags the same attack sent by PUT."""
    from antinex.pipeline.lab.crs import CrsServer, replay

    js = "application/json"
    reqs = [post("/api/notes/3", b'{"title": "weekly plan"}', js).replace(b"POST ", b"PUT ", 1),
            get("/api/notes/3").replace(b"GET ", b"DELETE ", 1),
            post("/api/notes/3", b'{"title": "1\' UNION SELECT password FROM users--"}', js).replace(b"POST ", b"PUT ", 1)]
    default = replay(single, reqs)
    assert default.flagged(1).tolist() == [True, True, True]
    assert all("911100" in rules for rules in default.verdicts["crs_pl1_rules"][:2])
    with CrsServer((1,), threads=4, allowed_methods=("GET", "HEAD", "POST", "OPTIONS", "PUT", "PATCH",
                                                       "DELETE")) as tuned:
        assert tuned.fingerprint() != single.fingerprint()  # its verdicts are cached apart
        run = replay(tuned, reqs)
    assert run.flagged(1).tolist() == [False, False, True]
    assert not any("911100" in rules for rules in run.verdicts["crs_pl1_rules"])
    for bad in ((), ("get",), ("GET; rm",)):
        with pytest.raises(ValueError, match="allowed_methods"):
            CrsServer((1,), allowed_methods=bad)


def test_http_request_objects_and_duplicates(single):
    from antinex.pipeline.lab.crs import replay

    reqs = [parse_http_request(ATTACKS["sqli"][0]), parse_http_request(BENIGN["form"]),
            parse_http_request(ATTACKS["sqli"][0])]
    run = replay(single, reqs)
    assert run.meta["requests"] == 3 and run.meta["unique_requests"] == 2
    assert run.flagged(1).tolist() == [True, False, True]


def test_timeout_of_a_silent_server():
    from antinex.pipeline.lab.crs import _exchange

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        held = []
        t = threading.Thread(target=lambda: held.append(srv.accept()), daemon=True)
        t.start()
        status, tx, error = asyncio.run(_exchange(srv.getsockname()[1], b"GET / HTTP/1.1\r\n", 0.5))
        t.join(5)
        for conn, _ in held:
            conn.close()
    assert (status, tx, error) == (None, None, "timeout")


def test_cli_writes_tables_and_verdicts(installed, tmp_path, capsys):
    from antinex.pipeline.lab.cli import main

    rows = [{"http_request": request_to_text(r), "label_value": 1, "tool": name} for name, (r, _) in ATTACKS.items()]
    rows += [{"http_request": request_to_text(r), "label_value": 0, "tool": "browser"} for r in BENIGN.values()]
    rows.append({"http_request": "", "label_value": 0, "tool": "browser"})  # a packet without a request
    pd.DataFrame(rows).to_csv(tmp_path / "requests.csv.gz", index=False)
    out = tmp_path / "out"
    assert main(["crs", str(tmp_path / "requests.csv.gz"), "-o", str(out), "--levels", "1,4"]) == 0
    summary = json.loads((out / "crs_summary.json").read_text())
    pl1 = summary["levels"]["1"]["flagged"]
    assert (pl1["recall"], pl1["fpr"], pl1["attacks"], pl1["benign"]) == (1.0, 0.0, 5, 3)
    assert summary["skipped_rows"] == 1 and summary["meta"]["versions"]["crs"] == "OWASP_CRS/3.3.4"
    assert set(summary["groups"]) == {*ATTACKS, "browser"}
    verdicts = pd.read_csv(out / "crs_verdicts.csv.gz")
    assert len(verdicts) == 8 and {"row", "label_value", "tool", "crs_pl4_flagged"} <= set(verdicts.columns)
    assert "crs_pl2_flagged" not in verdicts.columns
    assert (out / "crs_levels.png").stat().st_size > 1000
    text = capsys.readouterr().out
    assert "| PL1 | 100.00% | 0.00% |" in text
    # libinjection beside it: the SQLi and XSS requests of the five attacks, no benign one
    li = summary["libinjection"]["flagged"]
    assert (li["flagged_attacks"], li["flagged_benign"]) == (2, 0) and "| libinjection (SQLi, XSS only) | 40.00% |" in text
    assert verdicts["libinj_flagged"].sum() == 2
    # run again: every verdict comes from the cache in OUT, none is replayed, the tables are the same
    assert main(["crs", str(tmp_path / "requests.csv.gz"), "-o", str(out), "--levels", "1,4"]) == 0
    again = json.loads((out / "crs_summary.json").read_text())
    assert again["meta"]["from_cache"] == 8 and again["meta"]["transactions"] == 0
    assert again["levels"] == summary["levels"]
    assert capsys.readouterr().out.count("| PL1 | 100.00% | 0.00% |") == 1


@pytest.mark.parametrize("argv, message", [
    (["--levels", "1,5"], "--levels: paranoia levels are 1-4"),
    (["--levels", "x"], "--levels: comma-separated numbers"),
    (["--label", "verdict"], "--label:"),
    (["--text-column", "payload"], "--text-column:"),
])
def test_cli_refuses_bad_input(tmp_path, capsys, argv, message):
    from antinex.pipeline.lab.cli import main

    pd.DataFrame([{"http_request": request_to_text(BENIGN["json"]), "label_value": 0}]).to_csv(
        tmp_path / "r.csv", index=False)
    assert main(["crs", str(tmp_path / "r.csv"), "-o", str(tmp_path / "o"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_bad_labels_and_text(tmp_path, capsys):
    from antinex.pipeline.lab.cli import main

    pd.DataFrame([{"http_request": request_to_text(BENIGN["json"]), "label_value": 3}]).to_csv(
        tmp_path / "r.csv", index=False)
    assert main(["crs", str(tmp_path / "r.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "label_value: labels must be 0/1" in capsys.readouterr().err
    pd.DataFrame([{"http_request": "GET / \u00e9", "label_value": 0}]).to_csv(tmp_path / "t.csv", index=False)
    assert main(["crs", str(tmp_path / "t.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "http_request: row 0: not an escaped HTTP request" in capsys.readouterr().err
    assert main(["crs", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_stop_removes_the_server(installed):
    from antinex.pipeline.lab.crs import CrsServer

    server = CrsServer((1,), threads=4).start()
    root, pid, port = server.root, server.proc.pid, server.ports[1]
    server.stop()
    assert not root.exists()
    assert not os.path.exists(f"/proc/{pid}") or _status(pid).get("State", "").strip().startswith("Z")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_replay_from_code_that_runs_an_event_loop(single):
    """A notebook cell runs inside an event loop: replay still works (its loop runs in a thread)."""
    from antinex.pipeline.lab.crs import replay

    async def inside():
        return replay(single, [ATTACKS["xss"][0], BENIGN["json"]])

    assert asyncio.run(inside()).flagged(1).tolist() == [True, False]


def test_libinjection_baseline():
    """The in-process libinjection baseline: SQLi and XSS wherever the CRS's 942100/941100 look, nothing else."""
    from antinex.pipeline.lab.libinjection_baseline import available, libinjection_verdicts

    if not available():
        pytest.fail("libinjection-python is missing (the dev and lab extras install it)")
    requests = [ATTACKS[k][0] for k in ("sqli", "xss", "traversal", "scanner")] + list(BENIGN.values()) + [
        post("/api/v1/items/", b'{"q": {"name": "1 UNION SELECT password FROM users"}}', "application/json"),
        get("/", BROWSER + "Cookie: id=1%27%20or%20%271%27%3D%271\r\n"),
        get("/search?q=O%27Brien&text=select+a+colour"),
        b"GARBAGE\r\n\r\n",
    ]
    v = libinjection_verdicts(requests)
    assert v["libinj_flagged"].tolist() == [True, True, False, False, False, False, False, True, True, False, False]
    assert v.loc[0, "libinj_sqli"] and v.loc[1, "libinj_xss"] and not v.loc[1, "libinj_sqli"]
    assert v.loc[0, "libinj_input"].startswith("parameter ") and ":1' UNION SELECT" in v.loc[0, "libinj_input"]
    assert v.loc[7, "libinj_input"].startswith("JSON value name:1 UNION")
    assert v.loc[8, "libinj_input"].startswith("cookie id:")


def test_evaluate_crs_aligns_verdicts_with_the_dataset_rows(installed):
    """What the lab report calls: a test split (any index), rows without a request left out and counted."""
    from antinex.pipeline.lab.crs_report import evaluate_crs, markdown

    df = pd.DataFrame({"http_request": [request_to_text(ATTACKS["xss"][0]), None, request_to_text(BENIGN["form"]),
                                        request_to_text(ATTACKS["traversal"][0])],
                       "label_name": ["attack", "not_attack", "not_attack", "attack"],
                       "tool": ["xsser", "browser", "browser", "dirb"]}, index=[40, 41, 42, 43])
    verdicts, summary = evaluate_crs(df, label_column="label_name", levels=(1,), libinjection=False)
    assert verdicts.index.tolist() == [40, 42, 43]
    assert verdicts["crs_pl1_flagged"].tolist() == [True, False, True]
    assert summary["skipped_rows"] == 1 and "libinjection" not in summary
    assert summary["groups"]["dirb"][1]["flagged"]["recall"] == 1.0
    assert summary["groups"]["browser"][1]["flagged"]["fpr"] == 0.0
    assert "| dirb | attack (recall) | 1 | 100.00% | – |" in markdown(summary)
    # beside a detector that caught the XSS only and flagged the form: the CRS is better on dirb and on benign
    from antinex.pipeline.lab.crs_report import side_by_side

    rows = df.loc[verdicts.index]
    table = side_by_side(verdicts, [True, True, False], (rows["label_name"] == "attack").astype(int), rows["tool"])
    table = table.set_index("group")
    assert table.loc["dirb", "detector"] == 0.0 and table.loc["dirb", "crs_pl1"] == 1.0
    assert table.loc["dirb", "crs_better_pl1"] and not table.loc["xsser", "crs_better_pl1"]
    assert table.loc["browser", "measure"] == "fpr" and table.loc["browser", "crs_better_pl1"]
    assert table.loc["all attacks", "detector"] == 0.5 and table.loc["all attacks", "crs_pl1"] == 1.0
