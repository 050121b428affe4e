"""Parsing one HTTP request's bytes into the shape every detector reads."""
from __future__ import annotations

from antinex.pipeline.http_message import MAX_BODY_BYTES, parse_http_request, parse_params


def test_get_with_query_and_headers_in_order():
    raw = (b"GET /search?q=%27+or+1%3D1--+&page=2 HTTP/1.1\r\nHost: lab\r\nUser-Agent: curl/7.88.1\r\n"
           b"Accept: */*\r\n\r\n")
    req = parse_http_request(raw)
    assert (req.method, req.target, req.version) == ("GET", "/search?q=%27+or+1%3D1--+&page=2", "HTTP/1.1")
    assert req.headers == [("Host", "lab"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")]
    assert req.header("user-agent") == "curl/7.88.1" and req.path == "/search"
    assert req.params == [("q", "' or 1=1-- "), ("page", "2")]
    assert req.complete and req.raw == raw and req.request_line.startswith("GET /search")


def test_form_post_body_and_partial_body():
    head = b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n\r\n"
    req = parse_http_request(head + b"username=user1&password=x%2B")
    assert req.body == b"username=user1&password=x%2B"[:27] and req.body_complete
    assert ("username", "user1") in req.params
    part = parse_http_request(head + b"username=us")
    assert part.head_complete and not part.body_complete and part.body == b"username=us"


def test_incomplete_head_chunked_body_and_not_http():
    slow = parse_http_request(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n")
    assert slow.method == "GET" and not slow.head_complete and not slow.complete
    chunked = parse_http_request(b"POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
    assert chunked.body == b"abcdefg" and chunked.body_complete
    assert parse_http_request(b"\x16\x03\x01\x02\x00") is None
    assert parse_http_request(b"HTTP/1.1 200 OK\r\n\r\n") is None


def test_bare_lf_folding_and_long_bodies():
    req = parse_http_request(b"GET /a%2Fb HTTP/1.0\nX-Long: one\n two\n\n")
    assert req.headers == [("X-Long", "one two")] and req.path == "/a/b"
    big = parse_http_request(b"POST /u HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
    assert big.body_truncated and len(big.body) == MAX_BODY_BYTES and big.body_complete
    assert parse_params("a&b=&=c&&d=%zz") == [("a", ""), ("b", ""), ("", "c"), ("d", "%zz")]


def test_text_form_round_trips_every_byte():
    from antinex.pipeline.http_message import request_from_text, request_to_text

    raw = bytes(range(256)) + b"GET /\\x41 HTTP/1.1\r\n\r\n"
    text = request_to_text(raw)
    assert "\n" not in text and "\r" not in text and text.isascii()
    assert request_from_text(text) == raw
