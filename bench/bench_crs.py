"""The CRS baseline's replay: transactions per second through Apache + ModSecurity + CRS.

Ours: ``antinex.pipeline.lab.crs.replay`` of a seeded mix of benign and attack
requests (browser GETs with cookies, form POSTs, JSON API calls, SQL
injection, XSS, traversal, command injection, scanner agents) to paranoia
levels 1-4, verdicts read from the audit log. Baseline, same run, same
requests, same client: the same Apache (same ports, handler, unique ids)
without ModSecurity, so the ratio is what ModSecurity and the CRS cost.
"""
from __future__ import annotations

import os
import random
import time
from urllib.parse import quote

BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
ATTACKS = ("1' OR '1'='1", "1 UNION SELECT username,password FROM users--", "<script>alert(document.cookie)</script>",
           "../../../../etc/passwd", ";cat /etc/passwd", "$(id)", "<img src=x onerror=alert(1)>",
           "1; DROP TABLE users", "http://evil.example/shell.txt?", "{{7*7}}")
WORDS = ("shoes", "red dress", "O'Brien", "python tutorial", "café", "laptop 15\"", "how to: cook rice", "a+b=c")


def request_mix(n: int, seed: int = 14, attack_share: float = 0.3) -> list[bytes]:
    """``n`` distinct requests (a sequence number in each), ``attack_share`` of them attacks."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        host = b"Host: shop.example\r\n"
        if rng.random() < attack_share:
            payload = quote(rng.choice(ATTACKS), safe="")
            ua = rng.choice([BROWSER, "sqlmap/1.7.2#stable (https://sqlmap.org)", "Nikto/2.5.0", "python-requests/2.31"])
            out.append(f"GET /item.php?id={payload}&n={i} HTTP/1.1\r\nUser-Agent: {ua}\r\nAccept: */*\r\n".encode()
                       + host + b"\r\n")
            continue
        kind = rng.random()
        if kind < 0.5:
            q = quote(rng.choice(WORDS))
            out.append(f"GET /search?q={q}&page={i} HTTP/1.1\r\nUser-Agent: {BROWSER}\r\n"
                       f"Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\n"
                       f"Cookie: sessionid=abc{i:08d}; csrftoken=Zm9vYmFy{i}\r\n".encode() + host + b"\r\n")
        elif kind < 0.8:
            body = f"username=user{i}&comment={quote(rng.choice(WORDS))}&csrf=tok{i}".encode()
            out.append(f"POST /comment HTTP/1.1\r\nUser-Agent: {BROWSER}\r\nAccept: text/html\r\n"
                       f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n".encode()
                       + host + b"\r\n" + body)
        else:
            body = f'{{"id": {i}, "name": "{rng.choice(WORDS)}", "tags": ["a", "b"]}}'.encode()
            out.append(f"POST /api/items/ HTTP/1.1\r\nUser-Agent: python-requests/2.31\r\nAccept: application/json\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
                       + host + b"\r\n" + body)
    return out


def _cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every process in Apache's process group: robust on a shared machine."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _measure(server, requests) -> dict:
    from antinex.pipeline.lab.crs import replay

    replay(server, requests[:200])  # warm up: threads, rule caches
    cpu, mine = _cpu_seconds(server.proc.pid), os.times()
    meta = replay(server, requests).meta
    after = os.times()
    meta["server_cpu_ms"] = 1000 * (_cpu_seconds(server.proc.pid) - cpu) / len(requests)
    meta["client_cpu_ms"] = 1000 * (after.user - mine.user + after.system - mine.system) / len(requests)
    return meta


def run(quick: bool = False) -> list[dict]:
    from antinex.pipeline.lab.crs import LEVELS, CrsServer

    n = 1_000 if quick else 10_000
    requests = request_mix(n)
    with CrsServer((1,), modsecurity=False) as plain:
        base = _measure(plain, requests)
    with CrsServer(LEVELS, single_pass=True) as server:
        single = _measure(server, requests)
    with CrsServer(LEVELS, single_pass=False) as server:
        ports = _measure(server, requests[: n // 4])
    cores = os.cpu_count() or 1
    rows = []
    for name, meta, how in (("CRS PL1-4 verdicts, single pass", single, "one transaction per request, executing PL4"),
                            ("CRS PL1-4 verdicts, one port per level", ports, "four transactions per request")):
        rps = meta["requests_per_second"]
        inspected = sum(meta["outcomes"][f"pl{lv}"].get("inspected", 0) for lv in LEVELS)
        cpu = meta["server_cpu_ms"] + meta["client_cpu_ms"]
        rows.append({"name": name, "value": rps, "unit": "requests/s",
                     "baseline_name": "same Apache without ModSecurity", "baseline_value": base["requests_per_second"],
                     "ratio": rps / base["requests_per_second"],
                     "notes": f"{meta['unique_requests']} distinct requests, {how}, {meta['concurrency']} connections, "
                              f"{inspected}/{4 * meta['unique_requests']} verdicts inspected; 100k requests x 4 levels "
                              f"took ~{100_000 / rps / 60:.1f} min at this rate, ~{100_000 * cpu / 1000 / cores / 60:.1f}"
                              f" min of {cores} idle cores by CPU time"})
        rows.append({"name": f"{name}: Apache CPU per request", "value": meta["server_cpu_ms"], "unit": "ms",
                     "baseline_name": "same Apache without ModSecurity", "baseline_value": base["server_cpu_ms"],
                     "ratio": meta["server_cpu_ms"] / base["server_cpu_ms"],
                     "notes": f"client (replay, audit log) {meta['client_cpu_ms']:.2f} ms CPU per request"})
    rows.append({"name": "CRS single pass vs one port per level", "value": single["requests_per_second"],
                 "unit": "requests/s", "baseline_name": "one port per level",
                 "baseline_value": ports["requests_per_second"],
                 "ratio": single["requests_per_second"] / ports["requests_per_second"],
                 "notes": "same verdicts (tests/lab/test_crs.py checks that they agree)"})
    from antinex.pipeline.lab.libinjection_baseline import available, libinjection_verdicts

    if available():
        started = time.perf_counter()
        flagged = libinjection_verdicts(requests)["libinj_flagged"].mean()
        rps = n / (time.perf_counter() - started)
        rows.append({"name": "libinjection in-process (SQLi, XSS)", "value": rps, "unit": "requests/s",
                     "baseline_name": "CRS PL1-4, single pass", "baseline_value": single["requests_per_second"],
                     "ratio": rps / single["requests_per_second"],
                     "notes": f"{n} requests on one core, no server; share flagged {flagged:.2f}"})
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
