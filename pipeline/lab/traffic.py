"""Simulated users: the lab's first benign traffic (scripted sessions with browser User-Agents
against the notes app). The other benign clients are in ``clients.py``, the attack tools in ``tools.py``."""
from __future__ import annotations

import random
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
