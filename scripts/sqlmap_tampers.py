"""sqlmap with tamper scripts against the lab's apps, one short run per tamper: evasion test data.

    sudo .venv/bin/python scripts/sqlmap_tampers.py OUT_DIR [--seconds 25] [--tampers a,b,...]

Serves the lab's front ends on the loopback of a private namespace (``anxrp-tp``), runs sqlmap
(``--level 3 --risk 2``, like the lab) once per tamper script with a capture running, and writes
``OUT_DIR/sqlmap-tampers.csv.gz`` (``scripts/request_data.py``'s columns; ``tool`` is
``sqlmap+<tamper>``, every row an attack). A development set for docs/request-features.md until the
lab records tampered sqlmap itself.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

NS = "anxrp-tp"
PORT = 8080
ROOT = Path(__file__).resolve().parents[1]
TAMPERS = ("space2comment", "charencode", "randomcase", "between", "chardoubleencode", "equaltolike",
           "space2plus", "percentage", "versionedmorekeywords", "apostrophemask", "base64encode", "space2dash")


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from request_data import _row, requests_of

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=25)
    ap.add_argument("--tampers", default=",".join(TAMPERS))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
    server = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-m", "antinex.pipeline.lab.webapp",
                               "--host", "127.0.0.1", "--wsgi", str(PORT)], cwd=ROOT, stdout=subprocess.PIPE,
                              start_new_session=True)
    rows = []
    try:
        server.stdout.readline()
        for tamper in args.tampers.split(","):
            pcap = out / f"sqlmap-{tamper}.pcap"
            work = out / "work" / tamper
            shutil.rmtree(work, ignore_errors=True)
            cap = subprocess.Popen(["ip", "netns", "exec", NS, "tcpdump", "-i", "lo", "-U", "-s", "0", "-w", str(pcap),
                                    f"tcp port {PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
            time.sleep(1.0)
            tool = subprocess.Popen(["ip", "netns", "exec", NS, "sqlmap", "-u", f"http://127.0.0.1:{PORT}/search?q=notes",
                                     "--batch", "--level", "3", "--risk", "2", "--flush-session", "--tamper", tamper,
                                     "--output-dir", str(work), "--disable-coloring", "--threads", "2"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                tool.wait(timeout=args.seconds)
            except subprocess.TimeoutExpired:
                os.killpg(tool.pid, signal.SIGKILL)
                tool.wait()
            time.sleep(1.0)
            os.killpg(cap.pid, signal.SIGINT)
            cap.wait(10)
            got = [_row(req, 1, f"sqlmap+{tamper}", f"sqlmap+{tamper}", "sqli-evasion", "sqlmap", "wsgi", 0)
                   for _, _, req in requests_of(pcap, {PORT})]
            print(f"{tamper}: {len(got)} requests", flush=True)
            rows += got
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    pd.DataFrame(rows).to_csv(out / "sqlmap-tampers.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
