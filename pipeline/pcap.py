"""Offline pcap ingest (no root): from a capture file to verdicts, features or the live queue.

    antinex-pcap predict capture.pcap [--model NAME] [--store DIR] [--eve OUT] [--json] [--all]
    antinex-pcap to-csv capture.pcap -o rows.csv [--kind packets|requests|flows] [--mode default|v1]
    antinex-pcap profile benign.pcap [more.pcap ...] (--model NAME | -o profile.json) [--margin 3]
    antinex-pcap replay capture.pcap [--broker URL]

predict reassembles every HTTP request of the capture, judges each with
the stored request model (default: the quick start's detector in the
default store), judges every flow and source with the timing and window
rules of the model's flow profile, prints a table of the attacks found and
a summary, and writes the alerts as Suricata EVE JSON lines (--eve). It
exits 0 whatever it finds.

to-csv writes one row per packet (the flattened columns plus the payload
features the shipped detector reads), per request or per flow; it creates
the output file's directory when it is missing. profile fits the limits
of the timing and window rules on benign traffic and stores them beside a
model. replay publishes the packets with their capture times, as a live
capture agent does.

A missing, unreadable, cut-short or non-Ethernet capture, a capture
without HTTP, a model name the store does not hold, or an output that
cannot be written is one error line and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Iterator

from antinex.pipeline.capture_file import CaptureFileError, check_capture, describe_open_error, timed_frames
from antinex.pipeline.flatten import MODES, packet_to_row, rows_to_frame
from antinex.pipeline.injection import KINDS as SIGNATURE_KINDS
from antinex.pipeline.injection import DEFAULT_KINDS, VERDICT_NAMES, InjectionSignatures, from_settings

_capture_error = describe_open_error  # the former name, kept for callers
# TensorFlow's start-up chatter would break the one-line errors and --json on stdout's neighbour;
# the stored dense models run on numpy, so oneDNN's kernels are never used here
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
EXIT_ERROR = 2
SCORE_BATCH = 2048  # requests scored per model call
KINDS = ("packets", "requests", "flows")
REQUEST_VERDICTS = ("request-attack", *VERDICT_NAMES.values())  # the verdicts about one request


def signature_kinds_arg(text: str) -> tuple[str, ...]:
    """``--signatures``: comma-separated kinds of :mod:`pipeline.injection`, or ``none``."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    wrong = [k for k in kinds if k not in (*SIGNATURE_KINDS, "none")]
    if wrong or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(SIGNATURE_KINDS)} (comma-separated), "
                                         f"or none")
    return tuple(k for k in kinds if k != "none")


def escalation_arg(args):
    """``--escalate-after``/``--escalate-window`` over their settings: a SourceEscalation, or None when off."""
    from antinex.pipeline.escalation import SourceEscalation
    from antinex.pipeline.settings import escalation

    after, window = escalation()
    after = after if args.escalate_after is None else args.escalate_after
    window = window if args.escalate_window is None else args.escalate_window
    if after < 0:
        raise ValueError(f"--escalate-after: {after} is negative (0 turns escalation off)")
    if window <= 0:
        raise ValueError(f"--escalate-window: {window:g} is not a positive number of seconds")
    return SourceEscalation(after, window) if after else None


def read_packets(path: str | Path) -> Iterator:
    """scapy packets of a pcap/pcapng file, streamed (never the whole file in memory)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import PcapReader

    try:
        reader = PcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        raise describe_open_error(path, exc) from None
    with reader:
        yield from reader


def prepare_output(out: str | Path) -> Path:
    """``out`` ready to write: its directory created; ValueError when it cannot be a file."""
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory (name a file)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a parent is a regular file, or no permission
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a directory" if blocker else exc.strerror or str(exc)
        raise ValueError(f"cannot create the directory for {out}: {reason}") from None
    return path


def timed_rows(path: str | Path, *, allow_truncated: bool = False) -> Iterator[tuple[float, dict]]:
    """``(ts, row)`` for every packet of an Ethernet capture: the struct fast path, scapy for rare frames."""
    from antinex.pipeline.fastparse import frames_to_rows

    frames = timed_frames(path, allow_truncated=allow_truncated)
    times: list[float] = []

    def frames_only():
        for ts, frame in frames:
            times.append(ts)
            yield frame

    for row in frames_to_rows(frames_only()):
        yield times.pop(), row


def pcap_rows(path: str | Path, *, mode: str = "default", allow_truncated: bool = False) -> list[dict]:
    """Flat rows (without idx) of every packet that has an Ethernet layer.

    The default mode uses the struct fast path (pipeline.fastparse); v1 mode
    reproduces the original through scapy.
    """
    from scapy.layers.l2 import Ether

    if mode == "default":
        return [row for _, row in timed_rows(path, allow_truncated=allow_truncated)]
    rows = []
    for pkt in read_packets(path):
        if Ether not in pkt:
            continue  # the original skipped packets without an Ethernet layer
        rows.append(packet_to_row(pkt, mode=mode))
    return rows


# -- analysis -------------------------------------------------------------------------------
class Analysis:
    """What one pass of the analyzer over a capture found."""

    def __init__(self) -> None:
        self.verdicts: list = []  # every verdict: requests (benign too), flows, sources
        self.requests: list = []
        self.flows: list = []  # final snapshots, when asked for
        self.source_features: dict[int, dict] = {}  # id(request) -> its source's window when it came
        self.packets = self.tcp_packets = self.flows_total = self.http_flows = 0
        self.first: float | None = None
        self.last: float | None = None

    @property
    def attacks(self) -> list:
        return [v for v in self.verdicts if v.attack]


def analyze_capture(path: str | Path, *, profile=None, scorer=None, signatures=None, escalation=None,
                    allow_truncated: bool = False, keep_requests: bool = False, keep_flows: bool = False,
                    progress: bool = False, observer=None) -> Analysis:
    """Run the analyzer over a capture: rule verdicts, and request verdicts when ``scorer`` (a request detector)
    or ``signatures`` (:class:`~pipeline.injection.InjectionSignatures`) is given, escalated per source by
    ``escalation`` (:class:`~pipeline.escalation.SourceEscalation`) when given."""
    from antinex.pipeline.analyzer import Analyzer

    result = Analysis()
    windows: dict[int, dict] = result.source_features

    def remember(req, features):
        windows[id(req)] = features

    analyzer = Analyzer(profile, observer=observer,
                        on_flow_end=(lambda f: result.flows.append(f.snapshot())) if keep_flows else None,
                        on_request=remember if keep_requests else None)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="packets", unit="pkt", file=sys.stderr, mininterval=0.5)

    def harvest() -> None:
        requests = analyzer.take_requests()
        if keep_requests:
            result.requests += requests
        rules = analyzer.take_verdicts()
        result.verdicts += rules
        if escalation is not None:
            escalation.note(rules)
        result.verdicts += analyzer.judge(requests, scorer, signatures, escalation)

    for ts, row in timed_rows(path, allow_truncated=allow_truncated):
        result.first = ts if result.first is None else result.first
        result.last = ts
        analyzer.feed(ts, row)
        if analyzer.waiting >= SCORE_BATCH:
            harvest()
        if bar is not None:
            bar.update()
    analyzer.finish()
    harvest()
    if bar is not None:
        bar.close()
    result.packets, result.tcp_packets = analyzer.packets, analyzer.tcp_packets
    result.flows_total, result.http_flows = analyzer.flows_total, analyzer.http_flows
    return result


def no_http(path, result: Analysis) -> ValueError:
    return ValueError(
        f"{path} holds no HTTP traffic: {result.packets} packets, {result.flows_total} TCP connections, none "
        f"carrying an HTTP/1.x request (AntiNex reads clear-text HTTP: capture in front of the TLS endpoint, "
        f"e.g. tcpdump -i eth0 -w FILE 'tcp port 80')")


def load_detector(model: str, store_dir: str, profile_path: str | None = None):
    """(request scorer, flow profile) for a stored model; ValueError with a clear line when there is none."""
    from antinex.pipeline.profile import load_profile, profile_for
    from antinex.pipeline.request_scoring import ModelRequestScorer
    from antinex.utils.model_store import DamagedModelError, ModelStore, ModelStoreError

    root = Path(store_dir)
    if not root.is_dir() or not ModelStore(root).exists(model):
        raise ValueError(f"no stored model named {model!r} in the model store {root.resolve()} "
                         f"(train the default one with: antinex quickstart; another store: --store DIR or "
                         f"ANTINEX_MODEL_STORE; another model: --model NAME)")
    try:
        trained = ModelStore(root).load(model)
    except DamagedModelError as exc:
        raise ValueError(str(exc)) from None
    except ModelStoreError as exc:
        raise ValueError(f"model {model!r}: {exc}") from None
    scorer = ModelRequestScorer(trained)
    profile = load_profile(profile_path) if profile_path else profile_for(trained)
    return scorer, profile


# -- predict output -----------------------------------------------------------------------------
def _endpoint(ip, port) -> str:
    if ip is None:
        return "–"
    return f"[{ip}]:{port}" if ":" in str(ip) else f"{ip}:{port}"


def summary(path, result: Analysis, scorer, profile, alerts, signatures=None, escalation=None) -> dict:
    from collections import Counter

    requests = [v for v in result.verdicts if v.kind == "request"]
    return {
        "file": str(path), "packets": result.packets, "tcp_packets": result.tcp_packets,
        "flows": result.flows_total, "http_flows": result.http_flows,
        "first": result.first, "last": result.last,
        "requests": len(requests), "requests_attack": sum(v.attack for v in requests),
        "model": scorer.name if scorer else None,
        "signatures": f"{','.join(signatures.kinds)} ({signatures.name})" if signatures else None,
        "escalation": f"after {escalation.after} in {escalation.window:g} s" if escalation else None,
        "profile": f"{profile.name} ({profile.origin})" if profile else None,
        "verdicts": dict(Counter(v.name for v in result.verdicts if v.attack)),
        "flows_flagged": len({v.flow_id for v in result.attacks}),
        "alerts": alerts.written, "alerts_duplicate": alerts.duplicates, "alerts_suppressed": alerts.suppressed,
    }


def print_table(result: Analysis, info: dict, *, show_all: bool, limit: int, eve: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    # a pipe or a file gets wide lines, not an 80-column wrap
    console = Console(width=None if sys.stdout.isatty() else 220)
    shown = sorted((v for v in result.verdicts if show_all or v.attack), key=lambda v: v.ts)
    table = Table(title=f"Verdicts: {info['file']}" + ("" if show_all else " (attacks)"), show_lines=False)
    for col, just in (("source", "left"), ("destination", "left"), ("request", "left"), ("verdict", "left"),
                      ("score", "right"), ("reason", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for v in shown[:limit]:
        line = v.request_line
        table.add_row(_endpoint(v.src_ip, v.src_port), _endpoint(v.dest_ip, v.dest_port),
                      line[:80] + ("…" if len(line) > 80 else ""), v.name if v.attack else "benign",
                      f"{v.score:.2f}", v.reason)
    if shown:
        console.print(table)
        if len(shown) > limit:
            console.print(f"… {len(shown) - limit:,} more rows not shown (--limit N, or --json for all)")
    else:
        console.print("no attack found")
    console.print(f"[bold]Summary[/bold]: {info['packets']:,} packets, {info['flows']:,} TCP connections "
                  f"({info['http_flows']:,} carrying HTTP), {info['requests']:,} HTTP requests")
    sig = f" and the injection signatures {info['signatures']}" if info["signatures"] else ""
    console.print(f"requests judged by {info['model']}{sig}: {info['requests_attack']:,} attack, "
                  f"{info['requests'] - info['requests_attack']:,} benign"
                  + "".join(f" ({n:,} {k})" for k, n in sorted(info["verdicts"].items()) if k in REQUEST_VERDICTS))
    rules = {k: n for k, n in info["verdicts"].items() if k not in REQUEST_VERDICTS}
    console.print(f"flows and sources judged by the flow profile {info['profile']}: "
                  + (", ".join(f"{k} {n:,}" for k, n in sorted(rules.items())) if rules else "nothing flagged"))
    where = f" to {eve}" if eve else " (pass --eve FILE to write them as Suricata EVE JSON)"
    console.print(f"alerts: {info['alerts']:,}{where}; {info['flows_flagged']:,} connections flagged; "
                  f"{info['alerts_duplicate']:,} repeats in the same connection folded, "
                  f"{info['alerts_suppressed']:,} suppressed")


def cmd_predict(args) -> int:
    from antinex.pipeline.eve import AlertWriter, EveFile
    from antinex.pipeline.suppression import Suppression

    check_capture(args.file)
    eve_path = prepare_output(args.eve) if args.eve else None
    suppression = Suppression.load(args.suppress) if args.suppress else None
    if args.profile:
        from antinex.pipeline.profile import load_profile

        load_profile(args.profile)  # a bad profile file fails before the model's (slow) load
    signatures = InjectionSignatures(args.signatures) if args.signatures is not None else from_settings()
    escalation = escalation_arg(args)
    scorer, profile = load_detector(args.model, args.store, args.profile)
    result = analyze_capture(args.file, profile=profile, scorer=scorer, signatures=signatures, escalation=escalation,
                             allow_truncated=args.allow_truncated,
                             progress=not args.json and sys.stderr.isatty())
    if not result.http_flows:
        raise no_http(args.file, result)
    if eve_path is not None:
        eve_path.write_text("")  # one run, one file: predict rewrites it
    sinks = [EveFile(eve_path, max_bytes=0)] if eve_path else []
    writer = AlertWriter(sinks, suppression)
    try:
        writer.write(sorted(result.attacks, key=lambda v: v.ts))
    finally:
        writer.close()
    info = summary(args.file, result, scorer, profile, writer, signatures, escalation)
    if args.json:
        shown = [v for v in result.verdicts if args.all or v.attack or v.kind == "request"]
        print(json.dumps({"summary": info, "verdicts": [v.to_dict() for v in sorted(shown, key=lambda v: v.ts)]},
                         indent=2, default=str))
    else:
        print_table(result, info, show_all=args.all, limit=args.limit, eve=args.eve)
    return 0


# -- to-csv ---------------------------------------------------------------------------------------
def pcap_to_csv(path: str | Path, out: str | Path, *, mode: str = "default", kind: str = "packets",
                allow_truncated: bool = False) -> int:
    """Write a capture's rows to ``out`` (its directory created); returns the row count.

    ``packets``: the flattened columns (and, in the default mode, the
    payload features); ``requests``: one row per reassembled request
    (:func:`request_rows`); ``flows``: one row per TCP connection, its final
    snapshot. The input and the output are checked before the capture is
    parsed, so a wrong path fails at once, not after a long read.
    """
    import pandas as pd

    check_capture(path)
    target = prepare_output(out)
    if kind == "packets":
        df = rows_to_frame(pcap_rows(path, mode=mode, allow_truncated=allow_truncated), mode=mode)
        if mode == "default":
            from antinex.pipeline.payload_features import add_payload_features

            df = add_payload_features(df)
    elif mode != "default":
        raise ValueError(f"--kind {kind} reads the default-mode rows; --mode {mode} is for packets")
    else:
        result = analyze_capture(path, allow_truncated=allow_truncated, keep_requests=kind == "requests",
                                 keep_flows=kind == "flows")
        df = pd.DataFrame(request_rows(result.requests, result.source_features) if kind == "requests"
                          else result.flows)
    try:
        df.to_csv(target, index=False)
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(df)


def request_rows(requests, source_features: dict[int, dict] | None = None) -> list[dict]:
    """One row per request: where and when it travelled, its answer, every request-level column and,
    when known, its source's window at that moment (``src_*``: ``Analysis.source_features``)."""
    from antinex.pipeline.request_scoring import request_row
    from antinex.pipeline.source_windows import FEATURES

    rows = []
    for r in requests:
        row = {"flow_id": r.flow_id, "src_ip": r.src_ip, "src_port": r.src_port, "dest_ip": r.dst_ip,
               "dest_port": r.dst_port, "ts": r.ts, "ts_head": r.ts_head, "ts_end": r.ts_end,
               "method": r.method, "target": r.target,
               "response_status": -1 if r.response_status is None else r.response_status}
        row.update(request_row(r))
        if source_features is not None:
            row.update(source_features.get(id(r)) or dict.fromkeys(FEATURES, 0.0))
        rows.append(row)
    return rows


# -- profile ----------------------------------------------------------------------------------------
def cmd_profile(args) -> int:
    from antinex.pipeline.profile import ARTIFACT, Observer, Profile

    if not args.model and not args.out:
        raise ValueError("say where the profile goes: --model NAME (stored beside the model) or -o FILE")
    for f in args.files:
        check_capture(f)
    out = prepare_output(args.out) if args.out else None
    observer = Observer()
    packets = http = 0
    for f in args.files:
        result = analyze_capture(f, observer=observer, allow_truncated=args.allow_truncated)
        packets, http = packets + result.packets, http + result.http_flows
    if not http:
        raise ValueError(f"{', '.join(args.files)}: no HTTP traffic to learn from")
    profile = Profile.from_observed(args.name or "benign", observer.observed, margin=args.margin,
                                    fitted_on={"captures": [Path(f).name for f in args.files], "packets": packets,
                                               "flows": observer.flows, "requests": observer.requests})
    if out is not None:
        out.write_text(json.dumps(profile.to_json(), indent=2) + "\n")
        print(f"wrote the flow profile to {out}")
    if args.model:
        from antinex.utils.model_store import ModelStore, ModelStoreError

        store = ModelStore(args.store)
        if not store.exists(args.model):
            raise ValueError(f"no stored model named {args.model!r} in the model store {store.root}")
        try:
            trained = store.load(args.model)
            trained.artifacts[ARTIFACT] = profile.to_json()
            ref = store.save(trained, args.model)
        except ModelStoreError as exc:
            raise ValueError(str(exc)) from None
        print(f"stored the flow profile beside {args.model} ({ref['checksum'][:12]}) in {store.root}")
    for name, value in profile.limits.items():
        print(f"  {name}: {profile.explain(name)}")
    return 0


# -- replay -----------------------------------------------------------------------------------------
def cmd_replay(args) -> int:
    from antinex.pipeline.publisher import PacketPublisher

    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    from antinex.pipeline import settings

    check_capture(args.file)  # before connecting: a wrong path is not a broker problem
    url = args.broker or settings.broker_url()
    n = 0
    try:
        with PacketPublisher(url) as pub:
            for ts, frame in timed_frames(args.file, allow_truncated=args.allow_truncated):
                n += pub.publish_frame(frame, ts, source=args.source)
    except (OperationalError, RedisError, OSError) as exc:
        raise ValueError(f"cannot publish to the broker {url}: {exc} ({n} packets published)") from None
    except CaptureFileError as exc:
        raise CaptureFileError(f"{exc} ({n} packets were published before the cut)") from None
    print(f"published {n} packets")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from antinex.utils.cli import STORE_ENV, default_model_name, default_store

    ap = argparse.ArgumentParser(prog="antinex-pcap", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    truncated = dict(action="store_true", help="use the packets before the cut of a truncated capture")

    p = sub.add_parser("predict", help="verdicts per request, flow and source, and EVE alerts")
    p.add_argument("file", help="pcap or pcapng capture file (Ethernet)")
    p.add_argument("--model", default=default_model_name(),
                   help="stored request model (default: the quick start's, %(default)s)")
    p.add_argument("--store", default=default_store(),
                   help=f"model store directory (default: ${STORE_ENV}, now {default_store()})")
    p.add_argument("--profile", help="flow profile JSON (default: the one stored beside the model, else the "
                                     "shipped one)")
    p.add_argument("--eve", metavar="OUT", help="write the alerts as Suricata EVE JSON lines to OUT")
    p.add_argument("--suppress", metavar="FILE", help="suppression list (docs/verdicts.md)")
    p.add_argument("--signatures", type=signature_kinds_arg, default=None, metavar="KINDS",
                   help=f"injection signatures checked beside the model, comma-separated: {', '.join(SIGNATURE_KINDS)} "
                        f"(default: ANTINEX_SIGNATURES, {','.join(DEFAULT_KINDS)}), or none")
    p.add_argument("--escalate-after", type=int, default=None, metavar="N",
                   help="attack requests from one source within the window after which its next requests are "
                        "alerts too (source-escalation; default: ANTINEX_ESCALATE_AFTER, 3), 0: off")
    p.add_argument("--escalate-window", type=float, default=None, metavar="SECONDS",
                   help="seconds the escalation counts over (default: ANTINEX_ESCALATE_WINDOW, 60)")
    p.add_argument("--json", action="store_true", help="print the summary and verdicts as JSON")
    p.add_argument("--all", action="store_true", help="list benign request verdicts too")
    p.add_argument("--limit", type=int, default=50, help="rows of the table (default 50)")
    p.add_argument("--allow-truncated", **truncated)
    p.set_defaults(func=cmd_predict)

    c = sub.add_parser("to-csv", help="flatten a capture file to CSV: packets, requests or flows")
    c.add_argument("file", help="pcap or pcapng capture file")
    c.add_argument("-o", "--out", required=True, help="CSV file to write (its directory is created if missing)")
    c.add_argument("--kind", choices=KINDS, default="packets",
                   help="one row per packet (default), per reassembled HTTP request, or per TCP flow")
    c.add_argument("--mode", choices=MODES, default="default")
    c.add_argument("--allow-truncated", **truncated)
    c.set_defaults(func=lambda a: _to_csv(a))

    f = sub.add_parser("profile", help="fit the flow profile (timing and window limits) on benign captures")
    f.add_argument("files", nargs="+", help="captures of benign traffic only")
    f.add_argument("--model", help="store the profile beside this model")
    f.add_argument("--store", default=default_store(), help="model store directory")
    f.add_argument("-o", "--out", help="also write the profile to this JSON file")
    f.add_argument("--name", help="the profile's name (default: benign)")
    f.add_argument("--margin", type=float, default=3.0, help="limits are the benign extremes times this (default 3)")
    f.add_argument("--allow-truncated", **truncated)
    f.set_defaults(func=cmd_profile)

    r = sub.add_parser("replay", help="publish a capture file's packets to NEW_PACKETS")
    r.add_argument("file", help="pcap or pcapng capture file")
    r.add_argument("--broker", default=None, help="FORWARD_BROKER_URL (default redis db 15)")
    r.add_argument("--source", default="pcap-replay")
    r.add_argument("--allow-truncated", **truncated)
    r.set_defaults(func=cmd_replay)
    return ap


def _to_csv(args) -> int:
    n = pcap_to_csv(args.file, args.out, mode=args.mode, kind=args.kind, allow_truncated=args.allow_truncated)
    print(f"wrote {n} rows to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # CaptureFileError, SuppressionError, ModelError are ValueErrors
        print(f"antinex-pcap: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("antinex-pcap: interrupted", file=sys.stderr)
        return 130


__all__ = ["CaptureFileError", "analyze_capture", "check_capture", "load_detector", "main", "pcap_rows",
           "pcap_to_csv", "read_packets", "request_rows", "timed_rows"]

if __name__ == "__main__":
    sys.exit(main())
