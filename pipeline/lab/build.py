"""Recorded sessions to a training-ready dataset (features + labels)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from antinex.pipeline.columns import ADDRESS_COLUMNS
from antinex.pipeline.payload_features import HEADER_FEATURES, PAYLOAD_FEATURES, add_payload_features
from antinex.pipeline.pcap import pcap_rows
from antinex.pipeline.flatten import rows_to_frame

LABEL_VALUES = {"not_attack": 0, "attack": 1}
FEATURES: tuple[str, ...] = HEADER_FEATURES + PAYLOAD_FEATURES


def session_frame(pcap: Path, label: str, session: str, tool: str) -> pd.DataFrame:
    df = rows_to_frame(pcap_rows(pcap))
    df = add_payload_features(df)
    df["label_name"] = label
    df["label_value"] = LABEL_VALUES[label]
    df["session"] = session
    df["tool"] = tool
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


def netns_frame(record_dir: Path, manifest: dict, grace: float = 2.0) -> pd.DataFrame:
    """Rows of a namespace recording, labelled by address: the attacker's packets are attacks.

    Each attacker packet belongs to the tool whose time window (plus
    ``grace`` seconds for late answers) holds it; each client packet to that
    client's session. Packets between no known hosts are dropped.
    """
    roles = manifest["addresses"]
    frames = []
    for pcap in manifest["pcaps"]:
        rows, times = _timed_rows(record_dir / pcap)
        if not rows:
            continue
        df = add_payload_features(rows_to_frame(rows))
        df["time"] = times
        src, dst = df.get("ip_src"), df.get("ip_dst")
        peer = [s if roles.get(s, {}).get("role") in ("client", "attacker") else d for s, d in zip(src, dst)]
        df["peer"] = [roles.get(p, {}).get("host") for p in peer]
        df = df[df["peer"].notna()].copy()
        windows = [s for s in manifest["sessions"] if s["pcap"] == pcap and s["label"] == "attack"]
        normal = {s["host"]: s for s in manifest["sessions"] if s["pcap"] == pcap and s["label"] == "not_attack"}
        session, tool, label = [], [], []
        for host, t in zip(df["peer"], df["time"]):
            if host == "attacker":
                hit = next((w for w in windows if w["started"] - 0.5 <= t <= w["ended"] + grace), None)
                session.append(hit["session"] if hit else "attacker-unattributed")
                tool.append(hit["tool"] if hit else "unknown")
                label.append("attack")
            else:
                session.append(normal[host]["session"] if host in normal else f"{host}-unknown")
                tool.append("simulated-users")
                label.append("not_attack")
        df["session"], df["tool"], df["label_name"] = session, tool, label
        df["label_value"] = df["label_name"].map(LABEL_VALUES)
        df["round"] = pcap
        frames.append(df)
    if not frames:
        raise ValueError(f"no packets in {record_dir}")
    return pd.concat(frames, ignore_index=True)


def build_full(record_dir: Path) -> pd.DataFrame:
    """Every packet of every recorded session, all columns, with labels from the manifest."""
    manifest = json.loads((record_dir / "manifest.json").read_text())
    if manifest.get("mode") == "netns":
        full = netns_frame(record_dir, manifest)
        full["idx"] = range(len(full))
        return full
    frames = [session_frame(record_dir / s["pcap"], s["label"], s["session"], s["tool"])
              for s in manifest["sessions"] if (record_dir / s["pcap"]).exists()]
    full = pd.concat(frames, ignore_index=True)
    full["idx"] = range(len(full))
    return full


def training_ready(full: pd.DataFrame, missing_value: float = -1.0) -> pd.DataFrame:
    """Numeric features (no addresses, ports, ids, checksums) + labels + session/tool for splits."""
    cols = [c for c in FEATURES if c in full.columns]
    out = full[cols].apply(pd.to_numeric, errors="coerce").fillna(missing_value)
    for c in FEATURES:
        if c not in out.columns:
            out[c] = missing_value
    out = out[list(FEATURES)]
    assert not set(out.columns) & ADDRESS_COLUMNS
    out["label_value"] = full["label_value"].to_numpy()
    out["label_name"] = full["label_name"].to_numpy()
    out["session"] = full["session"].to_numpy()
    out["tool"] = full["tool"].to_numpy()
    if "round" in full:
        out["round"] = full["round"].to_numpy()
    return out
