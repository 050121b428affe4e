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
import threading
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
           tools: tuple[str, ...] | None = None, tool_seconds: float = 40, rounds: int = 1) -> dict:
    """Record normal and attack sessions one at a time against the notes app (plain WSGI) on
    loopback; writes manifest.json."""
    import dataclasses

    from antinex.pipeline.lab.targets import TARGETS
    from antinex.pipeline.lab.tools import CLASSIC_TOOLS, run_tool

    tools = CLASSIC_TOOLS if tools is None else tools
    target = dataclasses.replace(TARGETS["notes-wsgi"], port=port)
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
                             "client": "simulated-users", "family": "benign", "app": "notes", "framework": "wsgi",
                             "requests": n, "pcap": f"{name}.pcap", "seconds": normal_seconds})
            for tool in tools:
                name = f"attack-{tool}-{r}"
                with Capture(outdir / f"{name}.pcap", f"tcp port {port}"):
                    info = run_tool(tool, target, "127.0.0.1", tool_seconds, str(outdir / "work"))
                sessions.append({"session": name, "label": "attack", "pcap": f"{name}.pcap", "client": tool,
                                 "app": "notes", "framework": "wsgi", **info})
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


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, wait: float = 10) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def plan_round(tools: tuple[str, ...], targets: list, attackers: int, r: int) -> list[list[tuple[str, object]]]:
    """Which tool meets which target in round ``r``, queued per attacker host.

    Tool ``i`` meets target ``(i + r) % len(targets)``, so over ``len(targets)``
    rounds every tool meets every app and framework; attacker ``j`` runs tools
    ``j, j + attackers, ...`` one after the other, the attackers side by side."""
    queues: list[list[tuple[str, object]]] = [[] for _ in range(attackers)]
    for i, tool in enumerate(tools):
        queues[i % attackers].append((tool, targets[(i + r) % len(targets)]))
    return queues


def record_netns(outdir: Path, *, frameworks: tuple[str, ...] = ("wsgi", "flask", "drf"), clients: int = 2,
                 users_per_client: int = 3, tools: tuple[str, ...] | None = None,
                 tool_seconds: float = 30, normal_seconds: float = 20, rounds: int = 1,
                 prefix: str = "anx", progress: bool = True, agents: bool = True,
                 apps: tuple[str, ...] = ("notes", "spa", "forms"), client_kinds: tuple[str, ...] | None = None,
                 attackers: int = 1, seed: int = 0) -> dict:
    """Record rounds of benign and attack traffic between namespaces; writes manifest.json.

    In each round, for the whole round, every simulated-user host browses the
    notes front ends and every benign client kind (``client_kinds``, each in its
    own namespace) visits every target app. After ``normal_seconds`` of benign
    traffic only, the attacker hosts run the ``tools`` (``plan_round``: each
    tool against one target, rotating by round; each attacker host one tool at
    a time, the attacker hosts side by side). One capture per round on the
    target's interface; labels come from the addresses (``Lab.addresses``),
    each attack packet's tool from its attacker host's time windows. With
    ``agents`` the pipeline's own capture agent and subscriber record the same
    traffic beside tcpdump (``PipelineAgents``).
    """
    from tqdm import tqdm

    from antinex.pipeline.lab import targets as target_mod
    from antinex.pipeline.lab.clients import CLIENT_KINDS, client_version
    from antinex.pipeline.lab.netns import Lab
    from antinex.pipeline.lab.tools import ATTACK_TOOLS, TOOLS, executable, run_tool, tool_version

    if os.geteuid() != 0:
        raise PermissionError("recording needs root (namespaces and packet capture)")
    tools = ATTACK_TOOLS if tools is None else tuple(tools)
    client_kinds = CLIENT_KINDS if client_kinds is None else tuple(client_kinds)
    chosen = target_mod.select(tuple(apps), tuple(frameworks))
    if not chosen:
        raise ValueError("apps/frameworks: no target application selected")
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise ValueError(f"tools: unknown {unknown} (known: {', '.join(TOOLS)})")
    bad_kinds = [k for k in client_kinds if k not in CLIENT_KINDS]
    if bad_kinds:
        raise ValueError(f"clients: unknown client kinds {bad_kinds} (known: {', '.join(CLIENT_KINDS)})")
    missing = [t for t in tools if not executable(t)]
    if missing:
        raise FileNotFoundError(f"attack tools not installed: {', '.join(missing)} "
                                "(scripts/bootstrap.sh, the lab extra)")
    if "browser" in client_kinds and not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise FileNotFoundError("the browser client needs chromium and chromium-driver (apt-get install)")
    if rounds < 1 or tool_seconds <= 0 or normal_seconds < 0 or attackers < 1:
        raise ValueError("rounds and attackers must be at least 1, tool_seconds positive, normal_seconds >= 0")
    notes_targets = [t for t in chosen if t.app == "notes"]
    if clients and not notes_targets:
        raise ValueError("clients: the simulated users browse the notes app; select it or use --clients 0")
    outdir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    sessions, pcaps = [], []
    with Lab.create(prefix=prefix, clients=clients, client_kinds=client_kinds, attackers=attackers) as lab:
        target = lab.hosts["target"]
        attacker_hosts = lab.by_role("attacker")
        log = open(outdir / "targets.log", "ab")
        servers = [lab.popen("target", argv, stdout=log, stderr=subprocess.STDOUT, cwd=root)
                   for argv in target_mod.server_commands(chosen, target.ip)]
        agents_ctx = PipelineAgents(lab, outdir) if agents else contextlib.nullcontext()
        clients_log = open(outdir / "clients.log", "ab")
        try:
            agents_ctx.__enter__()
            _wait_listening(lab, "attacker", target.ip, [t.port for t in chosen])
            steps = tqdm(total=rounds * (len(tools) + 1), desc="recording", unit="session", disable=not progress)
            for r in range(rounds):
                pcap = f"round-{r}.pcap"
                cap = lab.popen("target", ["tcpdump", "-i", "eth0", "-U", "-s", "0", "-w", str(outdir / pcap),
                                           "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if agents:
                    agents_ctx.start_capture()
                time.sleep(1.0)
                queues = plan_round(tools, chosen, attackers, r)
                planned = normal_seconds + max(sum(TOOLS[t].seconds(tool_seconds) + 1 for t, _ in q)
                                               for q in queues) + 5
                benign = {}
                bases = ",".join(t.url(target.ip, "") for t in notes_targets)
                for i, h in enumerate(lab.by_role("client")):
                    if h.kind == "simulated-users":
                        argv = [sys.executable, "-m", "antinex.pipeline.lab.traffic", "users", bases, "--users",
                                str(users_per_client), "--seconds", str(planned),
                                "--seed", str(seed * 10000 + 100 * r + i + 1)]
                        visited = notes_targets
                    else:
                        argv = [sys.executable, "-m", "antinex.pipeline.lab.clients", h.kind, "--seconds",
                                str(planned), "--seed", str(seed * 10000 + 100 * r + i + 1)]
                        argv += [a for t in chosen for a in ("--target", f"{t.name}={t.url(target.ip, '')}")]
                        visited = chosen
                    benign[h.name] = (h, argv, visited, time.time(),
                                      lab.popen(h.name, argv, stdout=subprocess.PIPE, stderr=clients_log, cwd=root))
                steps.set_postfix_str(f"round {r}: benign traffic only")
                time.sleep(normal_seconds)
                steps.update()
                done: list[dict] = []

                def attack(host, queue, r=r, pcap=pcap, done=done):
                    for tool, t in queue:
                        info = run_tool(tool, t, target.ip, tool_seconds, str(outdir / "work" / host.name),
                                        wrap=lambda c, h=host.name: lab.cmd(h, c))
                        done.append({"session": f"{tool}@{t.name}-r{r}", "round": r, "label": "attack",
                                     "host": host.name, "namespace": host.ns, "address": host.ip, "client": tool,
                                     "app": t.app, "framework": t.framework, "target": t.name, "pcap": pcap, **info})
                        steps.set_postfix_str(f"round {r}: {tool} → {t.name}")
                        steps.update()
                        time.sleep(1.0)  # the tool's last packets (and the target's answers) cross

                threads = [threading.Thread(target=attack, args=(h, q), daemon=True)
                           for h, q in zip(attacker_hosts, queues)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                sessions += sorted(done, key=lambda s: s["started"])
                for name, (h, argv, visited, started, proc) in benign.items():
                    try:
                        out, _ = proc.communicate(timeout=planned + 60)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        out, _ = proc.communicate()
                    report = _client_report(out)
                    sessions.append({"session": f"{name}-r{r}", "round": r, "label": "not_attack", "host": name,
                                     "namespace": h.ns, "address": h.ip, "client": h.kind, "tool": h.kind,
                                     "family": "benign", "app": ",".join(sorted({t.app for t in visited})),
                                     "framework": ",".join(t.framework for t in visited),
                                     "target": ",".join(t.name for t in visited), "pcap": pcap,
                                     "command": argv, "version": client_version(h.kind), "exit": proc.returncode,
                                     "requests": report.get("requests", 0), "errors": report.get("errors"),
                                     "started": started, "ended": time.time()})
                time.sleep(0.5)
                _stop(cap, signal.SIGINT)
                if agents:
                    agents_ctx.stop_capture()
                pcaps.append(pcap)
            steps.close()
        finally:
            agents_ctx.__exit__(None, None, None)
            for proc in servers:
                _stop(proc)
            log.close()
            clients_log.close()
        addresses = lab.addresses()
    agent = None
    if agents:
        from antinex.pipeline.fastparse import read_frames

        captured = sum(1 for p in pcaps for _ in read_frames(outdir / p))
        agent = {"csv_dir": "agent", "rows": agents_ctx.rows(), "tcpdump_packets": captured,
                 "completeness": round(agents_ctx.rows() / captured, 4) if captured else None}
    manifest = {"mode": "netns", "targets": {t.name: t.as_dict(target.ip) for t in chosen},
                "pipeline_agent": agent, "addresses": addresses, "rounds": rounds, "pcaps": pcaps,
                "attackers": attackers, "tool_seconds": tool_seconds, "normal_seconds": normal_seconds,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "sessions": sessions,
                "families": {t: TOOLS[t].family for t in tools},
                "versions": {**{t: tool_version(t) for t in tools},
                             **{k: client_version(k) for k in ("simulated-users", *client_kinds)}}}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def _client_report(out: bytes | None) -> dict:
    """The JSON line a client process prints last (the simulated users print a bare count)."""
    lines = (out or b"").decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return {}
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"requests": int(value)}
