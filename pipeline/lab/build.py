"""Recorded sessions to a training-ready dataset (features + labels)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from antinex.pipeline.columns import ADDRESS_COLUMNS
from antinex.pipeline.payload_features import HEADER_FEATURES, PAYLOAD_FEATURES, add_payload_features
from antinex.pipeline.pcap import pcap_rows
from antinex.pipeline.flatten import rows_to_frame

LABEL_VALUES = {"not_attack": 0, "attack": 1}
# what every row says about where it came from (never features): the session, the program that sent
# it (``client``: a client kind or an attack tool; ``tool`` as in the first lab), its attack family
# ("benign" for clients), the app and framework it went to, and the recording round
LABEL_COLUMNS = ("session", "tool", "client", "family", "app", "framework", "round")
FEATURES: tuple[str, ...] = HEADER_FEATURES + PAYLOAD_FEATURES


def session_frame(pcap: Path, label: str, session: str, tool: str, *, client: str | None = None,
                  family: str | None = None, app: str = "notes", framework: str = "wsgi") -> pd.DataFrame:
    """Every packet of one loopback session's pcap, labelled as the session."""
    df = rows_to_frame(pcap_rows(pcap))
    df = add_payload_features(df)
    df["label_name"] = label
    df["label_value"] = LABEL_VALUES[label]
    df["session"] = session
    df["tool"] = tool
    df["client"] = client or tool
    df["family"] = family or family_of({"label": label, "tool": tool})
    df["app"], df["framework"] = app, framework
    return df


def _timed_rows(pcap: Path) -> tuple[list[dict], list[float]]:
    from scapy.utils import RawPcapReader

    from antinex.pipeline.fastparse import frames_to_rows

    frames, times = [], []
    with RawPcapReader(str(pcap)) as reader:
        for frame, meta in reader:
            frames.append(frame)
            times.append(meta.sec + meta.usec / 1e6)
    return list(frames_to_rows(frames)), times


def family_of(session: dict) -> str:
    """A session's family: recorded in the manifest, or (older recordings) the tool's."""
    if session.get("family"):
        return session["family"]
    if session["label"] == "not_attack":
        return "benign"
    from antinex.pipeline.lab.tools import TOOLS

    tool = session.get("tool", "")
    tool = "slowhttptest-slowloris" if tool == "slowhttptest" else tool
    return TOOLS[tool].family if tool in TOOLS else "unknown"


def _ports(manifest: dict) -> dict[int, tuple[str, str]]:
    """{target port: (app, framework)} (older recordings: {framework: "ip:port"}, all the notes app)."""
    out = {}
    for name, t in manifest.get("targets", {}).items():
        if isinstance(t, dict):
            out[int(t["port"])] = (t["app"], t["framework"])
        else:
            out[int(str(t).rsplit(":", 1)[1])] = ("notes", name)
    return out


def _attribute(times: np.ndarray, windows: list[dict], grace: float) -> np.ndarray:
    """Index into ``windows`` (sorted by start, one host's sessions one after another) of the
    window holding each time (from 0.5 s before its start to ``grace`` s after its end), or -1."""
    if not windows:
        return np.full(len(times), -1)
    starts = np.array([w["started"] - 0.5 for w in windows])
    ends = np.array([w["ended"] + grace for w in windows])
    idx = np.searchsorted(starts, times, side="right") - 1
    ok = (idx >= 0) & (times <= ends[np.clip(idx, 0, None)])
    return np.where(ok, idx, -1)


def attribute(manifest: dict, address: str, times, grace: float = 2.0) -> list[dict | None]:
    """The manifest's session (a dict) that sent or received each of ``times`` (epoch seconds)
    at the peer ``address`` (a client's or an attacker's), or None outside every window.

    The same rule as the packet rows' (``netns_frame``), for rows made some
    other way, e.g. requests reassembled from a recording's pcaps: the
    session whose window on that host, from 0.5 s before its start to
    ``grace`` s after its end, holds the time.
    """
    peer = manifest["addresses"].get(address, {})
    host = peer.get("host")
    if peer.get("role") not in ("client", "attacker"):
        raise ValueError(f"address: {address!r} is no client or attacker of this recording")
    windows = sorted((s for s in manifest["sessions"] if s.get("host") == host), key=lambda s: s["started"])
    hit = _attribute(np.asarray(times, dtype=float), windows, grace)
    return [windows[k] if k >= 0 else None for k in hit]


PACKETS = {  # which packets become rows (``antinex-lab build --packets``)
    "requests": lambda df: pd.to_numeric(df["http_is_request"], errors="coerce").fillna(0) > 0,
    "payload": lambda df: pd.to_numeric(df["payload_len"], errors="coerce").fillna(0) > 0,
    "all": lambda df: pd.Series(True, index=df.index),
}


def netns_frame(record_dir: Path, manifest: dict, grace: float = 2.0, packets: str = "all") -> pd.DataFrame:
    """Rows of a namespace recording, labelled by address: the attackers' packets are attacks.

    Each attacker packet belongs to the session whose time window on that
    attacker host (plus ``grace`` seconds for late answers) holds it; each
    client packet to that client host's session of the round. ``client`` is
    the client kind or the tool, ``app`` and ``framework`` come from the
    target port. Packets between no known hosts are dropped, and so are
    those that ``packets`` (a key of ``PACKETS``) leaves out, round by round,
    so a long recording is built in the memory of its kept rows; ``attrs``
    ``["packets_left_out"]`` counts them.
    """
    roles = manifest["addresses"]
    ports = _ports(manifest)
    frames, left_out = [], 0
    for r, pcap in enumerate(manifest["pcaps"]):
        rows, times = _timed_rows(record_dir / pcap)
        if not rows:
            continue
        df = add_payload_features(rows_to_frame(rows))
        df["time"] = times
        src, dst = df.get("ip_src"), df.get("ip_dst")
        peer = [s if roles.get(s, {}).get("role") in ("client", "attacker") else d for s, d in zip(src, dst)]
        df["host"] = [roles.get(p, {}).get("host") for p in peer]
        df = df[df["host"].notna()].reset_index(drop=True)
        to_target = df["ip_dst"].map(lambda a: roles.get(a, {}).get("role") == "target")
        server_port = np.where(to_target, pd.to_numeric(df["tcp_dport"], errors="coerce"),
                               pd.to_numeric(df["tcp_sport"], errors="coerce"))
        df["app"] = [ports.get(int(p), ("other", ""))[0] if p == p else "other" for p in server_port]
        df["framework"] = [ports.get(int(p), ("", "other"))[1] if p == p else "other" for p in server_port]
        mine = [s for s in manifest["sessions"] if s["pcap"] == pcap]
        session = np.empty(len(df), dtype=object)
        tool, client, family = session.copy(), session.copy(), session.copy()
        label = np.where(df["host"].map(lambda h: h.startswith("attacker")), "attack", "not_attack")
        for host, idx in df.groupby("host").indices.items():
            if host.startswith("attacker"):
                windows = sorted((s for s in mine if s["label"] == "attack" and s.get("host", "attacker") == host),
                                 key=lambda s: s["started"])
                hit = _attribute(df["time"].to_numpy()[idx], windows, grace)
                session[idx] = [windows[k]["session"] if k >= 0 else "attacker-unattributed" for k in hit]
                tool[idx] = [windows[k]["tool"] if k >= 0 else "unknown" for k in hit]
                client[idx] = tool[idx]
                family[idx] = [family_of(windows[k]) if k >= 0 else "unknown" for k in hit]
            else:
                s = next((s for s in mine if s["label"] == "not_attack" and s["host"] == host), None)
                session[idx] = s["session"] if s else f"{host}-unknown"
                tool[idx] = s.get("tool", "simulated-users") if s else "unknown"
                client[idx] = (s.get("client") or s.get("tool", "simulated-users")) if s else "unknown"
                family[idx] = "benign"
        df["session"], df["tool"], df["client"], df["family"], df["label_name"] = session, tool, client, family, label
        df["label_value"] = df["label_name"].map(LABEL_VALUES)
        df["round"] = pcap
        df["round_index"] = r
        kept = PACKETS[packets](df)
        left_out += int((~kept).sum())
        frames.append(df[kept])
    if not frames:
        raise ValueError(f"no packets in {record_dir}")
    full = pd.concat(frames, ignore_index=True)
    full.attrs["packets_left_out"] = left_out
    return full


def build_full(record_dir: Path, packets: str = "all") -> pd.DataFrame:
    """Every packet (or those ``packets`` keeps) of every recorded session, all columns, with labels
    from the manifest."""
    manifest = json.loads((record_dir / "manifest.json").read_text())
    if manifest.get("mode") == "netns":
        full = netns_frame(record_dir, manifest, packets=packets)
        full["idx"] = range(len(full))
        return full
    frames = [session_frame(record_dir / s["pcap"], s["label"], s["session"], s["tool"], client=s.get("client"),
                            family=s.get("family"), app=s.get("app", "notes"), framework=s.get("framework", "wsgi"))
              for s in manifest["sessions"] if (record_dir / s["pcap"]).exists()]
    full = pd.concat(frames, ignore_index=True)
    full["idx"] = range(len(full))
    return full


def training_ready(full: pd.DataFrame, missing_value: float = -1.0, keep_payload: bool = False) -> pd.DataFrame:
    """Numeric features (no addresses, ports, ids, checksums) + labels + ``LABEL_COLUMNS`` for splits
    (+ ``raw_load``, the payload as hex, with ``keep_payload``: what the text baselines read)."""
    cols = [c for c in FEATURES if c in full.columns]
    out = full[cols].apply(pd.to_numeric, errors="coerce").fillna(missing_value)
    for c in FEATURES:
        if c not in out.columns:
            out[c] = missing_value
    out = out[list(FEATURES)]
    assert not set(out.columns) & ADDRESS_COLUMNS
    out["label_value"] = full["label_value"].to_numpy()
    out["label_name"] = full["label_name"].to_numpy()
    for col in LABEL_COLUMNS:
        if col in full:
            out[col] = full[col].to_numpy()
    if keep_payload and "raw_load" in full:
        out["raw_load"] = full["raw_load"].to_numpy()
    return out


def counts(ready: pd.DataFrame) -> pd.DataFrame:
    """Rows per family and client (tool or client kind), by app, with a total: the recording at a glance."""
    table = ready.pivot_table(index=["family", "client"], columns="app", values="label_value", aggfunc="size",
                              fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.sort_index()


def plot_counts(ready: pd.DataFrame, path: Path) -> None:
    """A horizontal bar chart of rows per client and tool, coloured by family (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = counts(ready)["total"].reset_index()
    families = sorted(table["family"].unique())
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(table) + 1.2))
    ax.barh(range(len(table)), table["total"], color=[colours[f] for f in table["family"]])
    ax.set_yticks(range(len(table)), table["client"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(left=1)
    ax.set_xlabel("rows (HTTP request packets)")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colours[f], label=f) for f in families], fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------
# one row per HTTP request (TCP reassembly of the recording's pcaps)
# --------------------------------------------------------------------------
def rule_flags(requests, verdicts, window: float = 60.0) -> tuple[list[int], list[str], list[float]]:
    """Per request: 1 when a timing or window rule had flagged its connection, or its source within the last
    ``window`` seconds, by the time the request was answered (unanswered: by its last byte), and the rule.

    So a brute-force attempt counts once its source is past the limit, not retroactively, a scanner's next
    requests count while its source stays flagged, and a slow request whose head never finishes counts once
    the rule fired while it was open. Third list: when the rule fired (NaN: not flagged).
    """
    import bisect

    first: dict[int, tuple[float, str]] = {}
    by_source: dict[str, list[tuple[float, str]]] = {}
    for v in verdicts:
        if v.kind == "request" or not v.attack:
            continue
        if v.flow_id is not None and (v.flow_id not in first or v.ts < first[v.flow_id][0]):
            first[v.flow_id] = (v.ts, v.name)
        if v.kind == "source" and v.src_ip:
            by_source.setdefault(v.src_ip, []).append((v.ts, v.name))
    for hits in by_source.values():
        hits.sort()
    flags, names, times = [], [], []
    for r in requests:
        by = r.response_ts or r.ts_end or r.ts or 0.0
        hit = first.get(r.flow_id)
        name, when = (hit[1], hit[0]) if hit is not None and hit[0] <= by + 1e-6 else ("", float("nan"))
        if not name and r.src_ip in by_source:
            hits = by_source[r.src_ip]
            k = bisect.bisect_right(hits, (by + 1e-6, "~")) - 1
            if k >= 0 and by - hits[k][0] <= window:
                name, when = hits[k][1], hits[k][0]
        flags.append(int(bool(name)))
        names.append(name)
        times.append(when)
    return flags, names, times


RULES_HOLDOUT_CLIENTS = ("curl", "httpie", "browser")  # antinex-lab report's default unseen clients


def requests_frame(record_dir: Path, *, grace: float = 2.0, progress: bool = False, profile=None,
                   rules_holdout_clients: tuple[str, ...] = RULES_HOLDOUT_CLIENTS) -> pd.DataFrame:
    """Every HTTP request of a namespace recording, reassembled by the analyzer that ``antinex-pcap`` and
    the subscriber run (so a request's body travels with it, a slow client's unfinished head is a row too),
    labelled by its sender's address like the packet rows, with its session attributed by time.

    Columns: ``http_request`` (the bytes, :func:`~antinex.pipeline.http_message.request_to_text`), the
    request-level columns of :func:`~antinex.pipeline.request_scoring.request_row` (payload features of the
    whole request, ``req_*`` timing), the sender's source window at that moment (``src_*``), the answer's
    status, ``ts``, and the labels (``label_value``, ``label_name`` and ``LABEL_COLUMNS``). No addresses or
    ports: they name the recording's hosts, not what a request does.

    ``rule_flag``/``rule`` (:func:`rule_flags`): the verdicts of the timing and window rules with
    ``profile``; by default a profile fitted on this recording's benign clients except
    ``rules_holdout_clients`` (benign traffic only: no attack teaches the rules anything, and the clients an
    evaluation holds out stay unseen; ``attrs["rules_profile"]`` says what it was fitted on).
    """
    from antinex.pipeline.lab.flow_eval import fit_profile, training_clients
    from antinex.pipeline.pcap import analyze_capture, request_rows

    manifest = json.loads((record_dir / "manifest.json").read_text())
    if manifest.get("mode") != "netns":
        raise ValueError(f"{record_dir}: request rows need a namespace recording (antinex-lab record --netns)")
    roles, ports = manifest["addresses"], _ports(manifest)
    if profile is None:
        clients = training_clients(manifest, rules_holdout_clients)
        profile = fit_profile(record_dir, manifest, list(range(len(manifest["pcaps"]))), clients)
    frames = []
    for r, pcap in enumerate(manifest["pcaps"]):
        result = analyze_capture(record_dir / pcap, profile=profile, keep_requests=True, progress=progress)
        df = pd.DataFrame.from_records(request_rows(result.requests, result.source_features))
        if df.empty:
            continue
        df["rule_flag"], df["rule"], df["rule_ts"] = rule_flags(result.requests, result.verdicts)
        df = df[df["src_ip"].map(lambda a: roles.get(a, {}).get("role") in ("client", "attacker"))]
        df = df.reset_index(drop=True)
        session, tool, client, family = (np.empty(len(df), dtype=object) for _ in range(4))
        ts, rule_ts = df["ts"].to_numpy(), df["rule_ts"].to_numpy()
        for address, idx in df.groupby("src_ip").indices.items():
            host = roles[address]
            hits = attribute(manifest, address, ts[idx], grace)
            if host["role"] == "attacker":
                # a source flagged by the tool before (one attacker host runs tools in turn) does not count for
                # this tool: each tool's figures are its own (a deployed detector would keep the flag)
                early = [k for k, h in zip(idx, hits) if h and rule_ts[k] < h["started"] - 0.5]
                df.loc[early, "rule_flag"], df.loc[early, "rule"] = 0, ""
                session[idx] = [h["session"] if h else "attacker-unattributed" for h in hits]
                tool[idx] = [h["tool"] if h else "unknown" for h in hits]
                client[idx] = tool[idx]
                family[idx] = [family_of(h) if h else "unknown" for h in hits]
            else:
                kind = host.get("kind") or "simulated-users"
                session[idx] = [h["session"] if h else f"{host['host']}-r{r}" for h in hits]
                tool[idx] = [(h.get("tool") if h else None) or kind for h in hits]
                client[idx] = [(h.get("client") if h else None) or kind for h in hits]
                family[idx] = "benign"
        df["session"], df["tool"], df["client"], df["family"] = session, tool, client, family
        df["label_name"] = np.where(df["src_ip"].map(lambda a: roles[a]["role"] == "attacker"), "attack",
                                    "not_attack")
        df["label_value"] = df["label_name"].map(LABEL_VALUES)
        df["app"] = [ports.get(int(p), ("other", ""))[0] for p in df["dest_port"]]
        df["framework"] = [ports.get(int(p), ("", "other"))[1] for p in df["dest_port"]]
        df["round"] = pcap
        # rule_ts stays: the report's source escalation counts a rule's verdict when it fired
        frames.append(df.drop(columns=["src_ip", "src_port", "dest_ip", "dest_port", "flow_id"]))
    if not frames:
        raise ValueError(f"no HTTP requests in {record_dir}")
    out = pd.concat(frames, ignore_index=True)
    out.attrs["rules_profile"] = profile.to_json()
    return out


def sample_per_session(df: pd.DataFrame, max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``max_rows`` rows of each session, drawn at random (discovery tools send tens of thousands of
    requests; a shipped dataset keeps every session but not every one of its requests)."""
    parts = [g if len(g) <= max_rows else g.sample(max_rows, random_state=seed)
             for _, g in df.groupby("session", sort=False)]
    return pd.concat(parts).sort_index().reset_index(drop=True)


def sample_blocks(df: pd.DataFrame, attack_rows: int, benign_rows: int, seed: int = 1) -> pd.DataFrame:
    """Per session, one block of at most ``attack_rows`` (an attack session) or ``benign_rows`` (a benign one)
    consecutive rows in time (``ts``) from a random start: an evaluation sample that keeps every session but
    not all its requests, in which what one source did just before a request is still there (the source
    escalation, :mod:`antinex.pipeline.escalation`, needs it; a random sample of rows would thin it out)."""
    rng = np.random.default_rng(seed)
    order = df.sort_values("ts", kind="stable") if "ts" in df.columns else df
    parts = []
    for (_, label), g in order.groupby(["session", "label_value"], sort=False):
        k = attack_rows if int(label) == 1 else benign_rows
        start = int(rng.integers(0, len(g) - k + 1)) if len(g) > k else 0
        parts.append(g.iloc[start:start + k])
    return pd.concat(parts).sort_index().reset_index(drop=True)
