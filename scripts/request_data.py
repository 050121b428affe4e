"""Development data for the request-content detectors: one row per HTTP request of a capture.

    python scripts/request_data.py lab RECORD_DIR OUT.csv.gz          # an antinex-lab --netns recording
    python scripts/request_data.py clients PCAP PORT CLIENT OUT.csv.gz  # a capture of one benign client

A stand-in until the stream helper's TCP reassembly and the lead's
request-level lab dataset land (docs/request-features.md): the client-to-server
bytes of each TCP connection are put in sequence order (a segment seen again is
kept once) and cut into requests with ``parse_http_request``; a connection that
does not start with a request line is skipped. Labels of a lab recording come
from the sender's address and the tools' time windows, as ``antinex-lab build``
does. Columns: ``http_request`` (``request_to_text``), ``label_value``,
``label_name``, ``session``, ``tool``, ``family``, ``client``, ``app``, ``round``.
"""
from __future__ import annotations

import json
import socket
import struct
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

from antinex.pipeline.http_message import parse_http_request, request_to_text

FAMILIES = {"sqlmap": "sqli", "wfuzz-sqli": "sqli", "wfuzz-xss": "xss", "wfuzz-traversal": "traversal",
            "wfuzz": "discovery", "nmap": "discovery", "hydra": "bruteforce", "slowhttptest": "dos"}


def packets(path: Path):
    """(ts, src, sport, dst, dport, seq, payload) of every IPv4 TCP packet with a payload (classic pcap)."""
    data = path.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    rec = struct.Struct(endian + "IIII")
    while pos + 16 <= len(data):
        sec, frac, incl, _ = rec.unpack_from(data, pos)
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ts = sec + frac / (1e9 if nano else 1e6)
        if linktype == 1:  # Ethernet
            if len(frame) < 14 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
        elif linktype == 113:  # Linux cooked (tcpdump -i any)
            if frame[14:16] != b"\x08\x00":
                continue
            ip = frame[16:]
        elif linktype in (0, 108):  # loopback (BSD null)
            ip = frame[4:]
        else:
            ip = frame
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield ts, socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, seq, payload


def requests_of(pcap: Path, server_ports: set[int]):
    """(ts, src_ip, HttpRequest) of every request a client sent to ``server_ports``."""
    flows = defaultdict(list)
    for ts, src, sport, dst, dport, seq, payload in packets(pcap):
        if dport in server_ports:
            flows[(src, sport, dst, dport)].append((seq, ts, payload))
    for (src, _, _, _), segs in flows.items():
        segs.sort(key=lambda s: (s[0], s[1]))
        base = segs[0][0]
        stream, starts, end = bytearray(), [], 0
        for seq, ts, payload in segs:
            off = (seq - base) % (1 << 32)
            if off + len(payload) <= end:
                continue  # seen already (retransmission)
            cut = max(end - off, 0)
            starts.append((len(stream), ts))
            stream += payload[cut:]
            end = off + len(payload)
        pos, k = 0, 0
        data = bytes(stream)
        while pos < len(data):
            req = parse_http_request(data[pos:])
            if req is None or not req.raw:
                break
            while k + 1 < len(starts) and starts[k + 1][0] <= pos:
                k += 1
            yield starts[k][1], src, req
            pos += len(req.raw)


def lab_rows(record_dir: Path, grace: float = 2.0) -> pd.DataFrame:
    manifest = json.loads((record_dir / "manifest.json").read_text())
    roles = manifest["addresses"]
    ports = {int(t.rsplit(":", 1)[1]) for t in manifest["targets"].values()}
    app_of = {int(t.rsplit(":", 1)[1]): fw for fw, t in manifest["targets"].items()}
    rows = []
    for r, pcap in enumerate(manifest["pcaps"]):
        windows = [s for s in manifest["sessions"] if s["pcap"] == pcap and s["label"] == "attack"]
        normal = {s["host"]: s for s in manifest["sessions"] if s["pcap"] == pcap and s["label"] == "not_attack"}
        for ts, src, req in requests_of(record_dir / pcap, ports):
            host = roles.get(src, {}).get("host")
            if host is None:
                continue
            app = app_of.get(_port_of(req), "")
            if host == "attacker":
                hit = next((w for w in windows if w["started"] - 0.5 <= ts <= w["ended"] + grace), None)
                if hit is None:
                    continue
                rows.append(_row(req, 1, hit["session"], hit["tool"], FAMILIES.get(hit["tool"], hit["tool"]),
                                 hit["tool"], app, r))
            else:
                s = normal.get(host)
                rows.append(_row(req, 0, s["session"] if s else f"{host}-r{r}", "simulated-users", "normal",
                                 "simulated-users", app, r))
    return pd.DataFrame(rows)


def _port_of(req) -> int:
    host = req.header("host") or ""
    try:
        return int(host.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 80


def _row(req, label: int, session: str, tool: str, family: str, client: str, app: str, rnd: int) -> dict:
    return {"http_request": request_to_text(req.raw), "label_value": label,
            "label_name": "attack" if label else "not_attack", "session": session, "tool": tool,
            "family": family, "client": client, "app": app, "round": rnd}


def client_rows(pcap: Path, port: int, client: str) -> pd.DataFrame:
    return pd.DataFrame([_row(req, 0, f"{client}-benign", client, "normal", client, "lab", 0)
                         for _, _, req in requests_of(pcap, {port})])


def main(argv: list[str]) -> int:
    if argv[:1] == ["lab"] and len(argv) == 3:
        df = lab_rows(Path(argv[1]))
        out = Path(argv[2])
    elif argv[:1] == ["clients"] and len(argv) == 5:
        df = client_rows(Path(argv[1]), int(argv[2]), argv[3])
        out = Path(argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    df.to_csv(out, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"{out}: {len(df)} requests")
    print(df.groupby(["tool", "round"]).size().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
