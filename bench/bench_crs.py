"""The CRS baseline's replay: transactions per second through Apache + ModSecurity + CRS.

Ours: ``antinex.pipeline.lab.crs.replay`` of a seeded mix of benign and attack
requests (browser GETs with cookies, form POSTs, JSON API calls, SQL
injection, XSS, traversal, command injection, scanner agents) to paranoia
levels 1-4, verdicts read from the audit log. Baseline, same run, same
requests, same client: the same Apache (same ports, handler, unique ids)
without ModSecurity, so the ratio is what ModSecurity and the CRS cost.
"""
from __future__ import annotations

import random
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


def run(quick: bool = False) -> list[dict]:
    from antinex.pipeline.lab.crs import LEVELS, CrsServer, replay

    n = 500 if quick else 5_000
    requests = request_mix(n)
    with CrsServer(LEVELS, modsecurity=False) as plain:
        replay(plain, requests[:200])  # warm up
        base = replay(plain, requests)
    with CrsServer(LEVELS) as server:
        replay(server, requests[:200])
        ours = replay(server, requests)
    tps, base_tps = ours.meta["transactions_per_second"], base.meta["transactions_per_second"]
    flagged = {lv: float(ours.flagged(lv).mean()) for lv in LEVELS}
    ok = sum(ours.meta["outcomes"][f"pl{lv}"].get("inspected", 0) for lv in LEVELS)
    return [
        {"name": "CRS replay, 4 paranoia levels", "value": tps, "unit": "transactions/s",
         "baseline_name": "same Apache without ModSecurity", "baseline_value": base_tps, "ratio": tps / base_tps,
         "notes": f"{n} distinct requests x 4 levels, {ours.meta['concurrency']} connections; "
                  f"{ok}/{4 * n} inspected; 100k requests x 4 levels would take ~{400_000 / tps / 60:.1f} min; "
                  f"share flagged PL1-4: " + "/".join(f"{flagged[lv]:.2f}" for lv in LEVELS)},
    ]


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
