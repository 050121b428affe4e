"""Verdicts: what AntiNex concluded about a request, a flow or a source, and why.

A :class:`Verdict` names the thing judged (a request, a flow, a source's
window), the conclusion (``name``: a key of :data:`SIGNATURES`, or
``"benign"``), the model or profile that decided (``model``), a score and
a reason a defender can read (the top features, or the rule and its
numbers). Attack verdicts become alerts (:mod:`pipeline.eve`).

Signature ids are in 1,500,000–1,599,999, inside the range Snort and
Suricata keep for local rules (1,000,000–1,999,999), so they never collide
with a public rule set in the same SIEM. The table is the one home of the
ids; docs/verdicts.md lists it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from antinex.pipeline.http_message import HttpRequest


@dataclass(frozen=True)
class Signature:
    sid: int
    name: str  # the alert's ``signature`` text
    category: str  # Suricata classification text
    severity: int  # 1 high, 2 medium, 3 low (Suricata's scale)


SIGNATURES: dict[str, Signature] = {
    "request-attack": Signature(1_500_001, "ANTINEX request detector: attack request", "Web Application Attack", 1),
    "sql-injection": Signature(1_500_002, "ANTINEX injection signature: SQL injection in a request input "
                               "(libinjection)", "Web Application Attack", 1),
    "xss": Signature(1_500_003, "ANTINEX injection signature: cross-site scripting in a request input (libinjection)",
                     "Web Application Attack", 1),
    "script-injection": Signature(1_500_005, "ANTINEX injection signature: script in markup or a script URL in a "
                                  "request input (cross-site scripting)", "Web Application Attack", 1),
    "command-injection": Signature(1_500_006, "ANTINEX injection signature: a shell command after a command "
                                   "separator in a request input (command injection)",
                                   "Attempted Administrator Privilege Gain", 1),
    "shellshock": Signature(1_500_004, "ANTINEX injection signature: shell function definition in a header or "
                            "input (Shellshock, CVE-2014-6271)", "Attempted Administrator Privilege Gain", 1),
    "slowloris": Signature(1_500_010, "ANTINEX slow-rate DoS: request headers sent slowly (slowloris)",
                           "Denial of Service", 2),
    "slow-body": Signature(1_500_011, "ANTINEX slow-rate DoS: request body sent slowly (slow POST)",
                           "Denial of Service", 2),
    "slow-read": Signature(1_500_012, "ANTINEX slow-rate DoS: response read slowly (slow read)",
                           "Denial of Service", 2),
    "connection-flood": Signature(1_500_013, "ANTINEX DoS: too many concurrent connections from one source",
                                  "Denial of Service", 2),
    "brute-force": Signature(1_500_020, "ANTINEX HTTP form brute force: repeated failed logins from one source",
                             "Attempted User Privilege Gain", 1),
    "scan": Signature(1_500_030, "ANTINEX web scan: many requests for missing paths from one source",
                      "Attempted Information Leak", 2),
    "source-escalation": Signature(1_500_040, "ANTINEX source escalation: a request from a source that just sent "
                                   "several attack requests", "Web Application Attack", 2),
}
BY_SID = {s.sid: name for name, s in SIGNATURES.items()}
KINDS = ("request", "flow", "source")


@dataclass
class Verdict:
    """One conclusion about a request, a flow or a source window."""

    kind: str  # request | flow | source
    name: str  # a key of SIGNATURES, or "benign"
    score: float
    model: str  # the model (and checksum) or profile that decided
    reason: str
    ts: float  # packet time when it was reached
    flow_id: int | None = None
    src_ip: str | None = None
    src_port: int | None = None
    dest_ip: str | None = None
    dest_port: int | None = None
    request: HttpRequest | None = None
    features: dict[str, Any] = field(default_factory=dict)  # the numbers the reason rests on

    @property
    def attack(self) -> bool:
        return self.name != "benign"

    @property
    def signature(self) -> Signature | None:
        return SIGNATURES.get(self.name)

    @property
    def request_line(self) -> str:
        req = self.request
        if req is None or not req.method:
            return ""
        return f"{req.method} {req.target}"

    def key(self) -> tuple:
        """What makes two verdicts the same one (the offline/live comparison, the per-flow dedup)."""
        return (self.kind, self.name, self.flow_id, self.request.ts if self.request is not None else None)

    def to_dict(self) -> dict:
        """JSON-safe summary (``antinex-pcap predict --json``)."""
        return {"kind": self.kind, "verdict": self.name, "attack": self.attack, "score": round(self.score, 4),
                "model": self.model, "reason": self.reason, "ts": self.ts, "flow_id": self.flow_id,
                "src_ip": self.src_ip, "src_port": self.src_port, "dest_ip": self.dest_ip,
                "dest_port": self.dest_port, "request": self.request_line,
                "signature_id": self.signature.sid if self.signature else None}
