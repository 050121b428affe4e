"""Per-source sliding windows: what one client address did in the last minute.

Brute force, scans and connection floods are not visible in any one
request or flow; they are visible in what one source does over a minute:
how many connections it holds open, how many requests it sends, how many
distinct paths it asks for, how many answers are 4xx (401: failed logins;
404: guessed paths), how many different passwords it posts for one account
to one form (per account: many users behind one address, an office behind
NAT, each post their own password; a brute force posts many for one).
:class:`SourceWindows` keeps those counts per source address, over a
sliding window of ``window`` seconds of packet time, bounded in memory
(events per source and sources tracked).
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

from antinex.pipeline.http_message import HttpRequest

WINDOW_SECONDS = 60.0
MAX_EVENTS = 20_000  # per source and kind: a flood is counted up to here, then the oldest drop out
MAX_SOURCES = 65_536
# form fields that carry a password (hydra's ^PASS^, login forms)
PASSWORD_FIELD = re.compile(r"(?i)^(pass|passwd|password|pwd|passphrase|pin|secret)$|pass(word)?$")
ACCOUNT_FIELD = re.compile(r"(?i)^(user|username|login|email|e-mail|account|name|uid|user_?id)$|user(name)?$")


class _Windowed:
    """Counts of keys over the last ``window`` seconds."""

    __slots__ = ("events", "counts")

    def __init__(self) -> None:
        self.events: deque = deque()
        self.counts: Counter = Counter()

    def add(self, ts: float, key) -> None:
        self.events.append((ts, key))
        self.counts[key] += 1
        if len(self.events) > MAX_EVENTS:
            self._drop()

    def _drop(self) -> None:
        _, key = self.events.popleft()
        self.counts[key] -= 1
        if not self.counts[key]:
            del self.counts[key]

    def expire(self, before: float) -> None:
        while self.events and self.events[0][0] < before:
            self._drop()

    def total(self) -> int:
        return len(self.events)

    def distinct(self) -> int:
        return len(self.counts)


@dataclass
class Source:
    """One source address's recent activity."""

    open_flows: set = field(default_factory=set)
    flows: _Windowed = field(default_factory=_Windowed)  # connections opened
    requests: _Windowed = field(default_factory=_Windowed)  # keyed by path
    statuses: _Windowed = field(default_factory=_Windowed)  # keyed by status
    missing: _Windowed = field(default_factory=_Windowed)  # 404 answers, keyed by path
    auth_failures: _Windowed = field(default_factory=_Windowed)  # 401 answers (and 403 to a POST), keyed by path
    passwords: dict = field(default_factory=dict)  # (path, account) -> _Windowed of password digests
    last: float = 0.0

    def expire(self, now: float, window: float) -> None:
        before = now - window
        for w in (self.flows, self.requests, self.statuses, self.missing, self.auth_failures, *self.passwords.values()):
            w.expire(before)
        for path in [p for p, w in self.passwords.items() if not w.total()]:
            del self.passwords[path]


def password_digest(req: HttpRequest) -> str | None:
    """A short digest of the password a form post carries (never the password itself), or None."""
    if req.method != "POST":
        return None
    for name, value in req.params:
        if PASSWORD_FIELD.search(name):
            return hashlib.blake2b(value.encode("utf-8", "replace"), digest_size=6).hexdigest()
    return None


def account_of(req: HttpRequest) -> str:
    """The account a login form post names ("" when it names none): passwords are counted per account."""
    for name, value in req.params:
        if ACCOUNT_FIELD.search(name):
            return value[:256]
    return ""


def is_auth_failure(req: HttpRequest, status: int) -> bool:
    """A failed login: 401, or 403 to a form post (apps that answer a wrong password with Forbidden)."""
    return status == 401 or (status == 403 and req.method == "POST")


class SourceWindows:
    """Sliding-window counts per source address."""

    def __init__(self, window: float = WINDOW_SECONDS, max_sources: int = MAX_SOURCES):
        self.window = window
        self.max_sources = max_sources
        self.sources: OrderedDict[str, Source] = OrderedDict()

    def get(self, ip: str, now: float) -> Source:
        src = self.sources.get(ip)
        if src is None:
            src = self.sources[ip] = Source()
            while len(self.sources) > self.max_sources:
                self.sources.popitem(last=False)  # the least recently active source
        else:
            self.sources.move_to_end(ip)
        src.last = max(src.last, now)
        src.expire(now, self.window)
        return src

    def flow_opened(self, ip: str, flow_id: int, ts: float) -> Source:
        src = self.get(ip, ts)
        src.open_flows.add(flow_id)
        src.flows.add(ts, flow_id)
        return src

    def flow_closed(self, ip: str, flow_id: int) -> None:
        src = self.sources.get(ip)
        if src is not None:
            src.open_flows.discard(flow_id)

    def request(self, req: HttpRequest, ts: float) -> Source:
        src = self.get(req.src_ip, ts)
        src.requests.add(ts, req.path)
        digest = password_digest(req)
        if digest is not None:
            src.passwords.setdefault((req.path, account_of(req)), _Windowed()).add(ts, digest)
        return src

    def answer(self, req: HttpRequest, status: int, ts: float) -> Source:
        src = self.get(req.src_ip, ts)
        src.statuses.add(ts, status)
        if status == 404:
            src.missing.add(ts, req.path)
        if is_auth_failure(req, status):
            src.auth_failures.add(ts, req.path)
        return src

    def features(self, ip: str, now: float) -> dict:
        """The source's window row at ``now`` (zeros for a source never seen)."""
        src = self.sources.get(ip)
        if src is None:
            return dict.fromkeys(FEATURES, 0.0)
        src.expire(now, self.window)
        answered = src.statuses.total()
        four = sum(n for s, n in src.statuses.counts.items() if 400 <= s < 500)
        return {
            "src_open_flows": float(len(src.open_flows)),
            "src_new_flows": float(src.flows.total()),
            "src_requests": float(src.requests.total()),
            "src_request_rate": src.requests.total() / self.window,
            "src_distinct_paths": float(src.requests.distinct()),
            "src_answered": float(answered),
            "src_4xx_share": four / answered if answered else 0.0,
            "src_401": float(src.statuses.counts.get(401, 0)),
            "src_404": float(src.statuses.counts.get(404, 0)),
            "src_missing_paths": float(src.missing.distinct()),
            "src_auth_failures": float(src.auth_failures.total()),
            "src_passwords_max": float(max((w.distinct() for w in src.passwords.values()), default=0)),
        }


FEATURES: tuple[str, ...] = (
    "src_open_flows", "src_new_flows", "src_requests", "src_request_rate", "src_distinct_paths", "src_answered",
    "src_4xx_share", "src_401", "src_404", "src_missing_paths", "src_auth_failures", "src_passwords_max",
)
