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
    if tool == "hydra":
        # password guessing on the login form; stops at the first hit (secret1 is in the list)
        wordlist = f"{workdir}/passwords.txt"
        _password_list(wordlist)
        return ["hydra", "-l", "user1", "-P", wordlist, "-s", str(port), "-t", "4", "-f", "-I", host,
                "http-post-form", "/login:username=^USER^&password=^PASS^:F=invalid credentials"]
    if tool == "slowhttptest":
        # slowloris: many connections that send headers a few bytes at a time
        return ["slowhttptest", "-H", "-c", "150", "-r", "50", "-i", "5", "-s", "8192", "-t", "GET",
                "-u", f"{base}/", "-l", "3600", "-p", "3", "-x", "24"]
    if tool == "nmap":
        return ["nmap", "-n", "-Pn", "-sV", "-p", str(port), "--script", "http-enum,http-headers,http-methods,http-title",
                host]
    raise ValueError(f"unknown attack tool {tool!r}")


ATTACK_TOOLS = ("sqlmap", "wfuzz", "wfuzz-sqli", "wfuzz-xss", "wfuzz-traversal", "nmap", "hydra", "slowhttptest")


def _password_list(path: str) -> None:
    """Common passwords from wfuzz's lists plus the real one, 60% of the way down."""
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    words = []
    common = "/usr/share/wfuzz/wordlist/general/common.txt"
    if os.path.exists(common):
        words = open(common).read().split()[:600]
    words = words or [f"password{i}" for i in range(600)]
    words.insert(int(len(words) * 0.6), "secret1")
    with open(path, "w") as fh:
        fh.write("\n".join(words) + "\n")


def run_attack(tool: str, host: str, port: int, seconds: float, workdir: str, wrap=None) -> dict:
    """Run one tool for at most ``seconds``; returns what ran (``wrap`` e.g. runs it in a namespace)."""
    cmd = attack_command(tool, host, port, workdir)
    if not shutil.which(cmd[0]):
        raise FileNotFoundError(f"{cmd[0]} is not installed (apt-get install {cmd[0]})")
    started = time.time()
    proc = subprocess.Popen(wrap(cmd) if wrap else cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        import os
        import signal

        os.killpg(proc.pid, signal.SIGKILL)  # the tool and whatever it forked
        proc.wait()
        code = "timeout"
    return {"tool": tool, "command": cmd, "exit": code, "started": started, "ended": time.time(),
            "seconds": round(time.time() - started, 1), "version": tool_version(tool.split("-")[0])}


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.lab.traffic users URL[,URL...] --users N --seconds S --seed K``: simulated users."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pipeline.lab.traffic")
    ap.add_argument("mode", choices=["users"])
    ap.add_argument("bases", help="comma-separated base URLs; users are spread over them")
    ap.add_argument("--users", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    import concurrent.futures as cf

    bases = args.bases.split(",")
    until = time.time() + args.seconds
    with cf.ThreadPoolExecutor(args.users) as pool:
        futs = [pool.submit(simulate_user, bases[(i + args.seed) % len(bases)], i % 10, until,
                            random.Random(args.seed * 100 + i)) for i in range(args.users)]
        print(sum(f.result() for f in futs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
