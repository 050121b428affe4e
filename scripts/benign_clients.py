"""Benign requests of real clients the lab's simulated users are not: curl, wget, python-requests,
httpie, headless Chromium (pages, assets, forms, fetch/XHR) and a JSON API client, with realistic content
(apostrophes, quotes, code snippets, URLs in parameters, non-ASCII text, "--" in prose, base64 cookies).

    sudo .venv/bin/python scripts/benign_clients.py OUT_DIR      (root: a private network namespace)

Serves the lab's three front ends (``pipeline/lab/webapp.py``) on the loopback of a namespace of its own
(``anxrp-bn``), captures each client alone into ``OUT_DIR/<client>.pcap`` and writes
``OUT_DIR/benign-clients.csv.gz`` (``scripts/request_data.py``'s columns, every row ``not_attack``).
A development set for docs/request-features.md until the lab records these clients itself.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

NS = "anxrp-bn"
PORTS = {"wsgi": 8080, "flask": 5000, "drf": 8000}
ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

SEARCHES = ["O'Brien", "rock 'n' roll", '"exact phrase"', "C++ -- tips", "select the best plan", "café crème",
            "naïve résumé", "日本語のメモ", "50% off", "a+b=c", "alice@example.com", "https://example.org/page?a=1&b=2",
            "tom & jerry", "2024-01-01", "1/2 cup sugar", "#hashtag", "if (x > 0) { return; }", "don't panic",
            "it's 5 o'clock", "SELECT * FROM notes", "<3 thanks", "~/notes/todo.txt", "100$ budget", "what?!",
            "semi;colon", "pipe | test", "budget -- draft", "Ünïcödé", "emoji 🎉", "backup.old notes", "report"]
TITLES = ["Meeting notes -- Monday", "Dinner at O'Malley's", 'The "big" plan', "SQL cheat sheet",
          "Résumé draft", "To-do: fix the <div> layout", "Trip to Zürich", "50/50 split", "C# vs. Java"]
BODIES = ["See https://example.org/docs?id=42&lang=en for details.\n-- \nAlice",
          "SELECT name, email FROM users WHERE active = 1 ORDER BY name;",
          "for i in range(10):\n    print(f'{i}: {i * i}')",
          "It's done -- finally! Costs: 12.50 EUR (incl. 20% VAT).",
          "Grüße aus München, 日本からこんにちは",
          "<p>Hello <b>world</b></p> & goodbye",
          "a && b || c; echo 'ok'",
          "line one\nline two\n\n--- \nsigned"]
FLASK_COOKIE = "eyJ1c2VyIjoidXNlcjEifQ.ZxYzAb.k1--8Jx_Qz-3vL--PqWmN0aB7c"


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", NS, *argv], capture_output=True, timeout=120, **kw)


def bases() -> list[str]:
    return [f"http://127.0.0.1:{p}" for p in PORTS.values()]


def curl_client(rng: random.Random) -> None:
    for base in bases():
        sh(["curl", "-s", "-o", "/dev/null", f"{base}/"])
        sh(["curl", "-s", "-o", "/dev/null", f"{base}/index.html?id={rng.randint(1, 99)}"])
        sh(["curl", "-s", "-o", "/dev/null", f"{base}/items"])
        for term in SEARCHES:
            sh(["curl", "-s", "-o", "/dev/null", "-G", f"{base}/search", "--data-urlencode", f"q={term}"])
        sh(["curl", "-s", "-o", "/dev/null", "-c", "/tmp/anxrp-jar", "-b", "/tmp/anxrp-jar", "-d",
            "username=user1&password=secret1", f"{base}/login"])
        for title, body in zip(TITLES, BODIES):
            sh(["curl", "-s", "-o", "/dev/null", "-b", "/tmp/anxrp-jar", "--data-urlencode", f"title={title}",
                "--data-urlencode", f"body={body}", f"{base}/items"])
        sh(["curl", "-s", "-o", "/dev/null", "-b", "/tmp/anxrp-jar", "-F", "file=@/etc/hostname", f"{base}/upload"])
        sh(["curl", "-s", "-o", "/dev/null", "-H", f"Cookie: session={FLASK_COOKIE}", f"{base}/items/3"])
        sh(["curl", "-s", "-o", "/dev/null", "-I", f"{base}/static/app.css"])


def wget_client(rng: random.Random) -> None:
    for base in bases():
        sh(["wget", "-q", "-O", "/dev/null", f"{base}/"])
        sh(["wget", "-q", "-O", "/dev/null", f"{base}/items/{rng.randint(1, 40)}"])
        for term in SEARCHES[::2]:
            from urllib.parse import quote
            sh(["wget", "-q", "-O", "/dev/null", f"{base}/search?q={quote(term)}"])
        sh(["wget", "-q", "-O", "/dev/null", "--post-data", "username=user2&password=secret2", f"{base}/login"])
        sh(["wget", "-q", "-O", "/dev/null", "-r", "-l", "1", "-P", "/tmp/anxrp-wget", f"{base}/"])


def httpie_client(rng: random.Random) -> None:
    for base in bases():
        sh(["http", "--ignore-stdin", "-q", "GET", f"{base}/items"])
        for term in SEARCHES[1::2]:
            sh(["http", "--ignore-stdin", "-q", "GET", f"{base}/search", f"q=={term}"])
        sh(["http", "--ignore-stdin", "-q", "-f", "POST", f"{base}/login", "username=user3", "password=secret3"])
        for title, body in zip(TITLES[:4], BODIES[:4]):
            sh(["http", "--ignore-stdin", "-q", "POST", f"{base}/api/items", f"title={title}", f"body={body}",
                "tags:=[\"a\", \"b\"]", f"priority:={rng.randint(1, 5)}"])
        sh(["http", "--ignore-stdin", "-q", "--multipart", "POST", f"{base}/upload", "file@/etc/hostname",
            "note=holiday photos"])


REQUESTS_CODE = """
import random, requests, sys, json
bases, searches, titles, bodies, cookie = json.loads(sys.argv[1])
rng = random.Random(5)
for base in bases:
    s = requests.Session()
    s.get(base + "/")
    s.get(base + "/api/items", headers={"Accept": "application/json"})
    for term in searches:
        s.get(base + "/search", params={"q": term})
    s.post(base + "/login", data={"username": "user4", "password": "secret4"})
    for t, b in zip(titles, bodies):
        s.post(base + "/items", data={"title": t, "body": b})
        s.post(base + "/api/items", json={"title": t, "body": b, "done": False, "tags": ["x", "y"],
                                          "due": "2025-03-01T10:00:00Z", "ref": "https://example.org/?a=1&b=2"},
               headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0In0.c2lnbmF0dXJl"})
    s.put(base + "/api/items/3", json={"title": "renamed -- v2"})
    s.delete(base + "/api/items/3")
    s.get(base + "/items/" + str(rng.randint(1, 40)), cookies={"session": cookie})
    s.post(base + "/upload", files={"file": ("notes.txt", b"plain text, nothing else")})
"""

CHROMIUM_CODE = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from tests.browser.chromium import chromium
bases, searches, titles, bodies, cookie = json.loads(sys.argv[1])
with chromium(Path("/tmp/anxrp-chromium-profile")) as d:
    for base in bases:
        d.get(base + "/")
        d.get(base + "/items")
        d.get(base + "/login")
        d.execute_script(
            "const f=document.createElement('form');f.method='post';f.action='/login';"
            "for (const [k,v] of [['username','user5'],['password','secret5']]){const i=document.createElement('input');"
            "i.name=k;i.value=v;f.appendChild(i);}document.body.appendChild(f);f.submit();")
        time.sleep(0.5)
        for term in searches:
            d.get(base + "/search?q=" + __import__('urllib.parse').parse.quote(term))
        for t, b in zip(titles[:5], bodies[:5]):
            d.execute_script(
                "const f=document.createElement('form');f.method='post';f.action='/items';"
                "for (const [k,v] of [['title',arguments[0]],['body',arguments[1]]]){const i=document.createElement('textarea');"
                "i.name=k;i.value=v;f.appendChild(i);}document.body.appendChild(f);f.submit();", t, b)
            time.sleep(0.3)
        d.execute_async_script(
            "const done=arguments[arguments.length-1];"
            "fetch('/api/items').then(r=>r.text()).then(()=>fetch('/api/items',{method:'POST',"
            "headers:{'Content-Type':'application/json'},body:JSON.stringify({title:\\"Bob's list\\",n:[1,2,3]})}))"
            ".then(()=>{const x=new XMLHttpRequest();x.open('GET','/search?q=caf%C3%A9');x.onload=()=>done(1);"
            "x.onerror=()=>done(0);x.send();}).catch(()=>done(0));")
        d.execute_async_script(
            "const done=arguments[arguments.length-1];const fd=new FormData();"
            "fd.append('file', new Blob(['hello upload'], {type:'text/plain'}), 'hello.txt');fd.append('note','über');"
            "fetch('/upload',{method:'POST',body:fd}).then(()=>done(1)).catch(()=>done(0));")
        d.get(base + "/items/7")
"""


def python_client(code: str, extra: list[str] = ()):
    def run(rng: random.Random) -> None:
        args = json.dumps([bases(), SEARCHES, TITLES, BODIES, FLASK_COOKIE])
        proc = sh([PY, "-c", code, args, *extra], cwd=ROOT)
        if proc.returncode:
            raise RuntimeError(proc.stderr.decode()[-2000:])
    return run


CLIENTS = {"curl": curl_client, "wget": wget_client, "httpie": httpie_client,
           "python-requests": python_client(REQUESTS_CODE), "chromium": python_client(CHROMIUM_CODE, [str(ROOT)])}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from request_data import client_rows

    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
    server = subprocess.Popen(["ip", "netns", "exec", NS, PY, "-m", "antinex.pipeline.lab.webapp", "--host", "127.0.0.1"]
                              + [a for fw, p in PORTS.items() for a in (f"--{fw}", str(p))],
                              cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True)
    frames = []
    try:
        server.stdout.readline()  # "serving ..."
        for name, client in CLIENTS.items():
            pcap = out / f"{name}.pcap"
            cap = subprocess.Popen(["ip", "netns", "exec", NS, "tcpdump", "-i", "lo", "-U", "-s", "0", "-w", str(pcap),
                                    "tcp port 8080 or tcp port 5000 or tcp port 8000"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(1.0)
            client(random.Random(7))
            time.sleep(1.0)
            os.killpg(cap.pid, signal.SIGINT)
            cap.wait(10)
            df = pd.concat([client_rows(pcap, p, name).assign(app=fw) for fw, p in PORTS.items()], ignore_index=True)
            print(f"{name}: {len(df)} requests", flush=True)
            frames.append(df)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    pd.concat(frames, ignore_index=True).to_csv(out / "benign-clients.csv.gz", index=False,
                                                 compression={"method": "gzip", "mtime": 0})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
