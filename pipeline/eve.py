"""Alerts in Suricata's EVE JSON shape, once per flow and signature, to files, Redis or syslog.

:func:`eve_record` turns an attack :class:`~pipeline.verdicts.Verdict`
into one EVE ``alert`` record: the fields Suricata writes (``timestamp``,
``flow_id``, ``event_type``, addresses and ports, ``proto``,
``app_proto``, ``alert{action, gid, signature_id, rev, signature,
category, severity}``, ``http{...}`` where a request is known) and an
``antinex{model, score, reason, verdict, kind}`` object with what decided
and why. ``pipeline/eve_schema.json`` is the JSON schema of these records;
the tests validate every line written against it. docs/verdicts.md maps
the fields to ECS for Filebeat and Elastic.

:class:`AlertWriter` deduplicates (one alert per flow and signature),
applies a :class:`~pipeline.suppression.Suppression` list and hands each
record to its sinks: :class:`EveFile` (a rotating file, ``eve.json`` as
Suricata names it), :class:`RedisList` (a bounded list) and
:class:`Syslog`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import threading
from collections import OrderedDict
from pathlib import Path

from antinex.pipeline.suppression import Suppression
from antinex.pipeline.verdicts import Verdict

SCHEMA = Path(__file__).with_name("eve_schema.json")
MAX_DEDUP_KEYS = 1_000_000  # (flow, signature) pairs remembered; the oldest are forgotten first


def eve_timestamp(ts: float) -> str:
    """Suricata's timestamp format: ``2024-05-01T12:00:00.123456+0000`` (UTC)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def http_block(verdict: Verdict) -> dict | None:
    """Suricata's ``http`` object for the request behind a verdict, with what is known of it."""
    req = verdict.request
    if req is None or not req.method:
        return None
    out: dict = {"http_method": req.method, "url": req.target}
    host = (req.header("host") or "").strip()
    if host:
        if host.startswith("[") and "]" in host:  # an IPv6 literal: [::1]:8080
            name, port = host[1:host.index("]")], host[host.index("]") + 1:].lstrip(":")
        elif host.count(":") == 1:
            name, _, port = host.partition(":")
        else:
            name, port = host, ""
        out["hostname"] = name or host
        if port.isdigit() and 0 < int(port) < 65536:
            out["http_port"] = int(port)
    agent = req.header("user-agent")
    if agent:
        out["http_user_agent"] = agent
    if req.version:
        out["protocol"] = req.version
    if req.response_status is not None:
        out["status"] = req.response_status
    if req.body:
        out["request_body_length"] = len(req.body)
    return out


def eve_record(verdict: Verdict) -> dict:
    """The EVE alert record of an attack verdict."""
    sig = verdict.signature
    if sig is None:
        raise ValueError(f"a {verdict.name!r} verdict is no attack: it has no alert")
    record = {
        "timestamp": eve_timestamp(verdict.ts),
        "flow_id": verdict.flow_id or 0,
        "event_type": "alert",
        "src_ip": verdict.src_ip,
        "src_port": verdict.src_port,
        "dest_ip": verdict.dest_ip,
        "dest_port": verdict.dest_port,
        "proto": "TCP",
        "app_proto": "http" if verdict.request is not None or verdict.kind == "request" else "unknown",
        "direction": "to_server",
        "alert": {"action": "allowed", "gid": 1, "signature_id": sig.sid, "rev": 1, "signature": sig.name,
                  "category": sig.category, "severity": sig.severity},
        "antinex": {"model": verdict.model, "score": round(float(verdict.score), 4), "reason": verdict.reason,
                    "verdict": verdict.name, "kind": verdict.kind},
    }
    http = http_block(verdict)
    if http:
        record["http"] = http
        record["app_proto"] = "http"
    return record


# -- sinks ------------------------------------------------------------------------------
class EveFile:
    """EVE lines appended to a file, rotated by size (the standard library's RotatingFileHandler)."""

    def __init__(self, path: str | Path, max_bytes: int = 100 * 1024 * 1024, backups: int = 5):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # delay: the file appears with the first alert, not when a subscriber starts
        self._handler = logging.handlers.RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=backups,
                                                             encoding="utf-8", delay=True)
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def __call__(self, line: str) -> None:
        self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.WARNING}))
        self._handler.flush()

    def close(self) -> None:
        self._handler.close()


class RedisList:
    """EVE lines LPUSHed to a Redis list that never holds more than ``max_len`` (LTRIM)."""

    def __init__(self, url: str, key: str = "antinex.alerts", max_len: int = 10_000):
        import redis

        self.r = redis.Redis.from_url(url)
        self.key, self.max_len = key, max_len

    def __call__(self, line: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.lpush(self.key, line)
        pipe.ltrim(self.key, 0, self.max_len - 1)
        pipe.execute()

    def close(self) -> None:
        self.r.close()


class Syslog:
    """EVE lines to syslog (``/dev/log`` or ``host:port`` over UDP), tagged ``antinex:``."""

    def __init__(self, address: str = "/dev/log", facility: str = "local5"):
        if ":" in address and not address.startswith("/"):
            host, _, port = address.rpartition(":")
            target: str | tuple = (host, int(port))
        else:
            target = address
        self._handler = logging.handlers.SysLogHandler(
            address=target, facility=logging.handlers.SysLogHandler.facility_names[facility])
        self._handler.setFormatter(logging.Formatter("antinex: %(message)s"))

    def __call__(self, line: str) -> None:
        self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.WARNING,
                                                  "levelname": "WARNING"}))

    def close(self) -> None:
        self._handler.close()


class AlertWriter:
    """Attack verdicts → EVE records: once per flow and signature, suppression applied, to every sink."""

    def __init__(self, sinks: list | None = None, suppression: Suppression | None = None):
        self.sinks = list(sinks or [])
        self.suppression = suppression or Suppression()
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._lock = threading.Lock()  # the subscriber writes from its scoring thread and its main thread
        self.written = self.duplicates = self.suppressed = 0
        self.records: list[dict] = []  # kept when keep=True (antinex-pcap predict)
        self.keep = False

    def write(self, verdicts: list[Verdict]) -> list[dict]:
        """Alert the attack verdicts among ``verdicts``; returns the records written."""
        out = []
        with self._lock:
            for v in verdicts:
                if not v.attack:
                    continue
                record = eve_record(v)
                key = (v.flow_id, record["alert"]["signature_id"])
                if key in self._seen:
                    self.duplicates += 1
                    continue
                self._seen[key] = None
                if len(self._seen) > MAX_DEDUP_KEYS:
                    self._seen.popitem(last=False)
                if self.suppression.suppressed(record):
                    self.suppressed += 1
                    continue
                line = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
                for sink in self.sinks:
                    sink(line)
                self.written += 1
                out.append(record)
                if self.keep:
                    self.records.append(record)
        return out

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
