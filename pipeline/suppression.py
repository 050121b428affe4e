"""A suppression list: known-benign alerts silenced, in the spirit of Suricata's threshold.config.

One entry per line; ``#`` starts a comment. Suricata's own ``suppress``
lines are read as they are, plus a ``path`` key of ours::

    # every alert of one signature
    suppress gen_id 1, sig_id 1500030
    # one signature from some sources (Suricata's syntax: track by_src|by_dst|by_either, ip ADDR|CIDR|[list])
    suppress gen_id 1, sig_id 1500020, track by_src, ip 10.0.0.0/8
    # every AntiNex signature (sig_id 0) for a monitoring host
    suppress gen_id 1, sig_id 0, track by_src, ip [192.0.2.10,192.0.2.11]
    # a URL path prefix (ours: Suricata has no such key), alone or with a signature
    suppress path /healthz
    suppress gen_id 1, sig_id 1500001, path /api/upload

An alert is dropped when any entry matches all of its keys. A line that
cannot be read is refused with its number and why (:class:`SuppressionError`).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

TRACKS = ("by_src", "by_dst", "by_either")
_KEYS = ("gen_id", "sig_id", "track", "ip", "path")


class SuppressionError(ValueError):
    """A suppression list that cannot be read: names the file, the line and why."""


@dataclass
class Rule:
    sid: int | None = None  # None or 0: every signature
    track: str | None = None
    networks: list = field(default_factory=list)
    path: str | None = None
    line: int = 0

    def matches(self, record: dict) -> bool:
        if self.sid and (record.get("alert") or {}).get("signature_id") != self.sid:
            return False
        if self.path is not None:
            url = ((record.get("http") or {}).get("url") or "").split("?", 1)[0]
            if not url.startswith(self.path):
                return False
        if self.networks:
            ips = {"by_src": [record.get("src_ip")], "by_dst": [record.get("dest_ip")],
                   "by_either": [record.get("src_ip"), record.get("dest_ip")]}[self.track]
            if not any(_inside(ip, self.networks) for ip in ips):
                return False
        return True


def _inside(ip: str | None, networks: list) -> bool:
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in networks)


def _networks(text: str, where: str) -> list:
    items = [t.strip() for t in text.strip().strip("[]").split(",") if t.strip()]
    if not items:
        raise SuppressionError(f"{where}: 'ip' names no address")
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SuppressionError(f"{where}: {item!r} is not an IP address or CIDR network") from None
    return out


def _split(body: str) -> list[str]:
    """``a 1, ip [x, y], b 2`` -> ["a 1", "ip [x, y]", "b 2"]: commas inside brackets stay."""
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_line(text: str, source: str = "<text>", number: int = 0) -> Rule | None:
    """One line of a suppression list (None for blank lines and comments)."""
    where = f"{source}, line {number}"
    text = text.split("#", 1)[0].strip()
    if not text:
        return None
    m = re.match(r"^suppress\s+(.*)$", text)
    if not m:
        raise SuppressionError(f"{where}: only 'suppress' entries are understood, got {text.split()[0]!r}")
    keys: dict[str, str] = {}
    for part in _split(m.group(1)):
        key, _, value = part.partition(" ")
        value = value.strip()
        if key not in _KEYS:
            raise SuppressionError(f"{where}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        if not value:
            raise SuppressionError(f"{where}: {key!r} has no value")
        if key in keys:
            raise SuppressionError(f"{where}: {key!r} given twice")
        keys[key] = value
    rule = Rule(line=number)
    for key in ("gen_id", "sig_id"):
        if key in keys and not keys[key].isdigit():
            raise SuppressionError(f"{where}: {key} must be a number, got {keys[key]!r}")
    if "gen_id" in keys and int(keys["gen_id"]) != 1:
        raise SuppressionError(f"{where}: AntiNex alerts have gen_id 1, got {keys['gen_id']}")
    if "sig_id" in keys:
        rule.sid = int(keys["sig_id"])
    if ("track" in keys) != ("ip" in keys):
        raise SuppressionError(f"{where}: 'track' and 'ip' go together (track by_src, ip 10.0.0.0/8)")
    if "track" in keys:
        if keys["track"] not in TRACKS:
            raise SuppressionError(f"{where}: track must be one of {', '.join(TRACKS)}, got {keys['track']!r}")
        rule.track = keys["track"]
        rule.networks = _networks(keys["ip"], where)
    if "path" in keys:
        if not keys["path"].startswith("/"):
            raise SuppressionError(f"{where}: a path starts with '/', got {keys['path']!r}")
        rule.path = keys["path"]
    if not rule.sid and rule.path is None and not rule.networks:
        raise SuppressionError(f"{where}: the entry matches every alert; name a sig_id, an ip or a path")
    return rule


class Suppression:
    """The entries of a suppression list; ``suppressed(record)`` says whether an EVE record is silenced."""

    def __init__(self, rules: list[Rule] | None = None, source: str = ""):
        self.rules = rules or []
        self.source = source
        self.hits = 0

    @classmethod
    def from_text(cls, text: str, source: str = "<text>") -> "Suppression":
        rules = [r for i, line in enumerate(text.splitlines(), 1) if (r := parse_line(line, source, i))]
        return cls(rules, source)

    @classmethod
    def load(cls, path: str | Path) -> "Suppression":
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SuppressionError(f"cannot read the suppression list {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SuppressionError(f"the suppression list {path} is not text") from None
        return cls.from_text(text, str(path))

    def suppressed(self, record: dict) -> bool:
        hit = any(rule.matches(record) for rule in self.rules)
        self.hits += hit
        return hit
