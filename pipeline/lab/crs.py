"""A signature baseline: ModSecurity v2 with the OWASP Core Rule Set, fed the same requests as the detector.

    with CrsServer(levels=(1, 2, 3, 4)) as server:          # Apache + mod_security2 + CRS, unprivileged
        run = replay(server, [req.raw for req in requests])  # raw bytes over raw TCP, verdicts from the audit log
    run.verdicts                                            # per request: crs_pl{L}_score / _flagged / _rules / ...

    run = crs_verdicts(raws)                                # start, replay, stop in one call

Tables, the command ``antinex-lab crs`` and ``evaluate_crs`` (a dataset's
``http_request`` column, labels, groups) are in :mod:`antinex.pipeline.lab.crs_report`.

One Apache (Debian's ``apache2-bin``, ``libapache2-mod-security2``, ``modsecurity-crs``)
runs as an unprivileged private server: its own ServerRoot, configuration and
logs in a temp dir, listening on free loopback ports. The rule engine is in
detection-only mode and writes a JSON audit-log record for every transaction;
a rule of ours in the logging phase writes CRS's inbound anomaly score per
paranoia level into it. A request is *flagged* at level L when CRS's inbound
anomaly score at L (the per-level scores of levels 1..L added up, as rule
949110 does) reaches the inbound threshold (5 by default). By default one
transaction gives all four levels (``CrsServer``'s ``single_pass``); one port
per level, each a plain CRS at that level, gives the same verdicts.

Each request travels on its own connection, as the bytes the client sent
(``HttpRequest.raw``), half-closed after the last byte. Apache echoes the
transaction id of the audit-log record in a response header, which is how a
verdict is matched to its request. See docs/crs-baseline.md.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pandas as pd

from antinex.pipeline.http_message import MAX_BODY_BYTES, body_length, is_chunked, parse_head, split_head

LEVELS: tuple[int, ...] = (1, 2, 3, 4)
DEFAULT_THRESHOLD = 5  # crs-setup.conf's tx.inbound_anomaly_score_threshold
HOST_NAME = "lab.antinex.test"  # replaces an IP-literal Host (RFC 2606 name; see rewrite_numeric_host)
CONF_DIR = Path(__file__).with_name("crs_conf")
TX_HEADER = "X-Antinex-Tx"
VERDICT_RULE = 10090  # our logging-phase rule (crs_conf/modsecurity.conf)
CACHE_FORMAT = 1  # bump when a verdict's meaning or shape changes
PACKAGES = ("apache2-bin", "libapache2-mod-security2", "modsecurity-crs")  # apache2-bin: no system service

# Outcomes of one request at one level.
INSPECTED = "inspected"  # ModSecurity ran every request phase
BODY_ERROR = "body_error"  # ModSecurity ran phase 1, the body never arrived whole: phase-2 rules did not run
BODY_LIMIT = "body_limit"  # ModSecurity refused a body over its limit (413): phase-2 rules did not run
REJECTED = "rejected"  # Apache refused the request (400, 414, ...) before ModSecurity saw it
APACHE_ONLY = "apache_only"  # Apache answered it by itself, ModSecurity never saw it (``OPTIONS *``)
NO_RESPONSE = "no_response"  # no answer (connection refused or reset, timeout)
NO_RECORD = "no_record"  # answered with a transaction id, but no audit record (or no verdict in it) came
ANSWERED = "answered"  # a server started without ModSecurity answered (the benchmark's baseline)
OUTCOMES = (INSPECTED, BODY_ERROR, BODY_LIMIT, REJECTED, APACHE_ONLY, NO_RESPONSE, NO_RECORD, ANSWERED)
# never reached the application whole (what a blocking deployment would not have passed on either)
REFUSED = (BODY_ERROR, BODY_LIMIT, REJECTED, NO_RESPONSE)


class _Conf(Template):
    delimiter = "@@"  # Apache and ModSecurity use $ and % themselves


@dataclass(frozen=True)
class Installation:
    """Where Debian's packages put Apache, ModSecurity and the CRS."""

    apache: str = "/usr/sbin/apache2"
    modules: str = "/usr/lib/apache2/modules"
    crs_rules: str = "/usr/share/modsecurity-crs/rules"
    crs_etc: str = "/etc/modsecurity/crs"
    unicode_mapping: str = "/etc/modsecurity/unicode.mapping"

    @property
    def crs_setup(self) -> str:
        return f"{self.crs_etc}/crs-setup.conf"

    def check(self, modsecurity: bool = True) -> None:
        """FileNotFoundError naming what is missing and the packages that bring it."""
        need = [self.apache, f"{self.modules}/mod_mpm_event.so", f"{self.modules}/mod_lua.so",
                f"{self.modules}/mod_unique_id.so", f"{self.modules}/mod_headers.so"]
        if modsecurity:
            need += [f"{self.modules}/mod_security2.so", self.crs_setup, self.crs_rules, self.unicode_mapping]
        missing = [p for p in need if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"missing {', '.join(missing)} (apt-get install {' '.join(PACKAGES)})")

    def crs_version(self) -> str | None:
        text = Path(self.crs_rules, "REQUEST-901-INITIALIZATION.conf").read_text(errors="replace")
        m = re.search(r'^SecComponentSignature "([^"]+)"', text, re.M)
        return m.group(1) if m else None


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Debian package versions (empty where dpkg is missing or the package is not installed)."""
    out = {}
    if not shutil.which("dpkg-query"):
        return out
    for pkg in packages:
        proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout:
            out[pkg] = proc.stdout.strip()
    return out


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Pass:
    """One listening port: CRS runs the rules of levels up to ``executing``; verdicts for ``levels`` come from it."""

    port: int
    executing: int
    levels: tuple[int, ...]


def check_methods(methods: Sequence[str], field: str) -> tuple[str, ...]:
    """``methods`` as a tuple when each is an HTTP method in capitals (what ``tx.allowed_methods`` takes),
    else ValueError naming ``field``."""
    methods = tuple(methods)
    if any(not re.fullmatch(r"[A-Z]{1,20}", m) for m in methods):
        raise ValueError(f"{field}: HTTP methods in capitals (e.g. GET HEAD POST OPTIONS PUT PATCH DELETE), "
                         f"got {list(methods)}")
    return methods


class CrsServer:
    """Apache with mod_security2 and the CRS on free loopback ports, detection-only.

    ``single_pass=True`` (default): one port, where the CRS executes the rules
    of every level up to the highest one asked for
    (``tx.executing_paranoia_level``) and the verdict of each level is read
    from that one transaction: the CRS keeps one inbound anomaly score per
    level (``tx.anomaly_score_pl1..4``), and rule 949110 adds up the scores
    of levels 1..L at paranoia level L; no other CRS rule reads the paranoia
    level. One transaction per request instead of one per level.
    ``single_pass=False``: one port per paranoia level, each a plain CRS at
    that level (the reference: tests check that both give the same verdicts).
    ``modsecurity=False`` starts the same Apache without ModSecurity (the
    benchmark's baseline). ``allowed_methods`` (e.g. ``GET HEAD POST OPTIONS
    PUT PATCH DELETE``) sets CRS's ``tx.allowed_methods`` as an operator of a
    JSON API would in crs-setup.conf (rule 911100 flags any other method; the
    CRS's default allows ``GET HEAD POST OPTIONS``). Started as root, Apache
    runs as ``nobody``: it needs no privilege (ports above 1024, files in its
    own temp dir).
    """

    def __init__(self, levels: Sequence[int] = LEVELS, *, single_pass: bool = True, modsecurity: bool = True,
                 threads: int = 32, timeout: int = 10, install: Installation | None = None, keep: bool = False,
                 allowed_methods: Sequence[str] | None = None):
        bad = [lv for lv in levels if lv not in LEVELS]
        if bad or not levels:
            raise ValueError(f"levels: paranoia levels are 1-4, got {list(levels)}")
        if allowed_methods is not None and not allowed_methods:
            raise ValueError("allowed_methods: HTTP methods in capitals (e.g. GET HEAD POST), got []")
        self.allowed_methods = check_methods(allowed_methods or (), "allowed_methods")
        self.levels = tuple(sorted(set(levels)))
        self.single_pass = single_pass
        self.modsecurity = modsecurity
        self.threads = max(4, int(threads))
        self.timeout = int(timeout)
        self.install = install or Installation()
        self.keep = keep
        self.root: Path | None = None
        self.passes: list[Pass] = []
        self.proc: subprocess.Popen | None = None
        self.versions: dict[str, object] = {}

    @property
    def ports(self) -> dict[int, int]:
        """``{level: port}`` (in single-pass mode every level shares one port)."""
        return {lv: p.port for p in self.passes for lv in p.levels}

    def _plan(self) -> list[Pass]:
        if self.single_pass:
            return [Pass(_free_ports(1)[0], max(self.levels), self.levels)]
        return [Pass(port, lv, (lv,)) for lv, port in zip(self.levels, _free_ports(len(self.levels)))]

    # -- configuration ----------------------------------------------------------
    def render(self, root: Path, passes: Sequence[Pass]) -> str:
        """The httpd.conf for ``root`` and its ports."""
        common = {"root": str(root), "modules": self.install.modules}
        modsec = ""
        if self.modsecurity:
            # the paranoia level (blocking, as 949110 adds up) and the executing level, by arrival port
            rules = "\n".join(
                f'SecRule SERVER_PORT "@eq {p.port}" "id:{10001 + k},phase:1,pass,nolog,t:none,'
                f'setvar:tx.paranoia_level={min(p.levels)},setvar:tx.executing_paranoia_level={p.executing}"'
                for k, p in enumerate(passes))
            if self.allowed_methods:  # before CRS's 901160, which sets the default only when unset
                rules += (f'\nSecAction "id:10100,phase:1,pass,nolog,t:none,'
                          f"setvar:'tx.allowed_methods={' '.join(self.allowed_methods)}'\"")
            modsec = _Conf((CONF_DIR / "modsecurity.conf").read_text()).substitute(
                common, crs_setup=self.install.crs_setup, crs_etc=self.install.crs_etc,
                crs_rules=self.install.crs_rules, unicode_mapping=self.install.unicode_mapping,
                paranoia_rules=rules)
        listen = "\n".join(f"Listen 127.0.0.1:{p.port}" for p in passes)
        return _Conf((CONF_DIR / "httpd.conf").read_text()).substitute(
            common, listen=listen, threads=self.threads, workers=self.threads * 2, timeout=self.timeout,
            modsecurity=modsec)

    def _layout(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="antinex-crs-"))
        if os.geteuid() == 0:  # Apache runs as nobody: every parent must let others through
            closed = [str(p) for p in root.parents if not os.stat(p).st_mode & 0o001]
            if closed:
                root.rmdir()
                raise RuntimeError(f"Apache runs as nobody and cannot reach {root} ({', '.join(closed)} "
                                   f"not searchable by others): set TMPDIR to a directory such as /tmp")
        for sub in ("run", "logs", "tmp", "data", "htdocs"):
            (root / sub).mkdir()
        shutil.copy(CONF_DIR / "handler.lua", root / "handler.lua")
        return root

    # -- life cycle ---------------------------------------------------------------
    def start(self, attempts: int = 3) -> "CrsServer":
        self.install.check(self.modsecurity)
        last = ""
        for _ in range(attempts):  # a free port can be taken between the probe and Apache's bind
            self.root = self._layout()
            self.passes = self._plan()
            conf = self.root / "httpd.conf"
            conf.write_text(self.render(self.root, self.passes))
            user = {}
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                for path in [self.root, *self.root.rglob("*")]:
                    os.chown(path, nobody.pw_uid, nobody.pw_gid)
                user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            out = open(self.root / "logs" / "stderr.log", "wb")
            self.proc = subprocess.Popen([self.install.apache, "-d", str(self.root), "-f", str(conf), "-DFOREGROUND"],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}, **user)
            out.close()
            if self._wait_ready():
                self.versions = self._versions()
                return self
            last = self._log_tail()
            self.stop()
            if "Address already in use" not in last:
                break
        raise RuntimeError(f"Apache with ModSecurity did not start: {last.strip()[-1500:]}")

    def _wait_ready(self, seconds: float = 30) -> bool:
        deadline = time.monotonic() + seconds
        pending = set(self.ports.values())
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            for port in list(pending):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    pending.discard(port)
                except OSError:
                    pass
            if not pending:
                return True
            time.sleep(0.1)
        return False

    def _log_tail(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.root / "logs" / name
            if path.exists():
                text += path.read_text(errors="replace")[-3000:]
        return text

    def _versions(self) -> dict[str, object]:
        proc = subprocess.run([self.install.apache, "-v"], capture_output=True, text=True)
        m = re.search(r"Server version:\s*(\S+)", proc.stdout)
        out: dict[str, object] = {"apache": m.group(1) if m else proc.stdout.strip()}
        if self.modsecurity:
            log = (self.root / "logs" / "error.log").read_text(errors="replace")
            m = re.search(r"ModSecurity for Apache/(\S+)", log)
            out["modsecurity"] = m.group(1) if m else None
            out["crs"] = self.install.crs_version()
        out["packages"] = package_versions()
        return out

    def fingerprint(self) -> str:
        """What a verdict depends on besides the request: versions, our templates, the CRS's local files."""
        h = hashlib.sha256(f"{CACHE_FORMAT}|{self.modsecurity}|".encode())
        if self.allowed_methods:  # (only then: the defaults' cached verdicts stay valid)
            h.update(f"allowed_methods={' '.join(self.allowed_methods)}|".encode())
        h.update(json.dumps(self.versions, sort_keys=True).encode())
        files = [CONF_DIR / "httpd.conf", CONF_DIR / "modsecurity.conf", CONF_DIR / "handler.lua",
                 Path(self.install.crs_setup), Path(self.install.crs_etc, "REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"),
                 Path(self.install.crs_etc, "RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf")]
        for path in files:
            h.update(path.read_bytes() if path.exists() else b"-")
        return h.hexdigest()

    @property
    def audit_log(self) -> Path:
        return self.root / "logs" / "audit.log"

    def stop(self) -> None:
        """Stop Apache (its own process group only) and remove its files unless ``keep``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        if self.root is not None and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "CrsServer":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- fix-ups: what has to change for a recorded request to reach this server ------------------
_NUMERIC_HOST = re.compile(rb"^(Host[ \t]*:[ \t]*)(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])((?::\d+)?[ \t]*\r?)$",
                           re.M | re.I)
_CONTENT_LENGTH = re.compile(rb"^(Content-Length[ \t]*:[ \t]*)\d+([ \t]*\r?)$", re.M | re.I)


def rewrite_numeric_host(raw: bytes, name: str = HOST_NAME) -> bytes:
    """``Host: 10.77.0.10:8080`` -> ``Host: <name>:8080`` (the first Host header, when it is an IP literal).

    The lab's clients reach their target by address, so every recorded request
    carries an IP-literal Host, which CRS rule 920350 scores (3 points) on every
    request, benign or not: a property of the lab, not of the traffic a
    deployed site (reached by name) would see. Any other Host is left alone.
    """
    head, start, _ = split_head(raw)
    new, n = _NUMERIC_HOST.subn(lambda m: m.group(1) + name.encode() + m.group(2), head, count=1)
    return new + raw[len(head):] if n else raw


def fix_cut_body(raw: bytes) -> bytes:
    """A body the dataset kept cut at ``MAX_BODY_BYTES`` gets a Content-Length that says so.

    ``HttpRequest.raw`` keeps the first 64 KiB of a body; replayed with the
    original length, Apache would wait for bytes nobody will send and
    ModSecurity would never run its body rules. A body shorter than that was
    cut by the client itself (a slow or broken sender) and is sent as it is.
    """
    head, start, complete = split_head(raw)
    if not complete:
        return raw
    parsed = parse_head(head)
    if parsed is None or is_chunked(parsed[3]):
        return raw
    declared, sent = body_length(parsed[3]), len(raw) - start
    if declared is None or declared <= sent or sent != MAX_BODY_BYTES:
        return raw
    new = _CONTENT_LENGTH.sub(lambda m: m.group(1) + str(sent).encode() + m.group(2), head, count=1)
    return new + raw[len(head):]


def prepare_request(raw: bytes, *, rewrite_host: bool = True) -> tuple[bytes, tuple[str, ...]]:
    """The bytes to send and the names of the fix-ups applied (``host``, ``content-length``)."""
    done = []
    out = fix_cut_body(raw)
    if out != raw:
        done.append("content-length")
    if rewrite_host:
        host = rewrite_numeric_host(out)
        if host != out:
            done.append("host")
            out = host
    return out, tuple(done)


# -- the audit log -----------------------------------------------------------------------------
_RULE_ID = re.compile(r'\[id "(\d+)"\]')
_RULE_LEVEL = re.compile(r'\[tag "paranoia-level/(\d)"\]')
_VERDICT = re.compile(r"pl=(\d*) exec=(\d*) score=(\d*) pl1=(\d*) pl2=(\d*) pl3=(\d*) pl4=(\d*) threshold=(\d*)")


def _is_evaluation_rule(rule: int) -> bool:
    """CRS's own scoring and correlation rules (949xxx, 959xxx, 980xxx) and ours: verdicts, not detections."""
    return rule == VERDICT_RULE or 949000 <= rule < 950000 or 959000 <= rule < 960000 or 980000 <= rule < 981000


def parse_audit_record(record: dict) -> dict:
    """One JSON audit record -> ``{tx, port, level, executing, scores, threshold, rules, body}``.

    ``scores`` are CRS's inbound anomaly scores per paranoia level 1-4
    (``tx.anomaly_score_plN``); ``rules`` the matched detection rules as
    ``(id, level)``, the level from the rule's ``paranoia-level/N`` tag (1 for
    rules without one, such as ModSecurity's own body-parsing checks). ``body`` is
    None, or why the phase-2 rules never ran (``body_error``, ``body_limit``).
    """
    tx = record.get("transaction", {})
    messages = record.get("audit_data", {}).get("messages", []) or []
    rules: list[tuple[int, int]] = []
    verdict = None
    body = None
    for msg in messages:
        if msg.startswith("Error reading request body"):
            body = BODY_ERROR
        elif msg.startswith("Request body") and "larger than the configured limit" in msg:
            body = BODY_LIMIT
        m = _RULE_ID.search(msg)
        if not m:
            continue
        rule = int(m.group(1))
        if rule == VERDICT_RULE:
            verdict = _VERDICT.search(msg)
        elif not _is_evaluation_rule(rule) and rule not in (r for r, _ in rules):
            lv = _RULE_LEVEL.search(msg)
            rules.append((rule, int(lv.group(1)) if lv else 1))
    out = {"tx": tx.get("transaction_id"), "port": tx.get("local_port"), "rules": rules, "body": body,
           "level": None, "executing": None, "scores": None, "threshold": DEFAULT_THRESHOLD}
    if verdict:
        level, executing, _, *per_level, threshold = (int(v) if v else 0 for v in verdict.groups())
        out.update(level=level, executing=executing, scores=per_level, threshold=threshold or DEFAULT_THRESHOLD)
    return out


def level_verdict(record: dict, level: int) -> tuple[int | None, list[int], bool]:
    """(score, rule ids, flagged) at paranoia level ``level`` from a record whose CRS executed at least that level.

    The score is what rules 949060-949063 add up at that level: the per-level
    scores 1..level. Flagged: the score reached the inbound threshold.
    """
    if record["scores"] is None:
        return None, [r for r, _ in record["rules"]], False
    score = sum(record["scores"][:level])
    return score, [r for r, lv in record["rules"] if lv <= level], score >= record["threshold"]


class AuditReader:
    """Reads the records Apache appended since the last read; ``reset`` empties the file between batches."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.bad_lines = 0

    def read(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a record still being written waits for the next read
        self.offset += end
        out = {}
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                rec = parse_audit_record(json.loads(line))
            except (ValueError, AttributeError):
                self.bad_lines += 1
                continue
            if rec["tx"]:
                out[rec["tx"]] = rec
        return out

    def reset(self) -> None:
        # ModSecurity opens the log O_APPEND: after truncation its next record starts at 0
        if self.path.exists():
            os.truncate(self.path, 0)
        self.offset = 0


# -- replay ------------------------------------------------------------------------------------
_STATUS = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")
_TX = re.compile(rb"^" + TX_HEADER.encode() + rb":[ \t]*(\S+)", re.M | re.I)


async def _exchange(port: int, data: bytes, timeout: float) -> tuple[int | None, str | None, str | None]:
    """Send ``data`` on a new connection, half-close, read the answer: (status, transaction id, error)."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
            try:
                writer.write(data)
                await writer.drain()
                writer.write_eof()
            except OSError:
                pass  # Apache answered early (a 400, 413) and closed: read what it said
            answer = await reader.read(1 << 20)
            while True:  # until Apache closes: by then its audit record is written
                more = await reader.read(1 << 20)
                if not more:
                    break
                answer += more
    except TimeoutError:
        return None, None, "timeout"
    except OSError as exc:
        return None, None, type(exc).__name__
    finally:
        if writer is not None:
            writer.close()
    m = _STATUS.match(answer)
    while m and m.group(1).startswith(b"1") and b"\r\n\r\n" in answer:
        answer = answer.split(b"\r\n\r\n", 1)[1]  # an interim answer (100 Continue to Expect): the final one follows
        m = _STATUS.match(answer)
    if not m:
        return None, None, "no HTTP answer" if answer else "closed without answer"
    tx = _TX.search(answer.split(b"\r\n\r\n", 1)[0])
    tx_id = tx.group(1).decode("latin-1") if tx else None
    return int(m.group(1)), (None if tx_id in (None, "(null)", "-") else tx_id), None


@dataclass
class CrsRun:
    """Verdicts in the order of the requests given, and what produced them."""

    verdicts: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def flagged(self, level: int) -> pd.Series:
        return self.verdicts[f"crs_pl{level}_flagged"]


async def _replay_batch(jobs: list[tuple[int, Pass, bytes]], concurrency: int,
                        timeout: float) -> list[tuple[int | None, str | None, str | None]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job):
        async with gate:
            return await _exchange(job[1].port, job[2], timeout)

    return await asyncio.gather(*(one(j) for j in jobs))


class VerdictCache:
    """Verdicts already given, per request bytes and level, for one server configuration (a SQLite file).

    The CRS is deterministic for a given request (its IP-reputation and DoS
    rules are off by default), so a report run again on the same requests
    replays only the new ones. Answers that may be transient (no answer,
    no audit record) are not kept.
    """

    def __init__(self, path: str | Path, fingerprint: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS verdicts (fingerprint TEXT, digest TEXT, level INTEGER, "
                        "verdict TEXT, PRIMARY KEY (fingerprint, digest, level))")

    def get(self, digests: Sequence[str], levels: Sequence[int]) -> dict[tuple[str, int], dict]:
        out = {}
        for lo in range(0, len(digests), 500):
            part = list(digests[lo:lo + 500])
            # only '?' placeholders are formatted in; the values travel as parameters
            marks = ",".join("?" * len(part))
            query = f"SELECT digest, level, verdict FROM verdicts WHERE fingerprint = ? AND digest IN ({marks})"  # nosec B608
            rows = self.db.execute(query, [self.fingerprint, *part])
            out.update({(d, lv): json.loads(v) for d, lv, v in rows if lv in levels})
        return out

    def put(self, items: Iterable[tuple[str, int, dict]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                                [(self.fingerprint, d, lv, json.dumps(v)) for d, lv, v in items
                                 if v["outcome"] not in (NO_RESPONSE, NO_RECORD)])

    def close(self) -> None:
        self.db.close()


def _run(coro):
    """``asyncio.run``, also from code that already runs an event loop (a notebook): then in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def replay(server: CrsServer, requests: Sequence[bytes | object], *, concurrency: int | None = None,
           timeout: float = 30.0, rewrite_host: bool = True, batch: int = 4000, cache: str | Path | None = None,
           progress: Callable[[int, int], None] | None = None) -> CrsRun:
    """Send every request to every level of ``server``; verdicts per request and level, in input order.

    ``requests`` are raw request bytes (or objects with a ``.raw``, such as
    ``HttpRequest``). Identical requests (after the fix-ups) are sent once.
    ``concurrency`` connections are open at a time (default 4 per CPU).
    ``cache``: a SQLite file of verdicts already given by the same
    configuration (:class:`VerdictCache`); only requests not in it are sent.
    ``progress(done, total)`` is called after each batch of transactions.
    """
    if server.proc is None:
        raise RuntimeError("the CRS server is not running (use it as a context manager or call start())")
    raws = [r if isinstance(r, (bytes, bytearray)) else getattr(r, "raw") for r in requests]
    prepared = [prepare_request(bytes(r), rewrite_host=rewrite_host) for r in raws]
    unique: dict[bytes, int] = {}
    for data, _ in prepared:
        unique.setdefault(data, len(unique))
    payloads = list(unique)
    results: dict[tuple[int, int], dict] = {}
    store = VerdictCache(cache, server.fingerprint()) if cache and server.modsecurity else None
    digests = [hashlib.sha256(data).hexdigest() for data in payloads] if store else []
    if store:
        known = store.get(digests, server.levels)
        for i, d in enumerate(digests):
            if all((d, lv) in known for lv in server.levels):
                results.update({(i, lv): known[(d, lv)] for lv in server.levels})
    cached = len(results) // len(server.levels)
    jobs = [(i, p, data) for i, data in enumerate(payloads) if (i, server.levels[0]) not in results
            for p in server.passes]
    concurrency = concurrency or max(4, 4 * (os.cpu_count() or 1))
    audit = AuditReader(server.audit_log)
    audit.reset()
    started = time.perf_counter()
    try:
        for lo in range(0, len(jobs), batch):
            chunk = jobs[lo:lo + batch]
            answers = _run(_replay_batch(chunk, concurrency, timeout))
            records = _collect(audit, {tx for _, tx, _ in answers if tx}) if server.modsecurity else {}
            fresh = []
            for (i, p, _), (status, tx, error) in zip(chunk, answers):
                rec = records.get(tx) if tx else None
                if rec is not None and (rec["port"] != p.port or rec["executing"] not in (None, p.executing)):
                    raise RuntimeError(f"audit record {tx} came from port {rec['port']} executing level "
                                       f"{rec['executing']}, expected {p.port} and {p.executing}")
                for level in p.levels:
                    results[(i, level)] = _verdict(level, status, tx, error, rec, server.modsecurity)
                    if store:
                        fresh.append((digests[i], level, results[(i, level)]))
            audit.reset()
            if store:
                store.put(fresh)
            if progress:
                progress(min(lo + batch, len(jobs)), len(jobs))
    finally:
        if store:
            store.close()
    elapsed = time.perf_counter() - started
    sent = len(payloads) - cached
    verdicts = _frame(prepared, unique, results, server.levels)
    outcomes = {f"pl{lv}": verdicts[f"crs_pl{lv}_outcome"].value_counts().to_dict() for lv in server.levels}
    meta = {"versions": server.versions, "levels": list(server.levels), "single_pass": server.single_pass,
            "requests": len(raws), "unique_requests": len(payloads), "from_cache": cached,
            "transactions": len(jobs), "seconds": elapsed,
            "transactions_per_second": len(jobs) / elapsed if elapsed and jobs else None,
            "requests_per_second": sent / elapsed if elapsed and sent else None, "concurrency": concurrency,
            "rewrite_host": rewrite_host, "host_name": HOST_NAME if rewrite_host else None,
            "fixups": dict(Counter(f for _, fx in prepared for f in fx)), "outcomes": outcomes,
            "unparsed_audit_lines": audit.bad_lines,
            "threshold": int(verdicts[[f"crs_pl{lv}_threshold" for lv in server.levels]].max().max())
            if len(verdicts) else DEFAULT_THRESHOLD}
    return CrsRun(verdicts, meta)


def _collect(audit: AuditReader, wanted: set[str], wait: float = 5.0) -> dict[str, dict]:
    """The audit records of ``wanted`` transactions (a record can land just after its connection closes)."""
    records = audit.read()
    deadline = time.monotonic() + wait
    while wanted - records.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
        records.update(audit.read())
    return records


def _verdict(level: int, status: int | None, tx: str | None, error: str | None, rec: dict | None,
             modsecurity: bool = True) -> dict:
    out = {"score": None, "flagged": False, "rules": "", "outcome": None, "status": status,
           "threshold": DEFAULT_THRESHOLD, "error": error}
    if rec is not None and rec["scores"] is None:
        out["outcome"] = NO_RECORD  # a record without the verdict rule's line
    elif rec is not None:
        score, rules, flagged = level_verdict(rec, level)
        out.update(score=score, flagged=flagged, threshold=rec["threshold"], rules=" ".join(map(str, rules)),
                   outcome=rec["body"] or INSPECTED)
    elif tx and not modsecurity:
        out["outcome"] = ANSWERED
    elif tx:
        out["outcome"] = NO_RECORD
    elif status is not None:
        out["outcome"] = REJECTED if status >= 400 else APACHE_ONLY
    else:
        out["outcome"] = NO_RESPONSE
    return out


def _frame(prepared, unique, results, levels) -> pd.DataFrame:
    cols: dict[str, list] = {"crs_fixups": [" ".join(fx) for _, fx in prepared]}
    for level in levels:
        rows = [results[(unique[data], level)] for data, _ in prepared]
        for key in ("score", "flagged", "rules", "outcome", "status", "threshold", "error"):
            cols[f"crs_pl{level}_{key}"] = [r[key] for r in rows]
    df = pd.DataFrame(cols)
    for level in levels:
        df[f"crs_pl{level}_score"] = df[f"crs_pl{level}_score"].astype("Int64")
        df[f"crs_pl{level}_status"] = df[f"crs_pl{level}_status"].astype("Int64")
        df[f"crs_pl{level}_flagged"] = df[f"crs_pl{level}_flagged"].astype(bool)
    return df


def crs_verdicts(requests: Sequence[bytes | object], levels: Sequence[int] = LEVELS, *, single_pass: bool = True,
                 threads: int = 32, allowed_methods: Sequence[str] | None = None, **kw) -> CrsRun:
    """Start a server for ``levels``, replay ``requests`` (see :func:`replay` for ``kw``), stop it."""
    with CrsServer(levels, single_pass=single_pass, threads=threads, allowed_methods=allowed_methods) as server:
        return replay(server, requests, **kw)
