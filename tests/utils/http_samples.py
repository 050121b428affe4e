"""HTTP requests for the request-content tests: real benign clients, real attack tools, a small labelled set.

The benign requests were captured from the clients themselves (curl 7.88.1,
Wget 1.21.3, HTTPie 3.2.1, python-requests 2.34, headless Chromium 156)
talking to the lab's apps (the lab's client kinds, pipeline/lab/clients.py); the attack
requests from sqlmap 1.7.2, wfuzz and nmap in an ``antinex-lab`` recording.
"""
from __future__ import annotations

import random

import pandas as pd

from antinex.pipeline.http_message import request_to_text

BENIGN = {
    "curl": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    "curl-index-id": b"GET /index.html?id=7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
                     b"Accept: */*\r\n\r\n",
    "curl-form-prose": (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
        b"Cookie: sid=893ffa25c1faa8b20b5b07b7f43a1980\r\nContent-Length: 120\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        b"title=Meeting+notes+--+Monday&body=See+https%3A%2F%2Fexample.org%2Fdocs%3Fid%3D42%26lang%3Den+for+"
        b"details.%0A--+%0AAlice"),
    "curl-apostrophe": b"GET /search?q=O%27Brien HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
                       b"Accept: */*\r\n\r\n",
    "wget": b"GET /search?q=O%27Brien HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\n"
            b"Accept-Encoding: identity\r\nConnection: Keep-Alive\r\n\r\n",
    "httpie-json": (
        b"POST /api/items HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept-Encoding: gzip, deflate\r\n"
        b"Connection: keep-alive\r\nContent-Length: 150\r\nUser-Agent: HTTPie/3.2.1\r\n"
        b"Accept: application/json, */*;q=0.5\r\nContent-Type: application/json\r\n\r\n"
        b'{"title": "Meeting notes -- Monday", "body": "See https://example.org/docs?id=42&lang=en for '
        b'details.\\n-- \\nAlice", "tags": ["a", "b"], "priority": 3}'),
    "httpie-multipart": (
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\n"
        b"Connection: keep-alive\r\nContent-Length: 246\r\nUser-Agent: HTTPie/3.2.1\r\n"
        b"Content-Type: multipart/form-data; boundary=01f2c2539cbc4f0f9f46d8e50b961e6c\r\n\r\n"
        b"--01f2c2539cbc4f0f9f46d8e50b961e6c\r\nContent-Disposition: form-data; name=\"file\"; "
        b"filename=\"hostname\"\r\n\r\nvm\n\r\n--01f2c2539cbc4f0f9f46d8e50b961e6c\r\n"
        b"Content-Disposition: form-data; name=\"note\"\r\n\r\nholiday photos\r\n"
        b"--01f2c2539cbc4f0f9f46d8e50b961e6c--\r\n"),
    "python-requests-json": (
        b"POST /api/items HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: python-requests/2.34.2\r\n"
        b"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
        b"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0In0.c2lnbmF0dXJl\r\n"
        b"Cookie: sid=a137d3f4d15b0bce0138eb6f001fc13a\r\nContent-Length: 220\r\nContent-Type: application/json\r\n\r\n"
        b'{"title": "Meeting notes -- Monday", "body": "See https://example.org/docs?id=42&lang=en for '
        b'details.\\n-- \\nAlice", "done": false, "tags": ["x", "y"], "due": "2025-03-01T10:00:00Z", '
        b'"ref": "https://example.org/?a=1&b=2"}'),
    "python-requests-base64-cookie": (
        b"GET /items/40 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: python-requests/2.34.2\r\n"
        b"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
        b"Cookie: sid=a137d3f4d15b0bce0138eb6f001fc13a; session=eyJ1c2VyIjoidXNlcjEifQ.ZxYzAb.k1--8Jx_Qz-3vL--"
        b"PqWmN0aB7c; prefs=dGhlbWU9ZGFyaw+/bGFuZz1lbg==\r\n\r\n"),
    "chromium-navigate": (
        b"GET /search?q=O%27Brien HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n"
        b"sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"\r\nsec-ch-ua-mobile: ?0\r\n"
        b"sec-ch-ua-platform: \"Linux\"\r\nUpgrade-Insecure-Requests: 1\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
        b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\nSec-Fetch-Site: none\r\n"
        b"Sec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\n"
        b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
        b"Cookie: sid=27906bae5185bed3b06a21ad0d0916af\r\n\r\n"),
    "chromium-fetch-json": (
        b"POST /api/items HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\nContent-Length: 34\r\n"
        b"sec-ch-ua-platform: \"Linux\"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        b"(KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
        b"sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"\r\nContent-Type: application/json\r\n"
        b"sec-ch-ua-mobile: ?0\r\nAccept: */*\r\nOrigin: http://127.0.0.1:8080\r\nSec-Fetch-Site: same-origin\r\n"
        b"Sec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\nReferer: http://127.0.0.1:8080/items\r\n"
        b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
        b"Cookie: sid=27906bae5185bed3b06a21ad0d0916af\r\n\r\n"
        b"{\"title\":\"Bob's list\",\"n\":[1,2,3]}"),
}

SQLMAP_HEADERS = (b"Cache-Control: no-cache\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n"
                  b"Referer: http://10.77.0.10:8080/search\r\nHost: 10.77.0.10:8080\r\nAccept: */*\r\n"
                  b"Accept-Encoding: gzip,deflate\r\nConnection: close\r\n\r\n")
ATTACKS = {
    "sqlmap-union": b"GET /search?q=notes&ZTyJ=1552%20AND%201%3D1%20UNION%20ALL%20SELECT%201%2CNULL%2C%27%3Cscript"
                    b"%3Ealert%28%22XSS%22%29%3C%2Fscript%3E%27%2Ctable_name%20FROM%20information_schema.tables%20"
                    b"WHERE%202%3E1--%2F%2A%2A%2F%3B%20EXEC%20xp_cmdshell%28%27cat%20..%2F..%2F..%2Fetc%2Fpasswd%27"
                    b"%29%23 HTTP/1.1\r\n" + SQLMAP_HEADERS,
    "sqlmap-waitfor": b"GET /search?q=notes%25%27%3BDECLARE%20%40x%20CHAR%289%29%3BSET%20%40x%3D0x303a303a35%3B"
                      b"WAITFOR%20DELAY%20%40x-- HTTP/1.1\r\n" + SQLMAP_HEADERS,
    "sqlmap-boolean": b"GET /search?q=notes%27%20AND%208912%3D8912--%20- HTTP/1.1\r\n" + SQLMAP_HEADERS,
    "sqli-comment-spaces": b"GET /search?q=1/**/UNION/**/SELECT/**/password/**/FROM/**/users HTTP/1.1\r\n"
                           b"Host: x\r\n\r\n",
    "sqli-json": b"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
                 b"{\"q\": \"x' OR '1'='1\"}",
    "xss": b"GET /search?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: x\r\nUser-Agent: Wfuzz/3.1.0\r\n\r\n",
    "traversal": b"GET /items/..%2F..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\nUser-Agent: Wfuzz/3.1.0\r\n\r\n",
}

UAS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"]
WORDS = ["report", "invoice", "meeting", "notes", "holiday", "budget", "draft", "photo", "recipe", "travel"]
PAYLOADS = ["' OR 1=1-- -", "1' AND 8912=8912-- -", "\" UNION ALL SELECT NULL,NULL--", "<script>alert(1)</script>",
            "../../../../etc/passwd", "1; WAITFOR DELAY '0:0:5'--", "x' AND SLEEP(5)#", "<img src=x onerror=alert(1)>",
            "| cat /etc/passwd", "${7*7}", "%2527%2520OR%25201%253D1"]


def _normal(rng: random.Random) -> bytes:
    ua = rng.choice(UAS)
    head = f"Host: 10.77.0.10:8080\r\nUser-Agent: {ua}\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\n" \
           f"Connection: keep-alive\r\n"
    kind = rng.random()
    if kind < 0.3:
        return f"GET /search?q={rng.choice(WORDS)} HTTP/1.1\r\n{head}\r\n".encode()
    if kind < 0.55:
        return f"GET /items/{rng.randint(1, 40)} HTTP/1.1\r\n{head}\r\n".encode()
    if kind < 0.75:
        body = f"title={rng.choice(WORDS)}+{rng.choice(WORDS)}&body=for+week+{rng.randint(1, 52)}"
        return (f"POST /items HTTP/1.1\r\n{head}Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    if kind < 0.9:
        return f"GET /items HTTP/1.1\r\n{head}Cookie: sid={rng.getrandbits(128):032x}\r\n\r\n".encode()
    return f"GET /static/app.css HTTP/1.1\r\n{head}\r\n".encode()


def _attack(rng: random.Random) -> bytes:
    from urllib.parse import quote

    payload = quote(rng.choice(PAYLOADS))
    kind = rng.random()
    if kind < 0.6:
        return f"GET /search?q={rng.choice(WORDS)}{payload} HTTP/1.1\r\nHost: 10.77.0.10:8080\r\n" \
               f"User-Agent: {rng.choice(UAS)}\r\nAccept: */*\r\n\r\n".encode()
    if kind < 0.8:
        ext = rng.choice([".bak", ".old", ".sql", "~", ".swp"])
        return f"GET /{rng.choice(WORDS)}{ext} HTTP/1.1\r\nHost: 10.77.0.10:8080\r\nAccept: */*\r\n\r\n".encode()
    return f"GET /items/{payload} HTTP/1.1\r\nHost: 10.77.0.10:8080\r\nUser-Agent: {rng.choice(UAS)}\r\n\r\n".encode()


def request_frame(n: int = 300, attack_share: float = 0.4, seed: int = 0) -> pd.DataFrame:
    """``n`` labelled requests (``http_request`` text, ``label_value``) of a small notes app."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        attack = rng.random() < attack_share
        raw = _attack(rng) if attack else _normal(rng)
        rows.append({"http_request": request_to_text(raw), "label_value": int(attack),
                     "label_name": "attack" if attack else "not_attack"})
    return pd.DataFrame(rows)
