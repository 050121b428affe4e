"""Timing and window rules: slow-rate DoS per flow, brute force, scans and floods per source.

Each rule compares one measure of a flow (or of its source's window) with
a limit of the :class:`~pipeline.profile.Profile` (learned on benign
traffic) and, past it, returns a :class:`~pipeline.verdicts.Verdict` whose
reason names the rule, the measure, the limit and how the limit was
derived. A flow gets each verdict once (``Flow.flagged``); the analyzer
asks again on every packet of the flow and at every sweep, so a slow
attack is flagged while it runs.
"""
from __future__ import annotations

from antinex.pipeline.flows import Flow
from antinex.pipeline.profile import SLOW_BODY_RATE, Profile, _num, score_past
from antinex.pipeline.verdicts import Verdict


def _verdict(flow: Flow, name: str, kind: str, profile: Profile, score: float, reason: str, now: float,
             features: dict, request=None) -> Verdict:
    flow.flagged.add(name)
    return Verdict(kind=kind, name=name, score=score, model=f"flow profile {profile.name} ({profile.origin})",
                   reason=reason, ts=now, flow_id=flow.id, src_ip=flow.client[0], src_port=flow.client[1],
                   dest_ip=flow.server[0], dest_port=flow.server[1], request=request, features=features)


def _partial_request(flow: Flow):
    """The in-flight request as far as it came (its headers so far), for the alert's http fields."""
    req = flow.requests_in.partial()
    if req is not None:
        req.src_ip, req.src_port = flow.client
        req.dst_ip, req.dst_port = flow.server
        req.flow_id = flow.id
    return req


def check_flow(flow: Flow, now: float, profile: Profile) -> list[Verdict]:
    """Slow-rate rules on one flow at packet time ``now``."""
    out: list[Verdict] = []
    fl = flow.in_flight()
    if fl is not None and not fl.head_complete and "slowloris" not in flow.flagged:
        age = max(now, fl.last) - fl.ts
        limit = profile.limit("head_seconds")
        if age > limit:
            out.append(_verdict(
                flow, "slowloris", "flow", profile, score_past(age, limit),
                f"slowloris rule: request headers still incomplete after {_num(age)} s "
                f"({fl.received} bytes in {fl.segments} segment{'s' if fl.segments != 1 else ''}); "
                f"{profile.explain('head_seconds')}",
                now, {"head_seconds": age, "bytes": fl.received, "segments": fl.segments},
                request=_partial_request(flow)))
    if fl is not None and fl.head_complete and "slow-body" not in flow.flagged:
        start = fl.ts_head or fl.ts
        age = max(now, fl.last) - start
        limit = profile.limit("body_seconds")
        rate = fl.body_received / age if age > 0 else float("inf")
        if age > limit and rate < SLOW_BODY_RATE:
            expected = "chunked" if fl.body_expected is None else f"{fl.body_expected}"
            out.append(_verdict(
                flow, "slow-body", "flow", profile, score_past(age, limit),
                f"slow body rule: body incomplete {_num(age)} s after the headers ({fl.body_received} of "
                f"{expected} bytes, {_num(rate)} bytes/s < {_num(SLOW_BODY_RATE)}); {profile.explain('body_seconds')}",
                now, {"body_seconds": age, "body_received": fl.body_received, "body_rate": rate},
                request=_partial_request(flow)))
    if "slow-read" not in flow.flagged and flow.down.payload:
        zero, zlimit = flow.up.zero_windows, profile.limit("client_zero_windows")
        window, wlimit = flow.up.min_window, profile.limit("client_window")
        if zero > zlimit:
            out.append(_verdict(
                flow, "slow-read", "flow", profile, score_past(zero, zlimit),
                f"slow read rule: the client advertised a zero receive window {zero} times while the server "
                f"was sending; {profile.explain('client_zero_windows')}",
                now, {"client_zero_windows": zero, "client_min_window": window},
                request=_partial_request(flow) or flow.last_request))
        elif window is not None and window < wlimit:
            out.append(_verdict(
                flow, "slow-read", "flow", profile, score_past(window, wlimit, "min"),
                f"slow read rule: the client advertised a receive window of {window} bytes while the server "
                f"was sending; {profile.explain('client_window')}",
                now, {"client_zero_windows": zero, "client_min_window": window},
                request=_partial_request(flow) or flow.last_request))
    return out


def check_source(flow: Flow, features: dict, now: float, profile: Profile, *, event: str, request=None,
                 status: int | None = None) -> list[Verdict]:
    """Per-source window rules, asked when one of the flow's own events adds to its source's counts.

    ``event`` is what just happened on this flow: ``open`` (a connection:
    the flood rule), ``request`` (a form post: the password rule) or
    ``answer`` with its ``status`` (401/403: the failed-login rule; 404: the
    scan rule). So a flow is flagged for what it did itself, not for what
    its source did elsewhere in the last minute.
    """
    from antinex.pipeline.source_windows import is_auth_failure, password_digest

    ip = flow.client[0]
    checks = []
    if event == "open":
        checks.append(("connection-flood", "src_open_flows",
                       lambda v: f"connection flood rule: {ip} holds {int(v)} connections open at once"))
    elif event == "request" and request is not None and password_digest(request) is not None:
        checks.append(("brute-force", "src_passwords_max",
                       lambda v: f"brute force rule: {ip} posted {int(v)} different passwords for one account in "
                                 f"{_num(profile.window)} s"))
    elif event == "answer" and request is not None and status is not None:
        if is_auth_failure(request, status):
            checks.append(("brute-force", "src_auth_failures",
                           lambda v: f"brute force rule: {int(v)} failed logins (401, or 403 to a POST) answered "
                                     f"to {ip} in {_num(profile.window)} s"))
        elif status == 404:
            checks.append(("scan", "src_missing_paths",
                           lambda v: f"scan rule: {int(v)} distinct paths answered 404 to {ip} in "
                                     f"{_num(profile.window)} s"))
    out: list[Verdict] = []
    for name, key, text in checks:
        if name in flow.flagged:
            continue
        value, limit = features[key], profile.limit(key)
        if value > limit:
            out.append(Verdict(
                kind="source", name=name, score=score_past(value, limit),
                model=f"flow profile {profile.name} ({profile.origin})",
                reason=f"{text(value)}; {profile.explain(key)}", ts=now, flow_id=flow.id, src_ip=flow.client[0],
                src_port=flow.client[1], dest_ip=flow.server[0], dest_port=flow.server[1], request=request,
                features={k: features[k] for k in features if k.startswith("src_")}))
            flow.flagged.add(name)
    return out
