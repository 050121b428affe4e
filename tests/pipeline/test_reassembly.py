"""TCP reassembly and HTTP request cutting on crafted segments: the cases a capture really holds.

Every case goes through real frames (scapy-built, dissected by the struct
fast path) into the one analyzer, as a capture file or a live agent's
packets would.
"""
from __future__ import annotations

from antinex.pipeline.analyzer import Analyzer
from antinex.pipeline.http_stream import ChunkedBody, RequestStream, looks_like_request
from antinex.pipeline.tcp_reassembly import HalfStream

from .tcpcraft import Conversation, response

POST_BODY = b"username=user1&password=it's'me--x"
POST_HEAD = (b"POST /login HTTP/1.1\r\nHost: app\r\nUser-Agent: python-requests/2.32\r\n"
             b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(POST_BODY))


def run(conv: Conversation) -> tuple[Analyzer, list]:
    a = Analyzer(None)
    for ts, row in conv.rows():
        a.feed(ts, row)
    a.finish()
    return a, a.take_requests()


def test_a_post_body_in_its_own_segment_is_joined_to_its_head():
    c = Conversation()
    c.handshake(1.0)
    c.send(1.01, "c", POST_HEAD)
    c.send(1.30, "c", POST_BODY)  # python-requests sends the body with a second send()
    c.send(1.31, "s", response(401))
    c.close(1.5)
    _, reqs = run(c)
    assert len(reqs) == 1
    r = reqs[0]
    assert r.method == "POST" and r.body == POST_BODY and r.complete
    assert r.raw == POST_HEAD + POST_BODY and r.segments == 2
    assert r.params[-1] == ("password", "it's'me--x")
    assert (r.ts, r.ts_head, r.ts_end) == (1.01, 1.01, 1.30)  # the head was complete in the first segment
    assert r.response_status == 401 and r.flow_id is not None
    assert (r.src_ip, r.src_port, r.dst_ip, r.dst_port) == ("10.9.0.2", 40000, "10.9.0.1", 80)


def test_an_answer_before_the_body_ended_still_belongs_to_its_request():
    c = Conversation()
    c.handshake(1.0)
    c.send(1.01, "c", POST_HEAD)
    c.send(1.02, "s", response(413))  # the server refuses before the body came
    c.send(1.30, "c", POST_BODY)
    c.close(1.5)
    _, reqs = run(c)
    assert [r.response_status for r in reqs] == [413]


def test_out_of_order_segments_are_put_back_in_sequence():
    c = Conversation()
    c.handshake(1.0)
    data = POST_HEAD + POST_BODY
    base = c.seq["c"]
    pieces = [data[:40], data[40:120], data[120:]]
    offsets = [0, 40, 120]
    for ts, i in ((1.1, 2), (1.2, 0), (1.3, 1)):  # last piece first, then the first, then the middle
        c.emit(ts, "c", "PA", base + offsets[i], pieces[i])
    c.seq["c"] = base + len(data)
    c.close(2.0)
    flows = []
    a = Analyzer(None, on_flow_end=flows.append)
    a.feed_many(c.rows())
    a.finish()
    reqs = a.take_requests()
    assert [r.raw for r in reqs] == [data]
    assert reqs[0].ts == 1.2 and reqs[0].ts_end == 1.3  # readable when the hole was filled
    assert flows[0].up.stream.out_of_order == 1 and flows[0].up.stream.gaps == 0  # the last piece waited


def test_retransmissions_are_counted_once_and_never_duplicate_bytes():
    c = Conversation()
    c.handshake(1.0)
    first = c.send(1.1, "c", POST_HEAD)
    c.emit(1.4, "c", "PA", first, POST_HEAD)  # the same segment again (lost ACK)
    c.send(1.5, "c", POST_BODY)
    c.emit(1.6, "c", "PA", first + len(POST_HEAD), POST_BODY)  # and the body again
    c.close(2.0)
    snapshots = []
    a = Analyzer(None, on_flow_end=lambda f: snapshots.append(f.snapshot()))
    a.feed_many(c.rows())
    a.finish()
    reqs = a.take_requests()
    assert [r.raw for r in reqs] == [POST_HEAD + POST_BODY]
    assert reqs[0].retransmitted == 1  # the head seen again while the request travelled (the body's came after)
    assert snapshots[0]["up_retransmitted"] == 2 and snapshots[0]["up_packets"] == 8


def test_overlapping_segments_keep_the_bytes_that_came_first():
    c = Conversation()
    c.handshake(1.0)
    data = b"GET /items?q=first HTTP/1.1\r\nHost: app\r\n\r\n"
    base = c.seq["c"]
    c.emit(1.1, "c", "PA", base, data[:20])
    # an overlapping segment that rewrites bytes 10..19 (an evasion attempt) and carries the rest
    forged = data[:10] + b"XXXXXXXXXX" + data[20:]
    c.emit(1.2, "c", "PA", base, forged)
    c.seq["c"] = base + len(data)
    c.close(2.0)
    a = Analyzer(None)
    a.feed_many(c.rows())
    a.finish()
    reqs = a.take_requests()
    assert [r.raw for r in reqs] == [data]


def test_overlap_while_waiting_behind_a_hole():
    s = HalfStream()
    s.syn(99)  # data starts at 100
    assert s.add(110, b"klmno", 1.0) == []  # ahead of a hole
    assert s.add(108, b"ijklmnopq", 1.1) == []  # overlaps the held segment, longer
    out = s.add(100, b"abcdefgh", 1.2)
    assert b"".join(c.data for c in out) == b"abcdefghijklmnopq"
    assert s.overlaps >= 1 and s.out_of_order == 2 and not any(c.gap for c in out)


def test_pipelined_and_keep_alive_requests_on_one_connection():
    c = Conversation()
    c.handshake(1.0)
    one = b"GET /a HTTP/1.1\r\nHost: app\r\n\r\n"
    two = b"HEAD /b HTTP/1.1\r\nHost: app\r\n\r\n"
    three = b"POST /c HTTP/1.1\r\nHost: app\r\nContent-Length: 3\r\n\r\nabc"
    c.send(1.1, "c", one + two + three[:30])  # pipelined, the third cut across segments
    c.send(1.2, "c", three[30:])
    # answers in order: the HEAD answer announces a body it never sends
    c.send(1.3, "s", response(200, b"aaaa") + b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + response(404, b"x"))
    c.send(2.0, "c", b"\r\nGET /d HTTP/1.1\r\nHost: app\r\n\r\n")  # keep-alive, after a stray CRLF
    c.send(2.1, "s", response(302, b""))
    c.close(3.0)
    _, reqs = run(c)
    assert [(r.method, r.target) for r in reqs] == [("GET", "/a"), ("HEAD", "/b"), ("POST", "/c"), ("GET", "/d")]
    assert [r.response_status for r in reqs] == [200, 200, 404, 302]
    assert reqs[2].body == b"abc" and reqs[2].ts_end == 1.2


def test_chunked_request_body_and_100_continue():
    c = Conversation()
    c.handshake(1.0)
    head = (b"POST /upload HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    c.send(1.1, "c", head)
    c.send(1.2, "s", b"HTTP/1.1 100 Continue\r\n\r\n")
    c.send(1.3, "c", b"5\r\nhello\r\n")
    c.send(1.4, "c", b"6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    c.send(1.45, "c", b"GET /next HTTP/1.1\r\n\r\n")  # pipelined behind the upload
    c.send(1.5, "s", b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
           + response(200))
    c.close(2.0)
    _, reqs = run(c)
    assert reqs[0].body == b"hello world" and reqs[0].complete and reqs[0].ts_end == 1.4
    assert [r.response_status for r in reqs] == [201, 200]  # 100 Continue is no answer; a chunked body skipped


def test_keep_alive_probes_are_not_retransmissions():
    c = Conversation()
    c.handshake(1.0)
    c.send(1.1, "c", b"GET / HTTP/1.1\r\n\r\n")
    c.emit(30.0, "c", "A", c.seq["c"] - 1, b"\x00")  # a TCP keep-alive probe: one byte before the next
    c.close(31.0)
    snaps = []
    a = Analyzer(None, on_flow_end=lambda f: snaps.append(f))
    a.feed_many(c.rows())
    a.finish()
    assert len(a.take_requests()) == 1
    assert snaps[0].up.stream.keepalives == 1 and snaps[0].up.stream.retransmitted == 0


def test_sequence_numbers_wrap_around():
    c = Conversation(isn_c=2**32 - 10)
    c.handshake(1.0)
    c.send(1.1, "c", POST_HEAD)  # crosses 2**32 inside the head
    c.send(1.2, "c", POST_BODY)
    c.close(2.0)
    _, reqs = run(c)
    assert [r.raw for r in reqs] == [POST_HEAD + POST_BODY]


def test_a_capture_that_starts_mid_connection_and_a_lost_segment():
    c = Conversation()  # no handshake: the capture began while the connection was open
    base = c.seq["c"]
    one = b"GET /one HTTP/1.1\r\nHost: app\r\n\r\n"
    two = b"GET /two HTTP/1.1\r\nHost: app\r\n\r\n"
    three = b"GET /three HTTP/1.1\r\nHost: app\r\n\r\n"
    c.emit(1.0, "c", "PA", base, one)
    # ``two`` was never captured; ``three`` waits behind the hole until the stream ends
    c.emit(1.2, "c", "PA", base + len(one) + len(two), three)
    _, reqs = run(c)
    assert [r.target for r in reqs] == ["/one", "/three"]  # the hole is skipped, the parser resynchronised


def test_a_request_still_arriving_is_cut_at_the_end_of_its_flow():
    c = Conversation()
    c.handshake(1.0)
    c.send(1.1, "c", b"GET /slow HTTP/1.1\r\nHost: app\r\n")
    c.send(6.1, "c", b"X-a: b\r\n")
    c.emit(11.0, "c", "RA", c.seq["c"])
    _, reqs = run(c)
    assert len(reqs) == 1 and not reqs[0].head_complete and reqs[0].target == "/slow"
    assert reqs[0].segments == 2


def test_non_http_streams_are_left_alone():
    c = Conversation(server=("10.9.0.1", 443))
    c.handshake(1.0)
    c.send(1.1, "c", bytes.fromhex("160301020001") + b"\x00" * 300)  # a TLS client hello
    c.close(2.0)
    a, reqs = run(c)
    assert reqs == [] and a.http_flows == 0 and a.flows_total == 1


def test_request_stream_pieces():
    assert looks_like_request(b"GET / HTTP/1.1") is True
    assert looks_like_request(b"\x16\x03\x01") is False
    assert looks_like_request(b"GE") is None
    body = ChunkedBody()
    data = b"3\r\nabc\r\n0\r\n\r\nNEXT"
    used = sum(body.feed(data[i:i + 1]) for i in range(len(data) - 4))  # one byte at a time
    assert body.done and bytes(body.body) == b"abc" and used == len(data) - 4
    s = RequestStream()
    assert s.feed(b"GET /a HTTP/1.1\r\n", 1.0) == [] and s.in_flight().method == "GET"
    assert [r.target for r in s.feed(b"\r\n", 2.0)] == ["/a"] and s.in_flight() is None


def test_ipv6_connections_are_followed_too():
    c = Conversation(client=("2001:db8::2", 40000), server=("2001:db8::1", 8080))
    c.handshake(1.0)
    c.send(1.1, "c", POST_HEAD)
    c.send(1.2, "c", POST_BODY)
    c.send(1.3, "s", response(200))
    c.close(2.0)
    flows = []
    a = Analyzer(None, on_flow_end=flows.append)
    a.feed_many(c.rows())
    a.finish()
    reqs = a.take_requests()
    assert [r.raw for r in reqs] == [POST_HEAD + POST_BODY] and reqs[0].response_status == 200
    snap = flows[0].snapshot()
    assert (snap["src_ip"], snap["dest_port"]) == ("2001:db8::2", 8080)
    # IPv6 header + TCP header (the SYN's with 8 bytes of options) + payload, per client packet
    assert snap["up_bytes"] == 8 + sum(40 + 20 + n for n in (0, 0, len(POST_HEAD), len(POST_BODY), 0, 0))


def test_hostile_and_random_bytes_never_break_the_analyzer():
    """Junk, cut heads, bad chunk sizes, huge declared lengths, random order and duplicates: the
    analyzer reads on (a capture holds whatever attackers send)."""
    import random

    rng = random.Random(5)
    pieces = [b"GET / HTTP/1.1\r\n", b"Host: a\r\n\r\n", b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
              b"zz\r\nabc\r\n", b"0\r\n\r\n", b"Content-Length: 99999999999\r\n", b"\r\n\r\n", b"\x00\xff" * 50,
              b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", b"\n\n\n", b"GET " + b"a" * 5000, b"\r\n"]
    for round_ in range(30):
        c = Conversation(client=("10.9.1.%d" % (round_ + 1), 40000))
        c.handshake(1.0)
        sent = []
        for i in range(40):
            side = rng.choice("cs")
            data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
            sent.append((side, c.seq[side], data))
            c.seq[side] += len(data)
        rng.shuffle(sent)
        for i, (side, seq, data) in enumerate(sent + sent[:5]):
            c.emit(2.0 + i * 0.01, side, "PA", seq, data)
        c.close(5.0)
        a = Analyzer(None)
        a.feed_many(c.rows())
        a.finish()
        for r in a.take_requests():
            assert r.method and len(r.raw) <= 64 * 1024 * 2 + 8
