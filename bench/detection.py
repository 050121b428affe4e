"""Detection targets of the flow and source rules, on a recording of our own (root).

    python -m bench.detection record OUTDIR [--rounds 3] [--prefix anxst]
    python -m bench.detection evaluate OUTDIR [--fit-rounds 0] [--model NAME --store DIR]

``record`` builds the dataset lab's namespaces (pipeline/lab/netns.py:
target, two client hosts of simulated users, one attacker) and records
rounds of traffic, one pcap per round on the target's interface: the
clients' simulated users for the whole round, and the attacker running,
one after the other, slowhttptest in its three modes (-H slowloris, -B
slow body, -X slow read) and hydra's HTTP-form brute force against the
login form, each against a different front end per round. Every tool's
start and end are written to ``manifest.json``.

``evaluate`` reads our manifest or ``antinex-lab record --netns``'s (its
attack sessions' ``tool``, its rounds, pcaps and addresses), fits the flow profile on the *benign* flows (client
addresses only) of the ``--fit-rounds`` and measures on the other rounds,
held out:

* slowhttptest, per mode: the share of the attack's connections flagged,
  and the delay from the attack's start to its first alert (target: 95%
  flagged, the first alert within 30 s);
* hydra: the attempt (POST to the login form, in order) by which the
  source is flagged (target: by the 20th);
* benign: the share of the clients' connections with any alert (target:
  at most 0.1%), by the rules alone and with the request model
  (``--model``: a stored request model, default none).

No attack traffic is used to fit anything: the profile sees benign flows
only, so every attack here is unseen. Writes ``detection.json`` and
``detection.md`` into OUTDIR.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from antinex.utils.cli import default_store as _default_store

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"wsgi": 8080, "flask": 5000, "drf": 8000}


def attacks(base: str, workdir: Path) -> list[tuple[str, list[str]]]:
    """(name, command) of the attacks of one round, in order."""
    from antinex.pipeline.lab.traffic import attack_command

    hydra = attack_command("hydra", base.split("//")[1].split(":")[0], int(base.rsplit(":", 1)[1]), str(workdir))
    return [
        ("slowloris", ["slowhttptest", "-H", "-c", "150", "-r", "50", "-i", "5", "-s", "8192", "-t", "GET",
                       "-u", f"{base}/", "-l", "3600", "-p", "3", "-x", "24"]),
        ("slow-body", ["slowhttptest", "-B", "-c", "150", "-r", "50", "-i", "5", "-s", "8192", "-t", "POST",
                       "-u", f"{base}/items", "-l", "3600", "-p", "3", "-x", "24"]),
        ("slow-read", ["slowhttptest", "-X", "-c", "150", "-r", "50", "-w", "512", "-y", "1024", "-n", "5", "-z", "32",
                       "-k", "3", "-u", f"{base}/api/items", "-l", "3600", "-p", "3"]),
        ("hydra", hydra),
    ]


def record(outdir: Path, *, rounds: int = 3, prefix: str = "anxst", tool_seconds: float = 35,
           normal_seconds: float = 20, users: int = 3) -> dict:
    from antinex.pipeline.lab.netns import Lab

    if os.geteuid() != 0:
        raise PermissionError("recording needs root (namespaces and packet capture)")
    outdir.mkdir(parents=True, exist_ok=True)
    work = outdir / "work"
    work.mkdir(exist_ok=True)
    sessions, pcaps = [], []
    with Lab.create(prefix=prefix, clients=2) as lab:
        target = lab.hosts["target"]
        args = [sys.executable, "-m", "antinex.pipeline.lab.webapp", "--host", target.ip]
        for fw, port in PORTS.items():
            args += [f"--{fw}", str(port)]
        server = lab.popen("target", args, stdout=subprocess.DEVNULL, stderr=open(outdir / "targets.log", "ab"),
                           cwd=ROOT)
        try:
            time.sleep(4)
            bases = ",".join(f"http://{target.ip}:{p}" for p in PORTS.values())
            for r in range(rounds):
                pcap = f"round-{r}.pcap"
                cap = lab.popen("target", ["tcpdump", "-i", "eth0", "-U", "-s", "0", "-w", str(outdir / pcap), "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.5)
                plan = attacks(f"http://{target.ip}:{list(PORTS.values())[r % 3]}", work)
                planned = normal_seconds + len(plan) * (tool_seconds + 3) + 5
                clients = [lab.popen(h.name, [sys.executable, "-m", "antinex.pipeline.lab.traffic", "users", bases,
                                              "--users", str(users), "--seconds", str(planned),
                                              "--seed", str(100 * r + i + 1)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
                           for i, h in enumerate(lab.by_role("client"))]
                started = time.time()
                time.sleep(normal_seconds)
                for name, cmd in plan:
                    print(f"round {r}: {name}", flush=True)
                    t0 = time.time()
                    proc = lab.popen("attacker", cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                    try:
                        proc.wait(timeout=tool_seconds)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                    sessions.append({"round": r, "pcap": pcap, "attack": name, "command": cmd, "started": t0,
                                     "ended": time.time()})
                    time.sleep(3)
                for c in clients:
                    try:
                        c.communicate(timeout=planned + 30)
                    except subprocess.TimeoutExpired:
                        os.killpg(c.pid, signal.SIGKILL)
                sessions.append({"round": r, "pcap": pcap, "attack": None, "started": started, "ended": time.time()})
                time.sleep(1)
                os.killpg(cap.pid, signal.SIGINT)
                cap.wait(10)
                pcaps.append(pcap)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        addresses = lab.addresses()
    manifest = {"rounds": rounds, "pcaps": pcaps, "addresses": addresses, "sessions": sessions,
                "tool_seconds": tool_seconds, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


# -- evaluation ---------------------------------------------------------------------------------
def _rows(pcap: Path, keep=None):
    from antinex.pipeline.pcap import timed_rows

    for ts, row in timed_rows(pcap):
        if keep is None or row.get("ip_src") in keep or row.get("ip_dst") in keep:
            yield ts, row


def fit_profile(outdir: Path, manifest: dict, rounds: list[int], margin: float = 3.0):
    from antinex.pipeline.analyzer import Analyzer
    from antinex.pipeline.profile import Observer, Profile

    clients = {ip for ip, v in manifest["addresses"].items() if v["role"] == "client"}
    observer = Observer()
    for r in rounds:
        a = Analyzer(None, observer=observer, keep_requests=False)
        a.feed_many(_rows(outdir / manifest["pcaps"][r], clients))
        a.finish()
    return Profile.from_observed(f"lab-benign-rounds-{'-'.join(map(str, rounds))}", observer.observed, margin=margin,
                                 fitted_on={"recording": outdir.name, "rounds": rounds, "flows": observer.flows,
                                            "requests": observer.requests, "sources": sorted(clients)})


def attack_name(session: dict) -> str | None:
    """The attack of a session: ours (``attack``) or ``antinex-lab record --netns``'s (``tool`` of an
    attack session), so the lab's own recordings evaluate the same way."""
    if session.get("attack"):
        return session["attack"]
    if session.get("label") == "attack":
        return session.get("tool")
    return None


def evaluate_round(outdir: Path, manifest: dict, r: int, profile, scorer=None) -> dict:
    from antinex.pipeline.analyzer import Analyzer

    roles = manifest["addresses"]
    attacker = next(ip for ip, v in roles.items() if v["role"] == "attacker")
    flows: dict[int, dict] = {}
    a = Analyzer(profile, on_flow_end=lambda f: flows.__setitem__(f.id, {"client": f.client[0], "first": f.first,
                                                                        "last": f.last, "requests": f.requests}))
    verdicts, requests = [], []
    for ts, row in _rows(outdir / manifest["pcaps"][r]):
        a.feed(ts, row)
        if a.waiting > 2048:
            batch = a.take_requests()
            requests += batch
            verdicts += a.judge(batch, scorer)
    a.finish()
    batch = a.take_requests()
    requests += batch
    verdicts += a.take_verdicts() + a.judge(batch, scorer)
    rule_hits: dict[int, float] = {}
    model_hits: dict[int, float] = {}
    by_name: dict[str, dict[int, float]] = {}  # verdict name -> flow -> first time
    for v in verdicts:
        if not v.attack:
            continue
        hits = model_hits if v.kind == "request" else rule_hits
        hits[v.flow_id] = min(hits.get(v.flow_id, v.ts), v.ts)
        named = by_name.setdefault(v.name, {})
        named[v.flow_id] = min(named.get(v.flow_id, v.ts), v.ts)
    out = {"round": r, "attacks": {}, "benign": {}}
    for s in manifest["sessions"]:
        name = attack_name(s)
        if s.get("round") != r or not name:
            continue
        start, end = s["started"], s["ended"] + 2.0
        mine = [fid for fid, f in flows.items() if f["client"] == attacker and start - 0.5 <= f["first"] <= end]
        flagged = [fid for fid in mine if fid in rule_hits]
        first = min((rule_hits[f] for f in flagged), default=None)
        entry = {"flows": len(mine), "flagged": len(flagged), "share": len(flagged) / len(mine) if mine else None,
                 "first_alert_s": None if first is None else round(first - start, 2), "by_verdict": {}}
        for verdict, hits in sorted(by_name.items()):
            got = [hits[f] for f in mine if f in hits]
            if got:  # how much each rule alone would flag, and how soon
                entry["by_verdict"][verdict] = {"flagged": len(got), "first_alert_s": round(min(got) - start, 2)}
        entry["unflagged"] = [{"requests": flows[f]["requests"], "seconds": round(flows[f]["last"] - flows[f]["first"], 2),
                               "start_s": round(flows[f]["first"] - start, 2)} for f in mine if f not in rule_hits][:10]
        if name.startswith("hydra"):
            posts = sorted((q for q in requests if q.src_ip == attacker and q.method == "POST"
                            and start - 0.5 <= (q.ts or 0) <= end), key=lambda q: q.ts)
            flagged_at = next((i + 1 for i, q in enumerate(posts)
                               if q.flow_id in rule_hits and rule_hits[q.flow_id] <= (q.response_ts or q.ts_end or q.ts)),
                              None)
            entry.update(attempts=len(posts), flagged_by_attempt=flagged_at)
        out["attacks"][name] = entry
    benign = [fid for fid, f in flows.items() if roles.get(f["client"], {}).get("role") == "client"]
    rules = sum(fid in rule_hits for fid in benign)
    either = sum(fid in rule_hits or fid in model_hits for fid in benign)
    out["benign"] = {"flows": len(benign), "alerted_rules": rules, "share_rules": rules / len(benign) if benign else None,
                     "alerted_with_model": either if scorer else None,
                     "share_with_model": (either / len(benign) if benign else None) if scorer else None,
                     "requests": sum(1 for q in requests if roles.get(q.src_ip, {}).get("role") == "client")}
    if scorer:
        out["benign"]["model_false_requests"] = sum(1 for v in verdicts if v.kind == "request" and v.attack and
                                                    roles.get(v.src_ip, {}).get("role") == "client")
    return out


def evaluate(outdir: Path, fit_rounds: list[int], model: str | None = None, store: str | None = None,
             margin: float = 3.0) -> dict:
    manifest = json.loads((outdir / "manifest.json").read_text())
    profile = fit_profile(outdir, manifest, fit_rounds, margin)
    scorer = None
    if model:
        from antinex.pipeline.pcap import load_detector

        scorer, _ = load_detector(model, store or _default_store())
    held = [r for r in range(manifest["rounds"]) if r not in fit_rounds]
    results = {"profile": profile.to_json(), "fit_rounds": fit_rounds, "held_out_rounds": held,
               "model": scorer.name if scorer else None,
               "rounds": [evaluate_round(outdir, manifest, r, profile, scorer) for r in held]}
    (outdir / "detection.json").write_text(json.dumps(results, indent=2))
    (outdir / "detection.md").write_text(markdown(results))
    return results


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def markdown(res: dict) -> str:
    lines = [f"Profile fitted on the benign flows of round(s) {res['fit_rounds']}, measured on held-out round(s) "
             f"{res['held_out_rounds']}; request model: {res['model'] or 'none (rules only)'}.", "",
             "| round | attack | connections | flagged | first alert after start | hydra: flagged by attempt | "
             "connections per verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in res["rounds"]:
        for name, e in r["attacks"].items():
            by = f"{e.get('flagged_by_attempt')} of {e.get('attempts')}" if name.startswith("hydra") else "–"
            alone = "; ".join(f"{k} {v['flagged']} (first after {v['first_alert_s']} s)"
                              for k, v in e.get("by_verdict", {}).items())
            lines.append(f"| {r['round']} | {name} | {e['flows']} | {e['flagged']} ({_pct(e['share'])}) | "
                         f"{e['first_alert_s']} s | {by} | {alone} |")
    lines += ["", "| round | benign connections | alerted by the rules | alerted with the request model |",
              "|---|---|---|---|"]
    for r in res["rounds"]:
        b = r["benign"]
        model = "–" if b["alerted_with_model"] is None else f"{b['alerted_with_model']} ({_pct(b['share_with_model'])})"
        lines.append(f"| {r['round']} | {b['flows']} | {b['alerted_rules']} ({_pct(b['share_rules'])}) | {model} |")
    lines += ["", "Limits: " + ", ".join(f"{k} {v:.4g}" for k, v in res["profile"]["limits"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("outdir")
    rec.add_argument("--rounds", type=int, default=3)
    rec.add_argument("--prefix", default="anxst")
    rec.add_argument("--tool-seconds", type=float, default=35)
    ev = sub.add_parser("evaluate")
    ev.add_argument("outdir")
    ev.add_argument("--fit-rounds", default="0")
    ev.add_argument("--model")
    ev.add_argument("--store")
    ev.add_argument("--margin", type=float, default=3.0)
    args = ap.parse_args(argv)
    if args.command == "record":
        record(Path(args.outdir), rounds=args.rounds, prefix=args.prefix, tool_seconds=args.tool_seconds)
    else:
        res = evaluate(Path(args.outdir), [int(x) for x in args.fit_rounds.split(",") if x], args.model, args.store,
                       args.margin)
        print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
