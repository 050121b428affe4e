"""Recorded sessions to a training-ready dataset (features + labels)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.columns import ADDRESS_COLUMNS
from pipeline.payload_features import HEADER_FEATURES, PAYLOAD_FEATURES, add_payload_features
from pipeline.pcap import pcap_rows
from pipeline.flatten import rows_to_frame

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


def build_full(record_dir: Path) -> pd.DataFrame:
    """Every packet of every recorded session, all columns, with labels from the manifest."""
    manifest = json.loads((record_dir / "manifest.json").read_text())
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
    return out
