"""Traffic generators: simulated users (normal) and real attack tools."""
from __future__ import annotations

import random
import shutil
import subprocess
import time

import requests

WORDS = ("report", "invoice", "meeting", "notes", "holiday", "budget", "draft", "photo", "recipe",
         "travel", "plan", "review", "summary", "todo", "ideas", "minutes", "contract", "design")


def simulate_user(base: str, user: int, until: float, rng: random.Random) -> int:
    """One user's realistic session loop: log in, browse, search, create, upload. Returns requests made."""
    s = requests.Session()
    s.headers["User-Agent"] = rng.choice([
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    ])
    n = 0
    while time.time() < until:
        try:
            s.get(f"{base}/", timeout=5)
            s.get(f"{base}/static/app.css", timeout=5)
            s.post(f"{base}/login", data={"username": f"user{user}", "password": f"secret{user}"}, timeout=5)
            n += 3
            for _ in range(rng.randint(2, 6)):
                action = rng.random()
                if action < 0.35:
                    s.get(f"{base}/items", timeout=5)
                elif action < 0.55:
                    s.get(f"{base}/search", params={"q": rng.choice(WORDS)}, timeout=5)
                elif action < 0.7:
                    s.get(f"{base}/items/{rng.randint(1, 40)}", timeout=5)
                elif action < 0.85:
                    title = " ".join(rng.sample(WORDS, 2))
                    s.post(f"{base}/items", data={"title": title, "body": f"{title} for week {rng.randint(1, 52)}"},
                           timeout=5)
                elif action < 0.93:
                    s.get(f"{base}/api/items", timeout=5)
                else:
                    s.post(f"{base}/upload", files={"file": (f"{rng.choice(WORDS)}.txt",
                                                            (" ".join(rng.choices(WORDS, k=40))).encode())},
                           timeout=5)
                n += 1
                time.sleep(rng.uniform(0.05, 0.4))  # think time
        except requests.RequestException:
            time.sleep(0.2)
        s.cookies.clear()
    return n


def normal_traffic(base: str, users: int, seconds: float, seed: int = 1) -> int:
    """Several simulated users in parallel for ``seconds``."""
    import concurrent.futures as cf

    until = time.time() + seconds
    with cf.ThreadPoolExecutor(users) as pool:
        futs = [pool.submit(simulate_user, base, i % 10, until, random.Random(seed * 100 + i)) for i in range(users)]
        return sum(f.result() for f in futs)


def tool_version(tool: str) -> str:
    if not shutil.which(tool):
        return "missing"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", tool], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def attack_command(tool: str, host: str, port: int, workdir: str) -> list[str]:
    """The command line of a real attack tool against the target."""
    base = f"http://{host}:{port}"
    if tool == "sqlmap":
        return ["sqlmap", "-u", f"{base}/search?q=notes", "--batch", "--level", "3", "--risk", "2",
                "--flush-session", "--output-dir", workdir, "--disable-coloring", "--threads", "2"]
    if tool == "wfuzz":
        wordlist = "/usr/share/wfuzz/wordlist/general/common.txt"
        return ["wfuzz", "-c", "-z", f"file,{wordlist}", "--hc", "404", f"{base}/FUZZ"]
    if tool == "wfuzz-sqli":
        wordlist = "/usr/share/wfuzz/wordlist/Injections/SQL.txt"
        return ["wfuzz", "-z", f"file,{wordlist}", f"{base}/search?q=FUZZ"]
    if tool == "wfuzz-xss":
        wordlist = "/usr/share/wfuzz/wordlist/Injections/XSS.txt"
        return ["wfuzz", "-z", f"file,{wordlist}", f"{base}/search?q=FUZZ"]
    if tool == "wfuzz-traversal":
        wordlist = "/usr/share/wfuzz/wordlist/Injections/Traversal.txt"
        return ["wfuzz", "-z", f"file,{wordlist}", f"{base}/items/FUZZ"]
    if tool == "nmap":
        return ["nmap", "-sV", "-p", str(port), "--script", "http-enum,http-headers,http-methods,http-title",
                host]
    raise ValueError(f"unknown attack tool {tool!r}")


ATTACK_TOOLS = ("sqlmap", "wfuzz", "wfuzz-sqli", "wfuzz-xss", "wfuzz-traversal", "nmap")


def run_attack(tool: str, host: str, port: int, seconds: float, workdir: str) -> dict:
    """Run one tool for at most ``seconds``; returns what ran."""
    cmd = attack_command(tool, host, port, workdir)
    started = time.time()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    return {"tool": tool, "command": cmd, "exit": code, "seconds": round(time.time() - started, 1),
            "version": tool_version(tool.split("-")[0])}
