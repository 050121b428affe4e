"""Benchmark datasets made on the fly (nothing is downloaded).

``django_like(n_rows=30_200)`` has the shape of the original Full-Django
training file: the 67 feature columns of ``cleaned_v1_django_metadata.json``
plus ``label_value`` (9,000 attack rows out of 30,200), values drawn from a
seeded generator so every run sees the same rows. It is a stand-in for the
original file, which is not public: the figures measure speed and compare
accuracy against a baseline trained on the very same rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from antinex.pipeline import columns


def django_like(n_rows: int = 30_200, seed: int = 42) -> pd.DataFrame:
    """A 67-feature classification set shaped like the original's."""
    rng = np.random.default_rng(seed)
    features = list(columns.FULL_DJANGO_FEATURES)  # the original 67, idx included
    n_attack = round(n_rows * 9_000 / 30_200)
    y = np.zeros(n_rows, dtype=np.int64)
    y[:n_attack] = 1
    rng.shuffle(y)
    data = np.full((n_rows, len(features)), -1.0)
    informative = rng.choice(len(features), size=12, replace=False)
    for j in range(len(features)):
        col = rng.integers(0, 65_536, size=n_rows).astype(float)
        if j in informative:
            # attack rows concentrate in a different range of the column
            shift = rng.uniform(0.2, 0.6) * 65_536
            col = np.where(y == 1, (col * 0.35 + shift) % 65_536, col)
        sparse = rng.random(n_rows) < 0.4
        data[:, j] = np.where(sparse & (j not in informative), -1.0, col)
    df = pd.DataFrame(data, columns=features)
    df["label_value"] = y
    # a little label noise so nothing is trivially perfect
    flip = rng.random(n_rows) < 0.001
    df.loc[flip, "label_value"] = 1 - df.loc[flip, "label_value"]
    return df


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def packet_frames(n: int = 100_000, seed: int = 5) -> list[bytes]:
    """``n`` raw Ethernet frames: web requests and responses, handshakes, DNS, ICMP, ARP, IPv6."""
    import random

    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Raw

    rng = random.Random(seed)
    distinct = []
    for i in range(500):
        eth = Ether(src="02:00:00:00:00:%02x" % (i % 250), dst="02:00:00:00:01:01")
        kind = i % 10
        if kind < 4:
            p = eth / IP(src="10.3.0.%d" % (i % 250), dst="10.3.0.1", ttl=64, id=i) / TCP(
                sport=rng.randint(1024, 65535), dport=8080, seq=rng.getrandbits(32), ack=rng.getrandbits(32),
                flags="PA", options=[("NOP", None), ("NOP", None), ("Timestamp", (i, i))]) / \
                Raw(b"GET /items/%d?q=notes HTTP/1.1\r\nHost: app\r\nUser-Agent: bench\r\n\r\n" % i)
        elif kind < 7:
            p = eth / IP(src="10.3.0.1", dst="10.3.0.%d" % (i % 250)) / TCP(sport=8080, dport=40000 + i, flags="A")
        elif kind == 7:
            p = eth / IP() / UDP(sport=rng.randint(1024, 65535), dport=53) / DNS(id=i, qd=DNSQR(qname=f"h{i}.example"))
        elif kind == 8:
            p = eth / IP(dst="10.3.0.9") / ICMP(id=i, seq=i) / Raw(b"x" * 32)
        else:
            p = eth / (ARP(op=1, psrc="10.3.0.1", pdst="10.3.0.2") if i % 20 == 9 else
                       IPv6(src="fd00::1", dst="fd00::2") / TCP(dport=443, flags="A"))
        distinct.append(bytes(p))
    return [distinct[i % len(distinct)] for i in range(n)]
