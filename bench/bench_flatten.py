"""Flattening: packets per second per core, from raw frames to rows.

Ours: the struct fast path (``pipeline.fastparse``) over >= 100,000 frames.
Baseline, same run, same frames: scapy's own dissection (``Ether(frame)``),
without even flattening (a subset, reported per second).
"""
from __future__ import annotations

import time


def run(quick: bool = False) -> list[dict]:
    from scapy.layers.l2 import Ether

    from bench.datasets import packet_frames
    from antinex.pipeline.fastparse import frames_to_rows
    from antinex.pipeline.flatten import packet_to_row

    n = 20_000 if quick else 100_000
    frames = packet_frames(n)
    started = time.perf_counter()
    rows = sum(1 for _ in frames_to_rows(frames))
    fast = rows / (time.perf_counter() - started)
    subset = frames[: max(2_000, n // 20)]
    started = time.perf_counter()
    for f in subset:
        Ether(f)
    scapy = len(subset) / (time.perf_counter() - started)
    started = time.perf_counter()
    for f in subset[:2_000]:
        packet_to_row(Ether(f))
    scapy_flat = 2_000 / (time.perf_counter() - started)
    return [
        {"name": "flatten packets/s (1 core)", "value": fast, "unit": "pkt/s", "baseline_name": "scapy Ether() dissection",
         "baseline_value": scapy, "ratio": fast / scapy,
         "notes": f"{rows} frames, struct fast path incl. building the row dicts; target >= 100k/s and >= 5x"},
        {"name": "flatten via scapy (default mode)", "value": scapy_flat, "unit": "pkt/s",
         "baseline_name": "scapy Ether() dissection", "baseline_value": scapy, "ratio": scapy_flat / scapy,
         "notes": "the scapy-based flattener, used for v1 mode and fallbacks"},
    ]


if __name__ == "__main__":
    for r in run():
        print(r)
