"""Alerts: EVE records against the schema, once per flow, suppression, and the three sinks for real
(a rotating file, a bounded list on Redis, syslog over UDP); rule verdicts and their reasons."""
from __future__ import annotations

import json
import socket
import threading

import jsonschema
import pytest

from antinex.pipeline.analyzer import Analyzer
from antinex.pipeline.eve import SCHEMA, AlertWriter, EveFile, RedisList, Syslog, eve_record
from antinex.pipeline.http_message import parse_http_request
from antinex.pipeline.profile import LIMITS, Profile, shipped_profile
from antinex.pipeline.suppression import Suppression, SuppressionError
from antinex.pipeline.verdicts import SIGNATURES, Verdict

from .tcpcraft import Conversation, response


def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()), format_checker=jsonschema.FormatChecker())


def verdict(name="request-attack", flow_id=7, src="10.1.0.5", path="/login", ts=1_700_000_000.5) -> Verdict:
    req = parse_http_request(b"POST %s HTTP/1.1\r\nHost: shop.example:8080\r\nUser-Agent: Hydra\r\n"
                             b"Content-Length: 3\r\n\r\na=b" % path.encode())
    req.response_status = 401
    return Verdict(kind="request", name=name, score=0.97, model="detector (abc)", reason="score 0.97", ts=ts,
                   flow_id=flow_id, src_ip=src, src_port=40000, dest_ip="10.1.0.1", dest_port=8080, request=req)


def test_the_schema_knows_every_signature_and_every_record_passes():
    schema = json.loads(SCHEMA.read_text())
    assert set(schema["properties"]["antinex"]["properties"]["verdict"]["enum"]) == set(SIGNATURES)
    assert len({s.sid for s in SIGNATURES.values()}) == len(SIGNATURES)
    v = validator()
    for name in SIGNATURES:
        record = eve_record(verdict(name))
        assert not list(v.iter_errors(record)), name
        assert record["alert"]["signature_id"] == SIGNATURES[name].sid
    record = eve_record(verdict())
    assert record["timestamp"] == "2023-11-14T22:13:20.500000+0000"
    assert record["http"] == {"http_method": "POST", "url": "/login", "hostname": "shop.example", "http_port": 8080,
                              "http_user_agent": "Hydra", "protocol": "HTTP/1.1", "status": 401,
                              "request_body_length": 3}
    bad = dict(record, alert=dict(record["alert"], severity=9))
    assert list(v.iter_errors(bad)), "the schema rejects what Suricata would not write"
    with pytest.raises(ValueError):
        eve_record(verdict("benign"))


def test_once_per_flow_and_signature_and_suppression(tmp_path):
    out = tmp_path / "eve.json"
    suppress = Suppression.from_text("""
        # monitoring host, every signature
        suppress gen_id 1, sig_id 0, track by_src, ip [10.9.9.9, 192.0.2.0/24]
        suppress path /healthz
        suppress gen_id 1, sig_id 1500030
    """)
    writer = AlertWriter([EveFile(out)], suppress)
    got = writer.write([verdict(), verdict(), verdict(flow_id=8),  # the second is the same flow and signature
                        verdict("scan"), verdict(src="192.0.2.44", flow_id=9), verdict(path="/healthz/db", flow_id=10),
                        verdict("brute-force", flow_id=7)])
    writer.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == got
    assert [(r["flow_id"], r["antinex"]["verdict"]) for r in lines] == [(7, "request-attack"), (8, "request-attack"),
                                                                        (7, "brute-force")]
    assert writer.duplicates == 1 and writer.suppressed == 3 and writer.written == 3


@pytest.mark.parametrize("text, words", [
    ("alert tcp any any", "only 'suppress' entries"),
    ("suppress gen_id 1, sig_id x", "sig_id must be a number"),
    ("suppress gen_id 3, sig_id 1500001", "gen_id 1"),
    ("suppress gen_id 1, sig_id 0", "matches every alert"),
    ("suppress gen_id 1, sig_id 1500001, track by_src", "'track' and 'ip' go together"),
    ("suppress gen_id 1, sig_id 1500001, track by_foo, ip 1.2.3.4", "track must be one of"),
    ("suppress gen_id 1, sig_id 1500001, track by_src, ip 1.2.3", "not an IP address"),
    ("suppress path healthz", "starts with '/'"),
    ("suppress gen_id 1, colour red", "unknown key 'colour'"),
])
def test_a_bad_suppression_line_is_named(text, words):
    with pytest.raises(SuppressionError) as err:
        Suppression.from_text("# first line\n" + text, "s.conf")
    assert "s.conf, line 2" in str(err.value) and words in str(err.value)


def test_the_eve_file_rotates(tmp_path):
    out = tmp_path / "alerts" / "eve.json"
    sink = EveFile(out, max_bytes=2000, backups=2)
    writer = AlertWriter([sink])
    writer.write([verdict(flow_id=i) for i in range(30)])
    writer.close()
    files = sorted(p.name for p in out.parent.iterdir())
    assert files == ["eve.json", "eve.json.1", "eve.json.2"]
    v = validator()
    for f in out.parent.iterdir():
        for line in f.read_text().splitlines():
            assert not list(v.iter_errors(json.loads(line)))


def test_the_redis_list_is_bounded(redis_db):
    import redis

    url = redis_db("pipeline")
    writer = AlertWriter([RedisList(url, key="alerts", max_len=5)])
    writer.write([verdict(flow_id=i) for i in range(12)])
    writer.close()
    r = redis.Redis.from_url(url)
    held = [json.loads(x) for x in r.lrange("alerts", 0, -1)]
    assert [h["flow_id"] for h in held] == [11, 10, 9, 8, 7]  # the newest five, newest first


def test_syslog_receives_each_alert():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.extend(sock.recvfrom(65535)[0] for _ in range(2)))
    t.start()
    writer = AlertWriter([Syslog(f"127.0.0.1:{port}", "local5")])
    writer.write([verdict(flow_id=1), verdict("scan", flow_id=2)])
    writer.close()
    t.join(10)
    sock.close()
    assert len(got) == 2
    for msg in got:
        text = msg.decode()
        assert text.startswith("<172>antinex: ")  # local5 (21) * 8 + warning (4)
        assert not list(validator().iter_errors(json.loads(text.split("antinex: ", 1)[1].rstrip("\x00"))))


# -- rules -------------------------------------------------------------------------------------
def tight_profile(**limits) -> Profile:
    base = {k: s.floor for k, s in LIMITS.items()}
    base.update(limits)
    return Profile(name="test", limits=base, observed={}, origin="test")


def analyze(conversations, profile) -> list[Verdict]:
    pairs = sorted((p for c in conversations for p in c.rows()), key=lambda p: p[0])
    a = Analyzer(profile)
    for ts, row in pairs:
        a.feed(ts, row)
    a.finish()
    return a.take_verdicts()


def test_slowloris_is_flagged_while_it_runs_not_when_it_ends():
    slow = Conversation(client=("10.2.0.66", 41000))
    slow.handshake(100.0)
    slow.send(100.1, "c", b"GET / HTTP/1.1\r\nHost: app\r\nUser-Agent: Mozilla/5.0\r\n")
    for i in range(1, 6):
        slow.send(100.1 + 5 * i, "c", b"X-a%d: b\r\n" % i)  # a header line every five seconds
    normal = Conversation(client=("10.2.0.21", 42000))  # other traffic keeps the packet clock going
    normal.handshake(100.0)
    for i in range(60):
        normal.send(100.5 + 0.5 * i, "c", b"GET /%d HTTP/1.1\r\nHost: app\r\n\r\n" % i)
        normal.send(100.52 + 0.5 * i, "s", response(200))
    verdicts = analyze([slow, normal], shipped_profile())
    loris = [v for v in verdicts if v.name == "slowloris"]
    assert len(loris) == 1 and loris[0].src_ip == "10.2.0.66"
    assert 103.1 < loris[0].ts <= 104.2  # past the 3 s limit, at the next second's sweep, while the attack runs
    assert "request headers still incomplete after" in loris[0].reason and "limit 3 s" in loris[0].reason
    assert loris[0].request.header("host") == "app"  # the alert names what the headers said so far
    assert not [v for v in verdicts if v.src_ip == "10.2.0.21"]


def test_slow_body_slow_read_flood_brute_force_and_scan_rules():
    body = Conversation(client=("10.2.0.66", 41001))
    body.handshake(10.0)
    body.send(10.1, "c", b"POST /items HTTP/1.1\r\nHost: app\r\nContent-Length: 8192\r\n\r\n")
    for i in range(1, 5):
        body.send(10.1 + 2 * i, "c", b"a=b&")
    reader = Conversation(client=("10.2.0.67", 41002), window=600, wscale=0)
    reader.handshake(10.0)
    reader.send(10.1, "c", b"GET /api/items HTTP/1.1\r\nHost: app\r\n\r\n", window=600)
    reader.send(10.2, "s", response(200, b"x" * 500))
    reader.ack(10.3, "c", window=0)
    floods = []
    for i in range(6):  # six connections open at once from one source, limit 4
        c = Conversation(client=("10.2.0.68", 42000 + i))
        c.handshake(20.0 + i * 0.01)
        floods.append(c)
    brute = []
    for i in range(7):  # seven failed logins, limit 5
        c = Conversation(client=("10.2.0.69", 43000 + i))
        c.handshake(30.0 + i)
        c.send(30.1 + i, "c", b"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded"
                              b"\r\nContent-Length: 24\r\n\r\nusername=a&password=p%03d" % i)
        c.send(30.2 + i, "s", response(401))
        c.close(30.3 + i)
        brute.append(c)
    basic = []
    for i in range(7):  # HTTP basic auth guessed: 401s without any form
        c = Conversation(client=("10.2.0.71", 45000 + i))
        c.handshake(50.0 + i)
        c.send(50.1 + i, "c", b"GET /admin HTTP/1.1\r\nHost: app\r\nAuthorization: Basic YTpi%03d\r\n\r\n" % i)
        c.send(50.2 + i, "s", response(401))
        c.close(50.3 + i)
        basic.append(c)
    scan = Conversation(client=("10.2.0.70", 44000))
    scan.handshake(40.0)
    for i in range(5):  # five missing paths, limit 3
        scan.send(40.1 + i * 0.1, "c", b"GET /admin%d HTTP/1.1\r\nHost: app\r\n\r\n" % i)
        scan.send(40.15 + i * 0.1, "s", response(404))
    profile = tight_profile(src_open_flows=4, src_missing_paths=3)
    verdicts = analyze([body, reader, *floods, *brute, *basic, scan], profile)
    by = {}
    for v in verdicts:
        by.setdefault(v.name, []).append(v)
    assert [v.src_ip for v in by["slow-body"]] == ["10.2.0.66"]
    assert "body incomplete" in by["slow-body"][0].reason and "of 8192 bytes" in by["slow-body"][0].reason
    assert [v.src_ip for v in by["slow-read"]] == ["10.2.0.67"]
    assert "receive window of 600 bytes" in by["slow-read"][0].reason
    assert [v.src_port for v in by["connection-flood"]] == [42004, 42005]  # the fifth and sixth connection
    forms = [v for v in by["brute-force"] if v.src_ip == "10.2.0.69"]
    assert [v.src_port for v in forms] == [43005, 43006]  # past the fifth password
    assert "posted 6 different passwords for one account" in forms[0].reason and forms[0].request.path == "/login"
    basics = [v for v in by["brute-force"] if v.src_ip == "10.2.0.71"]
    assert [v.src_port for v in basics] == [45005, 45006]  # past the fifth 401
    assert "6 failed logins (401, or 403 to a POST)" in basics[0].reason
    assert [v.src_ip for v in by["scan"]] == ["10.2.0.70"] and "4 distinct paths answered 404" in by["scan"][0].reason
    for v in verdicts:
        assert 0.5 <= v.score <= 1 and v.model.startswith("flow profile test") and v.flow_id


def test_the_profile_round_trips_and_explains_itself():
    prof = Profile.from_observed("p", {"head_seconds": 0.02, "src_open_flows": 20, "client_window": 65535},
                                 margin=3)
    assert prof.limit("head_seconds") == 3.0  # the floor wins over 0.06
    assert prof.limit("src_open_flows") == 60.0
    assert prof.limit("client_window") == 2048.0  # never above the ceiling
    assert "benign max 20 connections × 3" in prof.explain("src_open_flows")
    again = Profile.from_json(json.loads(json.dumps(prof.to_json())))
    assert again.limits == prof.limits
    with pytest.raises(ValueError, match="without limits"):
        Profile.from_json({"format": 1, "limits": {"head_seconds": 1}})
    assert set(shipped_profile().limits) == set(LIMITS)


def test_many_accounts_behind_one_address_are_not_a_brute_force():
    """An office behind NAT: twelve users log in from one address, each with their own password (a wrong
    one first for four of them); passwords are counted per account, so only a guesser is flagged."""
    convs = []
    posts = [(f"user{i}", f"own-secret-{i}") for i in range(12)] + [(f"user{i}", "typo") for i in range(4)]
    for i, (user, password) in enumerate(posts):
        c = Conversation(client=("10.2.0.80", 46000 + i))
        c.handshake(60.0 + i)
        body = f"username={user}&password={password}".encode()
        c.send(60.1 + i, "c", b"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded"
                              b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        c.send(60.2 + i, "s", response(200, b"<form>invalid credentials</form>"))
        c.close(60.3 + i)
        convs.append(c)
    guesser = []
    for i in range(7):  # one account, seven passwords from another address behind the same kind of NAT
        c = Conversation(client=("10.2.0.81", 47000 + i))
        c.handshake(60.0 + i)
        body = b"username=user1&password=guess%03d" % i
        c.send(60.1 + i, "c", b"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded"
                              b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        c.send(60.2 + i, "s", response(200, b"<form>invalid credentials</form>"))
        c.close(60.3 + i)
        guesser.append(c)
    verdicts = [v for v in analyze(convs + guesser, tight_profile()) if v.name == "brute-force"]
    assert {v.src_ip for v in verdicts} == {"10.2.0.81"}
    assert [v.src_port for v in verdicts] == [47005, 47006]  # past the fifth password for user1
