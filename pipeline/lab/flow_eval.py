"""Per flow and per source: the timing and window rules on a namespace recording, every attack unseen.

Slow-rate denial of service and brute force look normal request by
request; the analyzer's rules (:mod:`antinex.pipeline.rules`) judge
connections and sources against limits learned from *benign* traffic (a
:class:`~antinex.pipeline.profile.Profile`). Here the profile is fitted on
the benign connections of the training clients (never the held-out clients,
never an attack) in one round, and the rules are measured on the next round,
every round taking its turn: the spread over those pairs is the spread of the
figures. No attack traffic fits anything, so every attack tool is unseen.

Per attack session: the share of its connections flagged and the delay
from the session's start to the first alert; for brute force, the attempt
(a POST, in order) by which its source was flagged. Per benign client kind:
the share of its connections with any alert. ``antinex-lab report
--recording DIR`` adds these figures and the issue's targets to the report.
"""
from __future__ import annotations

import json
from pathlib import Path

from antinex.pipeline.lab.build import attribute, family_of
from antinex.pipeline.lab.report import spread

TARGET_FLOWS, TARGET_FIRST_ALERT_S, TARGET_ATTEMPT, TARGET_BENIGN_FLOWS = 0.95, 30.0, 20, 0.001
FLOW_FAMILIES = ("slow-dos", "brute-force")  # the families the rules are for (the others are reported too)


def _rows(pcap: Path, keep: set[str] | None = None):
    from antinex.pipeline.pcap import timed_rows

    for ts, row in timed_rows(pcap):
        if keep is None or row.get("ip_src") in keep or row.get("ip_dst") in keep:
            yield ts, row


def training_clients(manifest: dict, holdout_clients: tuple[str, ...]) -> set[str]:
    """Addresses of the benign clients whose kind is not held out."""
    return {ip for ip, v in manifest["addresses"].items()
            if v["role"] == "client" and (v.get("kind") or "simulated-users") not in holdout_clients}


def fit_profile(record_dir: Path, manifest: dict, rounds: list[int], clients: set[str], margin: float = 3.0):
    """A profile from the benign connections of ``clients`` in ``rounds`` (nothing else is fed)."""
    from antinex.pipeline.analyzer import Analyzer
    from antinex.pipeline.profile import Observer, Profile

    observer = Observer()
    for r in rounds:
        a = Analyzer(None, observer=observer, keep_requests=False)
        a.feed_many(_rows(record_dir / manifest["pcaps"][r], clients))
        a.finish()
    return Profile.from_observed(f"lab-benign-round-{'-'.join(map(str, rounds))}", observer.observed, margin=margin,
                                 fitted_on={"recording": record_dir.name, "rounds": rounds, "flows": observer.flows,
                                            "requests": observer.requests, "sources": sorted(clients)})


def evaluate_round(record_dir: Path, manifest: dict, r: int, profile) -> dict:
    """The rules with ``profile`` on round ``r``: per attack session and per benign client kind."""
    from antinex.pipeline.analyzer import Analyzer

    roles = manifest["addresses"]
    flows: dict[int, dict] = {}
    a = Analyzer(profile, on_flow_end=lambda f: flows.__setitem__(f.id, {"client": f.client[0], "first": f.first,
                                                                        "last": f.last, "requests": f.requests}))
    verdicts, requests = [], []
    for ts, row in _rows(record_dir / manifest["pcaps"][r]):
        a.feed(ts, row)
        if a.waiting > 2048:
            requests += a.take_requests()
            verdicts += a.take_verdicts()
    a.finish()
    requests += a.take_requests()
    verdicts += a.take_verdicts()
    hits: dict[int, tuple[float, str]] = {}
    for v in verdicts:
        if v.kind != "request" and v.attack and v.flow_id is not None:
            if v.flow_id not in hits or v.ts < hits[v.flow_id][0]:
                hits[v.flow_id] = (v.ts, v.name)
    out: dict = {"round": r, "profile": profile.name, "attacks": {}, "benign": {}}
    # each attacker flow to its session by the dataset's own rule (build.attribute): a tool that starts a
    # second after the last one ended on the same host takes its own flows, not the grace window's
    session_of: dict[int, str | None] = {}
    flows_of: dict[str, list[int]] = {}
    by_peer: dict[str, list[int]] = {}
    for fid, f in flows.items():
        if roles.get(f["client"], {}).get("role") == "attacker":
            by_peer.setdefault(f["client"], []).append(fid)
    for address, fids in by_peer.items():
        found = attribute(manifest, address, [flows[fid]["first"] for fid in fids])
        for fid, s in zip(fids, found):
            session_of[fid] = s["session"] if s else None
            if s:
                flows_of.setdefault(s["session"], []).append(fid)
    # every attacker flow counted once: in its session's figures or here
    out["attacker_flows"] = len(session_of)
    out["unattributed_flows"] = sum(sid is None for sid in session_of.values())
    for s in manifest["sessions"]:
        if s.get("round") != r or s.get("label") != "attack":
            continue
        address = next((ip for ip, v in roles.items() if v.get("host") == s.get("host", "attacker")), None)
        start = s["started"]
        mine = flows_of.get(s["session"], [])
        flagged = [fid for fid in mine if fid in hits]
        first = min((hits[f][0] for f in flagged), default=None)
        family = family_of(s)
        entry = {"family": family, "flows": len(mine), "flagged": len(flagged),
                 "share": len(flagged) / len(mine) if mine else None,
                 "first_alert_s": None if first is None else round(first - start, 2),
                 "rules": sorted({hits[f][1] for f in flagged})}
        if family == "brute-force":
            posts = sorted((q for q in requests if q.src_ip == address and q.method == "POST"
                            and session_of.get(q.flow_id) == s["session"]), key=lambda q: q.ts)
            entry["attempts"] = len(posts)
            entry["flagged_by_attempt"] = next(
                (i + 1 for i, q in enumerate(posts)
                 if q.flow_id in hits and hits[q.flow_id][0] <= (q.response_ts or q.ts_end or q.ts) + 1e-6), None)
        out["attacks"][s["tool"]] = entry
    for fid, f in flows.items():
        peer = roles.get(f["client"], {})
        if peer.get("role") != "client":
            continue
        kind = peer.get("kind") or "simulated-users"
        b = out["benign"].setdefault(kind, {"flows": 0, "alerted": 0})
        b["flows"] += 1
        b["alerted"] += fid in hits
    for b in out["benign"].values():
        b["share"] = b["alerted"] / b["flows"] if b["flows"] else None
    return out


def evaluate_flows(record_dir: Path, holdout_clients: tuple[str, ...], *, margin: float = 3.0,
                   progress: bool = True) -> dict:
    """Fit on round k's training clients, measure on round k+1, for every k; figures with their spread."""
    from tqdm import tqdm

    manifest = json.loads((record_dir / "manifest.json").read_text())
    if manifest.get("mode") != "netns":
        raise ValueError(f"{record_dir}: the flow evaluation needs a namespace recording (antinex-lab record --netns)")
    n = len(manifest["pcaps"])
    clients = training_clients(manifest, holdout_clients)
    if not clients:
        raise ValueError(f"every benign client of {record_dir} is held out: no benign traffic to fit the rules on")
    pairs = []
    for k in tqdm(range(n), desc="flow rules", unit="round", disable=not progress):
        # one round only (a short test recording): fitted on its training clients and measured on the same
        # round, so only the held-out clients' and the attacks' figures are out of sample
        profile = fit_profile(record_dir, manifest, [k], clients, margin)
        pairs.append(evaluate_round(record_dir, manifest, (k + 1) % n, profile))
    return {"recording": str(record_dir), "holdout_clients": list(holdout_clients), "margin": margin,
            "pairs": pairs, "summary": summarize(pairs, holdout_clients)}


def summarize(pairs: list[dict], holdout_clients: tuple[str, ...]) -> dict:
    """Per attack tool and per benign client kind: spread over the (fit round, measured round) pairs."""
    tools: dict[str, dict] = {}
    for p in pairs:
        for tool, e in p["attacks"].items():
            t = tools.setdefault(tool, {"family": e["family"], "share": [], "first_alert_s": [], "attempt": [],
                                        "flows": 0, "rules": set()})
            t["share"].append(e["share"])
            t["first_alert_s"].append(e["first_alert_s"])
            t["attempt"].append(e.get("flagged_by_attempt"))
            t["flows"] += e["flows"]
            t["rules"] |= set(e["rules"])
    out_tools = {tool: {"family": t["family"], "flows": t["flows"], "share": spread(t["share"]),
                        "first_alert_s": spread(t["first_alert_s"]),
                        "missed_first_alert": sum(v is None for v in t["first_alert_s"]),
                        "attempt": spread(t["attempt"]) if t["family"] == "brute-force" else None,
                        "never_flagged": sum(v is None for v in t["attempt"]) if t["family"] == "brute-force" else None,
                        "rules": sorted(t["rules"])} for tool, t in sorted(tools.items())}
    kinds: dict[str, dict] = {}
    for p in pairs:
        for kind, b in p["benign"].items():
            k = kinds.setdefault(kind, {"flows": 0, "alerted": 0, "share": []})
            k["flows"] += b["flows"]
            k["alerted"] += b["alerted"]
            k["share"].append(b["share"])
    out_kinds = {kind: {"flows": k["flows"], "alerted": k["alerted"], "share": spread(k["share"]),
                        "unseen": kind in holdout_clients} for kind, k in sorted(kinds.items())}
    unseen = [k for k in out_kinds.values() if k["unseen"]]
    total = [k for k in out_kinds.values()]
    return {"tools": out_tools, "benign": out_kinds,
            "benign_unseen_share": sum(k["alerted"] for k in unseen) / max(1, sum(k["flows"] for k in unseen)),
            "benign_share": sum(k["alerted"] for k in total) / max(1, sum(k["flows"] for k in total))}


def targets(summary: dict) -> list[dict]:
    """Issue #15's targets, met or not, with the numbers (the worst pair counts)."""
    out = []
    for tool, t in summary["tools"].items():
        if t["family"] == "slow-dos":
            worst_share, worst_first = t["share"]["min"], t["first_alert_s"]["max"]
            met = worst_share is not None and worst_share >= TARGET_FLOWS and worst_first is not None and \
                worst_first <= TARGET_FIRST_ALERT_S and not t["missed_first_alert"]
            out.append({"target": f"{tool}: >= {TARGET_FLOWS:.0%} of its connections flagged, the first alert "
                                  f"within {TARGET_FIRST_ALERT_S:.0f} s (every round)", "met": met,
                        "figures": {"flagged (worst round)": worst_share, "first alert s (worst round)": worst_first}})
        if t["family"] == "brute-force":
            worst = t["attempt"]["max"]
            met = worst is not None and worst <= TARGET_ATTEMPT and not t["never_flagged"]
            out.append({"target": f"{tool}: flagged by attempt {TARGET_ATTEMPT} (every round)", "met": met,
                        "figures": {"attempt (worst round)": worst, "rounds never flagged": t["never_flagged"]}})
    share = summary["benign_share"]
    out.append({"target": f"benign connections alerted <= {TARGET_BENIGN_FLOWS:.1%} (all clients, held out or not)",
                "met": share <= TARGET_BENIGN_FLOWS, "figures": {"share": share,
                                                                 "unseen clients": summary["benign_unseen_share"]}})
    return out


def _pct(v) -> str:
    return "–" if v is None else f"{v:.2%}"


def markdown(res: dict) -> list[str]:
    s = res["summary"]
    n = len(res["pairs"])
    lines = ["## Per connection and per source: the timing and window rules", "",
             *(["One round only: the profile was fitted on the training clients of the same round the rules were "
                "measured on; the figures of the attacks and of the clients never in training are still out of "
                "sample.", ""] if n == 1 else []),
             f"The profile is fitted on the benign connections of the training clients in one round and the rules "
             f"are measured on the next round, each of the {n} rounds taking its turn (mean ± standard deviation "
             f"over the pairs, range in brackets). No attack fits anything: every tool is unseen.", "",
             "| tool | family | connections | flagged | first alert after the start (s) | brute force: flagged by "
             "attempt | rules |", "|---|---|---|---|---|---|---|"]
    for tool, t in s["tools"].items():
        sh, fa = t["share"], t["first_alert_s"]
        first = "–" if fa["mean"] is None else f"{fa['mean']:.1f} ({fa['min']:.1f}–{fa['max']:.1f})"
        if t["missed_first_alert"]:
            first += f"; no alert in {t['missed_first_alert']} of {n}"
        attempt = "–"
        if t["attempt"] is not None and t["attempt"]["mean"] is not None:
            a = t["attempt"]
            attempt = f"{a['mean']:.1f} ({a['min']:.0f}–{a['max']:.0f})" + (
                f"; never in {t['never_flagged']} of {n}" if t["never_flagged"] else "")
        share = "–" if sh["mean"] is None else f"{sh['mean']:.2%} ({sh['min']:.2%}–{sh['max']:.2%})"
        lines.append(f"| {tool} | {t['family']} | {t['flows']:,} | {share} | {first} | {attempt} | "
                     f"{', '.join(t['rules']) or '–'} |")
    lines += ["", "| benign client | connections | alerted | share (mean over pairs) | never in training |",
              "|---|---|---|---|---|"]
    for kind, b in s["benign"].items():
        lines.append(f"| {kind} | {b['flows']:,} | {b['alerted']:,} | {_pct(b['share']['mean'])} | "
                     f"{'yes' if b['unseen'] else ''} |")
    lines += ["", f"All benign connections alerted: {_pct(s['benign_share'])}; of clients never in training: "
                  f"{_pct(s['benign_unseen_share'])}.", ""]
    return lines
