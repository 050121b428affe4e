"""Recording labelled sessions: one pcap per session, labelled by ground truth.

On loopback every session runs alone, so everything a session's pcap holds
was sent or answered because of that session's client: normal users or an
attack tool. (The network-namespace lab labels by the sender's namespace
instead; see docs/dataset-lab.md.)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from pipeline.lab import traffic
from pipeline.lab.webapp import serve


class Capture:
    """tcpdump on an interface with a BPF filter, written to a pcap file."""

    def __init__(self, path: Path, bpf: str, iface: str = "lo"):
        self.path, self.bpf, self.iface = path, bpf, iface
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Capture":
        self.proc = subprocess.Popen(["tcpdump", "-i", self.iface, "-U", "-s", "0", "-w", str(self.path), self.bpf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump reports "listening on" once the capture is open
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.path.exists():
                break
            time.sleep(0.05)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)  # the last packets of the session
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def record(outdir: Path, *, port: int = 18080, normal_seconds: float = 60, users: int = 4,
           tools: tuple[str, ...] = traffic.ATTACK_TOOLS, tool_seconds: float = 40, rounds: int = 1) -> dict:
    """Record normal and attack sessions against a local web app; writes manifest.json."""
    if os.geteuid() != 0:
        raise PermissionError("recording needs root (packet capture)")
    outdir.mkdir(parents=True, exist_ok=True)
    server, _ = serve("127.0.0.1", port)
    base = f"http://127.0.0.1:{port}"
    sessions = []
    try:
        for r in range(rounds):
            name = f"normal-{r}"
            with Capture(outdir / f"{name}.pcap", f"tcp port {port}"):
                n = traffic.normal_traffic(base, users, normal_seconds, seed=r + 1)
            sessions.append({"session": name, "label": "not_attack", "tool": "simulated-users",
                             "requests": n, "pcap": f"{name}.pcap", "seconds": normal_seconds})
            for tool in tools:
                name = f"attack-{tool}-{r}"
                with Capture(outdir / f"{name}.pcap", f"tcp port {port}"):
                    info = traffic.run_attack(tool, "127.0.0.1", port, tool_seconds, str(outdir / "work"))
                sessions.append({"session": name, "label": "attack", "pcap": f"{name}.pcap", **info})
    finally:
        server.shutdown()
    manifest = {"target": "pipeline.lab.webapp.NotesApp", "interface": "lo", "port": port,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "sessions": sessions}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
