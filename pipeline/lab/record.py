"""Recording labelled sessions: one pcap per session, labelled by ground truth.

On loopback every session runs alone, so everything a session's pcap holds
was sent or answered because of that session's client: normal users or an
attack tool. (The network-namespace lab labels by the sender's namespace
instead; see docs/dataset-lab.md.)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from antinex.pipeline.lab import traffic
from antinex.pipeline.lab.webapp import serve


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
    manifest = {"target": "antinex.pipeline.lab.webapp.NotesApp", "interface": "lo", "port": port,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "sessions": sessions}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


DEFAULT_PORTS = {"wsgi": 8080, "flask": 5000, "drf": 8000}


def _wait_listening(lab, host: str, ip: str, ports: list[int], timeout: float = 30) -> None:
    code = ("import socket,sys,time\n"
            f"end=time.time()+{timeout}\n"
            f"for p in {ports!r}:\n"
            "    while True:\n"
            "        s=socket.socket(); s.settimeout(1)\n"
            f"        if s.connect_ex(({ip!r},p))==0: break\n"
            "        if time.time()>end: sys.exit(1)\n"
            "        time.sleep(0.1)\n")
    if lab.run(host, [sys.executable, "-c", code], timeout=timeout + 5).returncode:
        raise RuntimeError(f"the target's web apps did not start on {ports}")


class PipelineAgents:
    """The pipeline itself inside the target namespace: a private Redis on the target's
    loopback, ``antinex-subscriber`` writing CSVs, and per round an ``antinex-capture``
    agent on the target's interface. Their rows are what a deployed AntiNex would
    have seen; ``record_netns`` compares their count with the lossless tcpdump capture."""

    PORT = 6390

    def __init__(self, lab, outdir: Path):
        self.lab, self.dir = lab, outdir / "agent"
        self.url = f"redis://127.0.0.1:{self.PORT}/0"
        self.env = {**os.environ, "FORWARD_BROKER_URL": self.url, "DS_DIR": str(self.dir), "DS_NAME": "netns",
                    "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
        self.redis = self.subscriber = self.agent = None
        self.log = open(outdir / "agents.log", "ab")

    def _start(self, argv: list[str]) -> subprocess.Popen:
        return self.lab.popen("target", argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                              cwd=Path(__file__).resolve().parents[2])

    def __enter__(self) -> "PipelineAgents":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.redis = self._start(["redis-server", "--port", str(self.PORT), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no"])
        code = ("import redis,time\nfor _ in range(100):\n    try:\n"
                f"        redis.Redis(port={self.PORT}).ping(); break\n"
                "    except redis.RedisError: time.sleep(0.1)\n")
        self.lab.run("target", [sys.executable, "-c", code], timeout=20)
        self.subscriber = self._start([sys.executable, "-m", "antinex.pipeline.subscriber"])
        return self

    def start_capture(self) -> None:
        self.agent = self._start([sys.executable, "-m", "antinex.pipeline.capture", "tcp", "-i", "eth0", "-f", "tcp"])
        time.sleep(2.0)  # scapy's import and the socket take a moment

    def stop_capture(self) -> None:
        if self.agent and self.agent.poll() is None:
            os.killpg(self.agent.pid, signal.SIGINT)  # the agent stops, the publisher flushes its batch
            try:
                self.agent.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.agent.pid, signal.SIGKILL)

    def rows(self) -> int:
        import csv

        total = 0
        for f in sorted(self.dir.glob("netns-*.csv")):
            with open(f, newline="") as fh:
                total += max(0, sum(1 for _ in csv.reader(fh)) - 1)
        return total

    def __exit__(self, *exc) -> None:
        self.stop_capture()
        deadline = time.time() + 60
        last = -1
        while time.time() < deadline:  # let the subscriber drain the queue
            n = self.rows()
            if n == last:
                break
            last = n
            time.sleep(1.0)
        for proc in (self.subscriber, self.redis):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.log.close()


def record_netns(outdir: Path, *, frameworks: tuple[str, ...] = ("wsgi", "flask", "drf"), clients: int = 2,
                 users_per_client: int = 3, tools: tuple[str, ...] = traffic.ATTACK_TOOLS,
                 tool_seconds: float = 30, normal_seconds: float = 20, rounds: int = 1,
                 prefix: str = "anx", progress: bool = True, agents: bool = True) -> dict:
    """Record rounds of normal and attack traffic between namespaces; writes manifest.json.

    In each round every client namespace runs simulated users against all
    front ends for the whole round, while the attacker namespace runs each
    tool in turn against one front end (rotating by round). One capture per
    round on the target's interface; labels come from the addresses
    (``Lab.addresses``), the attack tool from its time window. With
    ``agents`` the pipeline's own capture agent and subscriber record the
    same traffic beside tcpdump (``PipelineAgents``).
    """
    from tqdm import tqdm

    from antinex.pipeline.lab.netns import Lab
    from antinex.pipeline.lab.webapp import FRAMEWORKS

    if os.geteuid() != 0:
        raise PermissionError("recording needs root (namespaces and packet capture)")
    unknown = set(frameworks) - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"unknown front ends: {sorted(unknown)} (known: {', '.join(FRAMEWORKS)})")
    missing = [t for t in tools if not shutil.which(traffic.attack_command(t, "x", 1, str(outdir / "work"))[0])]
    if missing:
        raise FileNotFoundError(f"attack tools not installed: {', '.join(missing)}")
    outdir.mkdir(parents=True, exist_ok=True)
    ports = {fw: DEFAULT_PORTS[fw] for fw in frameworks}
    sessions, pcaps = [], []
    with Lab.create(prefix=prefix, clients=clients) as lab:
        target = lab.hosts["target"]
        args = [sys.executable, "-m", "antinex.pipeline.lab.webapp", "--host", target.ip]
        for fw, port in ports.items():
            args += [f"--{fw}", str(port)]
        server = lab.popen("target", args, stdout=subprocess.DEVNULL, stderr=open(outdir / "targets.log", "ab"),
                           cwd=Path(__file__).resolve().parents[2])
        agents_ctx = PipelineAgents(lab, outdir) if agents else contextlib.nullcontext()
        try:
            agents_ctx.__enter__()
            _wait_listening(lab, "attacker", target.ip, list(ports.values()))
            bases = ",".join(f"http://{target.ip}:{p}" for p in ports.values())
            steps = tqdm(total=rounds * (len(tools) + 1), desc="recording", unit="session", disable=not progress)
            for r in range(rounds):
                pcap = f"round-{r}.pcap"
                cap = lab.popen("target", ["tcpdump", "-i", "eth0", "-U", "-s", "0", "-w", str(outdir / pcap),
                                           "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if agents:
                    agents_ctx.start_capture()
                time.sleep(1.0)
                planned = normal_seconds + len(tools) * (tool_seconds + 1) + 5
                users = {h.name: lab.popen(h.name, [sys.executable, "-m", "antinex.pipeline.lab.traffic", "users", bases,
                                                    "--users", str(users_per_client), "--seconds", str(planned),
                                                    "--seed", str(100 * r + i + 1)],
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           cwd=Path(__file__).resolve().parents[2])
                         for i, h in enumerate(lab.by_role("client"))}
                started = time.time()
                steps.set_postfix_str(f"round {r}: normal traffic only")
                time.sleep(normal_seconds)
                steps.update()
                for i, tool in enumerate(tools):
                    fw = frameworks[(i + r) % len(frameworks)]
                    steps.set_postfix_str(f"round {r}: {tool} → {fw}")
                    info = traffic.run_attack(tool, target.ip, ports[fw], tool_seconds, str(outdir / "work"),
                                              wrap=lambda c: lab.cmd("attacker", c))
                    sessions.append({"session": f"{tool}@{fw}-r{r}", "round": r, "label": "attack",
                                     "host": "attacker", "framework": fw, "pcap": pcap, **info})
                    steps.update()
                    time.sleep(1.0)  # let the tool's last packets (and the target's answers) cross
                for name, proc in users.items():
                    try:
                        out, _ = proc.communicate(timeout=planned + 30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        out, _ = proc.communicate()
                    sessions.append({"session": f"{name}-r{r}", "round": r, "label": "not_attack", "host": name,
                                     "tool": "simulated-users", "framework": ",".join(frameworks), "pcap": pcap,
                                     "requests": int((out or b"0").split()[-1] or 0), "started": started,
                                     "ended": time.time()})
                time.sleep(0.5)
                os.killpg(cap.pid, signal.SIGINT)
                cap.wait(10)
                if agents:
                    agents_ctx.stop_capture()
                pcaps.append(pcap)
            steps.close()
        finally:
            agents_ctx.__exit__(None, None, None)
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        addresses = lab.addresses()
    agent = None
    if agents:
        from antinex.pipeline.fastparse import read_frames

        captured = sum(1 for p in pcaps for _ in read_frames(outdir / p))
        agent = {"csv_dir": "agent", "rows": agents_ctx.rows(), "tcpdump_packets": captured,
                 "completeness": round(agents_ctx.rows() / captured, 4) if captured else None}
    manifest = {"mode": "netns", "targets": {fw: f"{target.ip}:{p}" for fw, p in ports.items()},
                "pipeline_agent": agent,
                "addresses": addresses, "rounds": rounds, "pcaps": pcaps,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "sessions": sessions,
                "versions": {t: traffic.tool_version(t.split("-")[0]) for t in tools}}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
