"""Packets to rows.

Two modes:

* ``default``: correct values (real IP length, TTL, protocol, TCP sequence,
  ack, flags and window, UDP length, DNS header and question), payloads as
  hex in ``raw_load``. Columns: :data:`pipeline.columns.DEFAULT_COLUMNS`.
* ``v1``: the original network-pipeline's columns, bugs included (the
  stale-key overwrite that put checksums into ``ip_len``/``tcp_seq``/
  ``udp_len``, DNS class defaults, hex-of-text loads, placeholder ids), so
  the old datasets can be reproduced and extended.

A *message* is the nested dict the capture agents publish:
``{"data": {layer: {field: value}}, "created": ..., "source": ..., "ts": ...}``.
``created`` is the original's local time with one-second resolution;
``ts`` (added in AntiNex 2) is the capture time in seconds since the epoch
with microsecond resolution, what flow timing and slow-rate detection need
(:func:`message_time` reads either).
"""
from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any, Iterable

from antinex.pipeline import columns as C

MODES = ("default", "v1")


# --------------------------------------------------------------------------
# message -> flat row (both modes)
# --------------------------------------------------------------------------
def _walk(prefix: str, value: Any, out: dict) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = None if isinstance(value, dict) else value


def flatten_message(data: dict) -> dict:
    """A message's ``data`` block as one flat row: ``prefix + key``, nested keys joined with ``.``.

    Layers without a known prefix are dropped, as the original subscriber did.
    """
    row: dict[str, Any] = {}
    for layer, fields in data.items():
        prefix = C.PREFIXES.get(layer)
        if prefix is None or not isinstance(fields, dict):
            continue
        flat: dict[str, Any] = {}
        _walk("", fields, flat)
        for key, value in flat.items():
            row[prefix + key] = value
    return row


# --------------------------------------------------------------------------
# scapy packet -> message, default mode
# --------------------------------------------------------------------------
def _hex(value: Any) -> str:
    return bytes(value).hex()


def _tcp_options(options: list) -> dict:
    out: dict[str, Any] = {}
    for opt in options or []:
        if not isinstance(opt, tuple) or not opt:
            continue
        name, value = opt[0], opt[1] if len(opt) > 1 else None
        if name == "Timestamp" and isinstance(value, tuple):
            value = value[0]
        elif name == "SAckOK":
            value = 1
        elif name == "NOP":
            value = out.get("NOP", 0) + 1  # count of NOPs, a number a model can use
        elif name in ("SAck",) and isinstance(value, tuple):
            value = len(value)
        elif isinstance(value, (bytes, bytearray)):
            value = _hex(value)
        if isinstance(name, str):
            out[name] = value
    return out


def packet_layers_default(pkt) -> dict:
    """Correct values of every supported layer of a scapy packet."""
    from scapy.layers.dns import DNS
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Padding, Raw

    data: dict[str, dict] = {}
    if Ether in pkt:
        e = pkt[Ether]
        data["ether"] = {"dst": e.dst, "src": e.src, "type": e.type}
    if IP in pkt:
        ip = pkt[IP]
        data["ip"] = {"version": ip.version, "ihl": ip.ihl, "tos": ip.tos, "len": ip.len, "id": ip.id,
                      "flags": int(ip.flags), "frag": ip.frag, "ttl": ip.ttl, "proto": ip.proto,
                      "chksum": ip.chksum, "src": ip.src, "dst": ip.dst}
    if IPv6 in pkt:
        ip6 = pkt[IPv6]
        data["ipv6"] = {"version": ip6.version, "tc": ip6.tc, "fl": ip6.fl, "plen": ip6.plen, "nh": ip6.nh,
                        "hlim": ip6.hlim, "src": ip6.src, "dst": ip6.dst}
    if TCP in pkt:
        t = pkt[TCP]
        data["tcp"] = {"sport": t.sport, "dport": t.dport, "seq": t.seq, "ack": t.ack, "dataofs": t.dataofs,
                       "reserved": t.reserved, "flags": int(t.flags), "window": t.window, "chksum": t.chksum,
                       "urgptr": t.urgptr}
        opts = _tcp_options(t.options)
        if opts:
            data["tcp"]["fields_options"] = opts
    if UDP in pkt:
        u = pkt[UDP]
        data["udp"] = {"sport": u.sport, "dport": u.dport, "len": u.len, "chksum": u.chksum}
    if DNS in pkt:
        d = pkt[DNS]
        dns = {k: getattr(d, k) for k in ("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd",
                                          "rcode", "qdcount", "ancount", "nscount", "arcount")}
        qd = d.getfieldval("qd")
        questions = list(qd) if isinstance(qd, list) else ([qd] if qd else [])
        if questions:
            first = questions[0]
            name = first.qname
            dns["qd"] = {"qname": name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name),
                         "qtype": first.qtype, "qclass": first.qclass}
        data["dns"] = dns
    if ICMP in pkt:
        i = pkt[ICMP]
        data["icmp"] = {"type": i.type, "code": i.code, "chksum": i.chksum, "id": i.id, "seq": i.seq}
    if ARP in pkt:
        a = pkt[ARP]
        data["arp"] = {k: getattr(a, k) for k in ("hwtype", "ptype", "hwlen", "plen", "op", "hwsrc", "psrc",
                                                  "hwdst", "pdst")}
    pad = bytes(pkt[Padding].load) if Padding in pkt else b""
    # the transport payload, whatever scapy dissected it as (HTTP, DNS, ...)
    carrier = pkt[TCP] if TCP in pkt else pkt[UDP] if UDP in pkt else pkt[ICMP] if ICMP in pkt else None
    if carrier is not None:
        load = bytes(carrier.payload)
        if pad and load.endswith(pad):
            load = load[: len(load) - len(pad)]
    else:
        load = bytes(pkt[Raw].load) if Raw in pkt else b""
    if load:
        data["raw"] = {"load": load.hex(), "len": len(load)}
    if pad:
        data["padding"] = {"load": pad.hex(), "len": len(pad)}
    return data


# --------------------------------------------------------------------------
# scapy packet -> message, v1 mode (the original convert_pkt_to_json)
# --------------------------------------------------------------------------
class _Abort(Exception):
    """The original's outer ``except: pass`` ended the layer loop here."""


def _v1_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value
    if hasattr(value, "value") and type(value).__name__ == "FlagValue":
        return int(value)
    return value


def _v1_layer(layer) -> dict:
    """The fields pass of the original for one layer (raises _Abort like it did)."""
    tmp: dict[str, Any] = {}
    last_key: str | None = None
    names = [f.name for f in layer.fields_desc]
    for name in names:
        if name not in layer.fields:
            continue
        value = _v1_value(layer.fields[name])
        if name in ("qd", "an", "ar", "arcount"):
            raise _Abort()  # json.loads on a dict: TypeError in the original
        if name == "options":
            if value:
                try:
                    opts = dict(value)
                except (TypeError, ValueError):
                    tmp["fields_options"] = str(value)
                else:
                    kept = {}
                    for opt in C.TCP_OPTION_NAMES:
                        if opt in opts:
                            v = opts[opt]
                            if opt == "SAckOK":
                                v = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                            elif opt == "Timestamp" and isinstance(v, tuple):
                                v = v[0]
                            kept[opt] = v
                    tmp["fields_options"] = kept
            continue
        if name == "urgptr":
            if value:
                tmp["fields_urgptr"] = {"urgptr": value}
            continue
        if name == "ns":
            tmp["fields_ns"] = str(value)
            continue
        if name in C.V1_STALE_KEY_FIELDS:
            if value and last_key is not None:
                tmp[last_key] = value  # the original's stale-key bug
            continue
        if isinstance(value, (bytes, bytearray)):
            if name == "load":
                try:
                    tmp["load"] = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    tmp["hex_field_load"] = bytes(value).hex()
            else:
                tmp[f"hex_field_{name}"] = bytes(value).hex()
        else:
            tmp[name] = value
        last_key = name
    return tmp


def _v1_defaults(layer) -> dict:
    out = {}
    for name, value in layer.default_fields.items():
        if isinstance(value, (bytes, bytearray)):
            out[f"hex_default_{name}"] = bytes(value).hex()
        else:
            out[f"default_{name}"] = _v1_value(value) if not isinstance(value, list) else None
    return out


def packet_layers_v1(pkt) -> dict:
    """The nested dict the original convert_pkt_to_json produced, bugs included."""
    results: dict[str, dict] = {}
    try:
        for layer in pkt.iterpayloads():
            name = type(layer).__name__.lower()
            results[name] = _v1_defaults(layer)
            results[name] = _v1_layer(layer)
    except _Abort:
        pass
    for name in ("raw", "padding"):
        load = results.get(name, {}).get("load")
        if isinstance(load, str):
            results[name]["load"] = load.encode("utf-8").hex()
    return results


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def packet_to_message(pkt, *, mode: str = "default", source: str = "localhost",
                      created: dt.datetime | None = None) -> dict:
    """The message a capture agent publishes for one scapy packet."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    data = packet_layers_v1(pkt) if mode == "v1" else packet_layers_default(pkt)
    ts = float(getattr(pkt, "time", 0) or 0) or (created.timestamp() if created else time.time())
    when = created or dt.datetime.fromtimestamp(ts)
    return {"data": data, "created": when.strftime("%Y-%m-%d %H:%M:%S"), "source": source, "ts": round(ts, 6)}


# longest prefix first, so "ipv6_" is never read as "ip_"
_LAYERS_BY_PREFIX = sorted(((prefix, layer) for layer, prefix in C.PREFIXES.items()), key=lambda p: -len(p[0]))


_NOWHERE = ("", (), "")
_PLACES: dict[str, tuple] = {}  # column → (layer, parent keys, leaf): columns repeat in every packet


def _place(key: str) -> tuple:
    for prefix, layer in _LAYERS_BY_PREFIX:
        if key.startswith(prefix):
            *parents, leaf = key[len(prefix):].split(".")
            place = (layer, tuple(parents), leaf)
            break
    else:
        place = _NOWHERE
    if len(_PLACES) < 10_000:  # the column vocabulary is small; never grow without bound
        _PLACES[key] = place
    return place


def row_to_message(row: dict, *, source: str = "localhost", created: dt.datetime | None = None,
                   ts: float | None = None) -> dict:
    """The default-mode message whose flat row is ``row``: the inverse of :func:`flatten_message`.

    The raw capture path dissects frames with the struct fast path (rows)
    and still publishes the original's message shape: layers of fields,
    nested where a column name has dots (``dns_qd.qname``).
    """
    data: dict[str, dict] = {}
    for key, value in row.items():
        place = _PLACES.get(key) or _place(key)
        if place is _NOWHERE:
            continue  # no layer owns it (flatten_message would drop it too)
        layer, parents, leaf = place
        node = data.get(layer)
        if node is None:
            node = data[layer] = {}
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    if ts is None:
        ts = created.timestamp() if created else time.time()
    when = created or dt.datetime.fromtimestamp(ts)
    return {"data": data, "created": when.strftime("%Y-%m-%d %H:%M:%S"), "source": source, "ts": round(ts, 6)}


def message_time(message: dict, default: float | None = None) -> float:
    """A packet message's capture time in seconds: its ``ts``, else its ``created`` (one-second
    resolution: messages of agents older than AntiNex 2), else ``default`` (or now)."""
    ts = message.get("ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and math.isfinite(ts) and ts > 0:
        return round(float(ts), 6)
    created = message.get("created")
    if isinstance(created, str):
        try:
            return dt.datetime.strptime(created, "%Y-%m-%d %H:%M:%S").timestamp()
        except ValueError:
            pass
    return time.time() if default is None else default


def packet_to_row(pkt, *, mode: str = "default") -> dict:
    """One flat row for one scapy packet (without ``idx``)."""
    return flatten_message(packet_to_message(pkt, mode=mode)["data"])


def rows_to_frame(rows: Iterable[dict], *, mode: str = "default", start_idx: int = 0):
    """A DataFrame with ``idx`` first and the mode's column order."""
    import pandas as pd

    rows = list(rows)
    if mode == "v1":
        seen: set[str] = set()
        for r in rows:
            seen.update(r)
        cols = C.v1_columns(seen)
    else:
        extra = sorted({k for r in rows for k in r} - set(C.DEFAULT_COLUMNS))
        cols = list(C.DEFAULT_COLUMNS) + extra
    df = pd.DataFrame.from_records(rows, columns=[c for c in cols if c != "idx"])
    df.insert(0, "idx", range(start_idx, start_idx + len(df)))
    return df
