"""``antinex-lab``: record labelled traffic and build datasets from it.

    antinex-lab record OUTDIR --netns [--rounds 5] [--clients 2] [--client-kinds all] [--apps notes,spa,forms]
                       [--tools all|classic|FAMILY|TOOL,...] [--attackers 3] [--tool-seconds 30]
    antinex-lab record OUTDIR [--port 18080] [--normal-seconds 90]      (loopback: one session at a time)
    antinex-lab build OUTDIR -o DATASET_DIR [--packets requests|payload|all]
    antinex-lab report -o REPORT_DIR [--requests DATASET_DIR/requests.csv.gz] [--packets DATASET_DIR/train.csv.gz]
        [--holdout-clients curl,httpie,browser] [--seeds 7,1,2,3,42] [--crs 1,2,3,4] [--detector NAME=req.json]
    antinex-lab crs REQUESTS.csv.gz -o OUT_DIR [--levels 1,2,3,4]   (ModSecurity + OWASP CRS baseline)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _names(value: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A comma-separated option: ``all``, ``none`` or names from ``known``."""
    if value in ("all", ""):
        return known
    if value == "none":
        return ()
    names = tuple(v for v in value.split(",") if v)
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"{what}: unknown {', '.join(bad)} (known: {', '.join(known)}, all, none)")
    return names


def cmd_record(args) -> int:
    from antinex.pipeline.lab.clients import CLIENT_KINDS
    from antinex.pipeline.lab.record import record, record_netns
    from antinex.pipeline.lab.targets import APPS
    from antinex.pipeline.lab.tools import resolve

    tools = resolve(t for t in args.tools.split(",") if t)
    if args.netns:
        manifest = record_netns(Path(args.outdir), frameworks=tuple(args.frameworks.split(",")),
                                apps=_names(args.apps, APPS, "--apps"),
                                client_kinds=_names(args.client_kinds, CLIENT_KINDS, "--client-kinds"),
                                clients=args.clients, users_per_client=args.users, tools=tools,
                                attackers=args.attackers, tool_seconds=args.tool_seconds,
                                normal_seconds=args.normal_seconds, rounds=args.rounds, seed=args.seed,
                                agents=not args.no_agents, prefix=args.prefix)
        for s in manifest["sessions"]:
            print(f"{s['session']:44} {s['label']:10} {s.get('family', ''):12} {s.get('exit')}")
        return 0
    manifest = record(Path(args.outdir), port=args.port, normal_seconds=args.normal_seconds, users=args.users,
                      tools=tools, tool_seconds=args.tool_seconds, rounds=args.rounds)
    for s in manifest["sessions"]:
        print(f"{s['session']:32} {s['label']:10} {s.get('tool')}")
    return 0


def cmd_build(args) -> int:
    from antinex.pipeline.lab.build import FEATURES, PACKETS, build_full, training_ready

    record_dir = Path(args.outdir)
    full = build_full(record_dir, packets=args.packets)
    ready = training_ready(full, keep_payload=args.keep_payload)
    kept = PACKETS[args.packets](full).to_numpy()  # the loopback mode filters here, the netns mode per round
    dropped = int((~kept).sum()) + full.attrs.get("packets_left_out", 0)
    ready = ready[kept].reset_index(drop=True)
    del full
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ready.to_csv(out / "train.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    manifest = json.loads((record_dir / "manifest.json").read_text())
    counts = ready.groupby(["session", "label_name"]).size().reset_index(name="rows").to_dict("records")
    by = [c for c in ("label_name", "family", "client", "app") if c in ready]
    per_client = ready.groupby(by).size().reset_index(name="rows").to_dict("records")
    meta = {"features_to_process": list(FEATURES), "feature_to_predict": "label_value",
            "packets": args.packets, "packets_left_out": dropped,
            "rows": len(ready), "label_counts": ready["label_name"].value_counts().to_dict(),
            "sessions": counts, "per_client": per_client, "recording": manifest}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
    print(f"wrote {len(ready)} rows to {out / 'train.csv.gz'}: {meta['label_counts']}")
    if {"client", "family", "app"} <= set(ready.columns):
        from antinex.pipeline.lab.build import counts, plot_counts

        table = counts(ready)
        table.to_csv(out / "counts.csv")
        plot_counts(ready, out / "counts.png")
        print(table.to_string())
    if args.requests and manifest.get("mode") == "netns":
        from antinex.pipeline.lab.build import requests_frame, sample_per_session

        reqs = requests_frame(record_dir, progress=True, rules_holdout_clients=_csv_list(args.rules_holdout_clients))
        meta["rules_profile"] = reqs.attrs["rules_profile"]
        (out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        if args.max_per_session:
            reqs = sample_per_session(reqs, args.max_per_session)
        reqs.to_csv(out / "requests.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
        print(f"wrote {len(reqs)} requests to {out / 'requests.csv.gz'}: "
              f"{reqs['label_name'].value_counts().to_dict()}")
    agent_csvs = sorted((record_dir / "agent").glob("*.csv"))
    if agent_csvs and manifest.get("mode") == "netns":
        # what the pipeline's own agents recorded, through /mlprepare/'s function, labelled by address
        from antinex.pipeline.prepare import prepare_dataset

        attacker = [ip for ip, v in manifest["addresses"].items() if v["role"] == "attacker"]
        prepared = prepare_dataset(agent_csvs, out / "fulldata_netns.csv", out / "cleaned_netns.csv",
                                   label_rules={"attack_ips": attacker}, meta_suffix="netns_metadata.json")
        print(f"wrote {out / 'fulldata_netns.csv'} and {out / 'cleaned_netns.csv'} (the pipeline agents' rows, "
              f"/mlprepare/ labels by address): {prepared['label_counts']}")
    return 0


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _bodies(specs: list[str] | None) -> dict[str, dict] | None:
    """``NAME=request.json`` options: the detectors (request bodies) to compare; the first is "the shipped"."""
    if not specs:
        return None
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--detector {spec!r}: write NAME=path/to/request.json")
        try:
            out[name] = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"--detector {name}: cannot read {path}: {exc}") from None
    return out


def cmd_report(args) -> int:
    from antinex.pipeline.lab.report import evaluate

    try:
        seeds = tuple(int(x) for x in _csv_list(args.seeds))
        levels = tuple(int(x) for x in _csv_list(args.crs))
    except ValueError:
        raise ValueError("--seeds and --crs take comma-separated whole numbers") from None
    evaluate(Path(args.out), requests=Path(args.requests) if args.requests else None,
             packets=Path(args.packets) if args.packets else None,
             holdout_clients=_csv_list(args.holdout_clients), seeds=seeds, epochs=args.epochs,
             request_bodies=_bodies(args.detector), packet_bodies=_bodies(args.packet_detector),
             crs_levels=levels, crs_allowed_methods=tuple(args.crs_allowed_methods.split()),
             mutations=_csv_list(args.mutations), families=_csv_list(args.families) or None,
             zap_dir=Path(args.zap) if args.zap else None,
             recording=Path(args.recording) if args.recording else None,
             escalate=(args.escalate_after, args.escalate_window))
    print((Path(args.out) / "report.md").read_text())
    return 0


def cmd_sample(args) -> int:
    import shutil

    import pandas as pd

    from antinex.pipeline.lab.build import sample_blocks

    src, out = Path(args.dataset), Path(args.out)
    if args.attack_rows < 1 or args.benign_rows < 1:
        raise ValueError("--attack-rows and --benign-rows: at least 1 row per session")
    names = [n for n in ("requests.csv.gz", "train.csv.gz") if (src / n).is_file()]
    if not names:
        raise ValueError(f"{src}: no requests.csv.gz or train.csv.gz (a directory antinex-lab build wrote)")
    if out.resolve() == src.resolve():
        raise ValueError(f"-o {out}: the sample must not overwrite the dataset it is drawn from")
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        df = pd.read_csv(src / name, low_memory=False)
        missing = {"session", "label_value"} - set(df.columns)
        if missing:
            raise ValueError(f"{src / name}: no {', '.join(sorted(missing))} column (not an antinex-lab dataset)")
        part = sample_blocks(df, args.attack_rows, args.benign_rows, args.seed)
        part.to_csv(out / name, index=False, compression="gzip")
        print(f"{name}: {len(part):,} of {len(df):,} rows, {part['session'].nunique():,} sessions")
    if (src / "metadata.json").is_file():  # the rules' profile record travels with the rows
        shutil.copy(src / "metadata.json", out / "metadata.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-lab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="record labelled sessions (root)")
    r.add_argument("outdir")
    r.add_argument("--port", type=int, default=18080)
    r.add_argument("--normal-seconds", type=float, default=90)
    r.add_argument("--users", type=int, default=6)
    r.add_argument("--tools", default="all",
                   help="comma-separated tools or groups: all, classic (the first lab's eight), a family "
                        "(sqli, sqli-tamper, xss, traversal, cmdi, discovery, scanner, brute-force, slow-dos)")
    r.add_argument("--tool-seconds", type=float, default=30)
    r.add_argument("--rounds", type=int, default=1)
    r.add_argument("--netns", action="store_true",
                   help="target, clients and attacker in their own network namespaces (labels by address)")
    r.add_argument("--clients", type=int, default=2, help="client namespaces (--netns)")
    r.add_argument("--frameworks", default="wsgi,flask,drf", help="the notes app's front ends (--netns)")
    r.add_argument("--apps", default="all", help="target apps: notes, spa, forms (--netns)")
    r.add_argument("--client-kinds", default="all",
                   help="benign clients, one namespace each: browser, curl, wget, httpie, python-requests, "
                        "api-client; all or none (--netns)")
    r.add_argument("--attackers", type=int, default=1,
                   help="attacker namespaces running tools side by side, one tool at a time each (--netns)")
    r.add_argument("--seed", type=int, default=0, help="seed of the benign clients' choices (--netns)")
    r.add_argument("--prefix", default="anx",
                   help="namespace name prefix (two recordings at once need two prefixes; --netns)")
    r.add_argument("--no-agents", action="store_true",
                   help="no pipeline capture agent and subscriber beside tcpdump (--netns)")
    r.set_defaults(func=cmd_record)
    rep = sub.add_parser("report", help="leave each attack family out, test on it and on unseen clients")
    rep.add_argument("-o", "--out", required=True, help="directory for report.md, report.json and plots")
    rep.add_argument("--requests", help="request-level dataset (antinex-lab build writes requests.csv.gz)")
    rep.add_argument("--packets", help="packet-level dataset (antinex-lab build writes train.csv.gz)")
    rep.add_argument("--holdout-clients", default="curl,httpie,browser",
                     help="benign client kinds never trained on: every fold's benign test rows")
    rep.add_argument("--seeds", default="7,1,2,3,42", help="train every detector once per seed")
    rep.add_argument("--epochs", type=int, help="override the detectors' epochs")
    rep.add_argument("--detector", action="append", metavar="NAME=request.json",
                     help="a request-level detector to compare (repeatable; the first is the shipped one; "
                          "default: the shipped request)")
    rep.add_argument("--packet-detector", action="append", metavar="NAME=request.json",
                     help="a packet-level detector (repeatable; default: the shipped per-packet request, "
                          "request-packets.json)")
    rep.add_argument("--crs", default="", help="ModSecurity CRS paranoia levels to replay the requests to, "
                                               "e.g. 1,2,3,4 (needs apache2 and modsecurity-crs)")
    rep.add_argument("--crs-allowed-methods", default="", metavar="'GET HEAD POST ...'",
                     help="also replay at paranoia level 1 with CRS's tx.allowed_methods set to these methods "
                          "(crs-pl1-tuned: a CRS configured for an API that uses PUT, PATCH, DELETE)")
    rep.add_argument("--mutations", default="percent,double,case,whitespace,all",
                     help="rewrite held-out attack requests this way and score them again ('' for none)")
    rep.add_argument("--families", default="", help="only these held-out families (default: all)")
    rep.add_argument("--zap", help="directory of the public AntiNex network-pipeline captures (packets)")
    rep.add_argument("--recording", help="the namespace recording the datasets came from: measure the timing and "
                                         "window rules per connection and per source on it")
    rep.add_argument("--escalate-after", type=int, default=None, metavar="N",
                     help="the shipped detector's source escalation: after N attack verdicts of a session "
                          "(default: ANTINEX_ESCALATE_AFTER), 0: off")
    rep.add_argument("--escalate-window", type=float, default=None, metavar="SECONDS",
                     help="its window (default: ANTINEX_ESCALATE_WINDOW)")
    rep.set_defaults(func=cmd_report)
    sm = sub.add_parser("sample", help="an evaluation sample of a dataset: one block of consecutive requests "
                                       "per session")
    sm.add_argument("dataset", help="directory antinex-lab build wrote (requests.csv.gz, train.csv.gz)")
    sm.add_argument("-o", "--out", required=True, help="directory for the sampled files")
    sm.add_argument("--attack-rows", type=int, default=80, help="rows per attack session (default 80)")
    sm.add_argument("--benign-rows", type=int, default=300, help="rows per benign session (default 300)")
    sm.add_argument("--seed", type=int, default=1, help="seed of the blocks' starts (default 1)")
    sm.set_defaults(func=cmd_sample)
    b = sub.add_parser("build", help="recorded sessions to a training-ready dataset")
    b.add_argument("outdir")
    b.add_argument("-o", "--out", required=True)
    b.add_argument("--packets", choices=("requests", "payload", "all"), default="requests",
                   help="which packets become rows: HTTP requests (default), any payload, or all")
    b.add_argument("--keep-payload", action="store_true",
                   help="keep raw_load (the payload as hex) in train.csv.gz: the per-packet text baseline reads it")
    b.add_argument("--no-requests", dest="requests", action="store_false",
                   help="skip requests.csv.gz, one row per reassembled HTTP request (namespace recordings)")
    b.add_argument("--rules-holdout-clients", default="curl,httpie,browser",
                   help="benign client kinds the timing and window rules' profile is NOT fitted on (the report's "
                        "unseen clients; rule_flag in requests.csv.gz)")
    b.add_argument("--max-per-session", type=int, default=0, metavar="N",
                   help="keep at most N random requests of each session in requests.csv.gz (default: all)")
    b.set_defaults(func=cmd_build)
    from antinex.pipeline.lab.crs_report import add_parser as add_crs_parser

    add_crs_parser(sub)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (PermissionError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"antinex-lab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
