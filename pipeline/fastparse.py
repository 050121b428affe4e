"""Fast dissection of raw Ethernet frames with ``struct``, straight to rows.

It produces the same cells as the scapy-based default flattener
(:func:`pipeline.flatten.packet_to_row`) for Ethernet, IPv4, IPv6, TCP
(with options), UDP, DNS (header and first question), ICMP, ARP, payload
and padding, at tens of times scapy's speed. Frames it cannot fully parse
(ICMP errors quoting headers, truncated headers, IPv6 extension headers)
fall back to scapy, so a row is always what the scapy path would give.
"""
from __future__ import annotations

import socket
import struct
from typing import Iterator

_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_ICMP = struct.Struct("!BBH")
_ICMP_ECHO = struct.Struct("!HH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_DNS = struct.Struct("!HHHHHH")
_H = struct.Struct("!H")
_I = struct.Struct("!I")
_ICMP_ID_TYPES = frozenset({0, 8, 13, 14, 15, 16, 17, 18})
DNS_PORTS = frozenset({53, 5353, 5355})


class Fallback(Exception):
    """This frame needs scapy."""


def _mac(b: bytes) -> str:
    return b.hex(":")


def _tcp_options(opts: bytes) -> dict:
    out: dict = {}
    i, n = 0, len(opts)
    while i < n:
        kind = opts[i]
        if kind == 0:  # EOL
            out["EOL"] = None
            break
        if kind == 1:
            out["NOP"] = out.get("NOP", 0) + 1
            i += 1
            continue
        if i + 1 >= n:
            raise Fallback
        length = opts[i + 1]
        if length < 2 or i + length > n:
            raise Fallback
        body = opts[i + 2:i + length]
        if kind == 2 and length == 4:
            out["MSS"] = _H.unpack(body)[0]
        elif kind == 3 and length == 3:
            out["WScale"] = body[0]
        elif kind == 4:
            out["SAckOK"] = 1
        elif kind == 5:
            out["SAck"] = len(body) // 4
        elif kind == 8 and length == 10:
            out["Timestamp"] = _I.unpack(body[:4])[0]
        else:
            raise Fallback  # rarer options: let scapy name them
        i += length
    return out


def _qname(buf: bytes, off: int) -> tuple[str, int]:
    labels = []
    while True:
        if off >= len(buf):
            raise Fallback
        ln = buf[off]
        if ln == 0:
            off += 1
            break
        if ln & 0xC0:
            raise Fallback  # compression in a question: scapy handles it
        labels.append(buf[off + 1:off + 1 + ln])
        off += 1 + ln
    return (b".".join(labels) + b".").decode("utf-8", "replace"), off


def _dns(row: dict, buf: bytes) -> None:
    if len(buf) < 12:
        raise Fallback
    ident, flags, qd, an, ns, ar = _DNS.unpack_from(buf)
    row.update({
        "dns_id": ident, "dns_qr": flags >> 15, "dns_opcode": (flags >> 11) & 0xF, "dns_aa": (flags >> 10) & 1,
        "dns_tc": (flags >> 9) & 1, "dns_rd": (flags >> 8) & 1, "dns_ra": (flags >> 7) & 1,
        "dns_z": (flags >> 6) & 1, "dns_ad": (flags >> 5) & 1, "dns_cd": (flags >> 4) & 1, "dns_rcode": flags & 0xF,
        "dns_qdcount": qd, "dns_ancount": an, "dns_nscount": ns, "dns_arcount": ar,
    })
    if qd:
        name, off = _qname(buf, 12)
        if off + 4 > len(buf):
            raise Fallback
        qtype, qclass = struct.unpack_from("!HH", buf, off)
        row.update({"dns_qd.qname": name, "dns_qd.qtype": qtype, "dns_qd.qclass": qclass})


def _payload(row: dict, load: bytes, pad: bytes) -> None:
    if load:
        row["raw_load"] = load.hex()
        row["raw_len"] = len(load)
    if pad:
        row["pad_load"] = pad.hex()
        row["pad_len"] = len(pad)


def _transport(row: dict, proto: int, seg: bytes, pad: bytes) -> None:
    if proto == 6:
        if len(seg) < 20:
            raise Fallback
        sport, dport, seq, ack, off_res, flags, window, chksum, urg = _TCP.unpack_from(seg)
        dataofs = off_res >> 4
        hlen = dataofs * 4
        if hlen < 20 or hlen > len(seg):
            raise Fallback
        row.update({"tcp_sport": sport, "tcp_dport": dport, "tcp_seq": seq, "tcp_ack": ack,
                    "tcp_dataofs": dataofs, "tcp_reserved": (off_res >> 1) & 0x7,
                    "tcp_flags": flags | ((off_res & 1) << 8), "tcp_window": window, "tcp_chksum": chksum,
                    "tcp_urgptr": urg})
        for k, v in _tcp_options(seg[20:hlen]).items():
            row[f"tcp_fields_options.{k}"] = v
        load = seg[hlen:]
        if (sport in DNS_PORTS or dport in DNS_PORTS) and load:
            raise Fallback  # DNS over TCP: rare, scapy parses the length prefix
        _payload(row, load, pad)
    elif proto == 17:
        if len(seg) < 8:
            raise Fallback
        sport, dport, length, chksum = _UDP.unpack_from(seg)
        row.update({"udp_sport": sport, "udp_dport": dport, "udp_len": length, "udp_chksum": chksum})
        load = seg[8:]
        if sport in DNS_PORTS or dport in DNS_PORTS:
            _dns(row, load)
        _payload(row, load, pad)
    elif proto == 1:
        if len(seg) < 8:
            raise Fallback
        itype, code, chksum = _ICMP.unpack_from(seg)
        if itype in (3, 4, 5, 11, 12):
            raise Fallback  # errors quote the offending headers: scapy dissects those
        ident = seq = None
        if itype in _ICMP_ID_TYPES:
            ident, seq = _ICMP_ECHO.unpack_from(seg, 4)
        row.update({"icmp_type": itype, "icmp_code": code, "icmp_chksum": chksum, "icmp_id": ident,
                    "icmp_seq": seq})
        _payload(row, seg[8:] if itype in _ICMP_ID_TYPES and itype in (0, 8) else b"", pad)
        if itype not in (0, 8):
            raise Fallback  # timestamp/info/mask bodies: leave them to scapy
    else:
        raise Fallback


def frame_to_row(frame: bytes) -> dict:
    """One Ethernet frame → one row; raises :class:`Fallback` where scapy is needed."""
    if len(frame) < 14:
        raise Fallback
    dst, src, etype = _ETH.unpack_from(frame)
    row: dict = {"eth_dst": _mac(dst), "eth_src": _mac(src), "eth_type": etype}
    body = frame[14:]
    if etype == 0x0800:
        if len(body) < 20:
            raise Fallback
        vihl, tos, total, ident, flags_frag, ttl, proto, chksum, s, d = _IP.unpack_from(body)
        ihl = vihl & 0xF
        if vihl >> 4 != 4 or ihl < 5 or total < ihl * 4 or total > len(body):
            raise Fallback
        frag = flags_frag & 0x1FFF
        row.update({"ip_version": 4, "ip_ihl": ihl, "ip_tos": tos, "ip_len": total, "ip_id": ident,
                    "ip_flags": flags_frag >> 13, "ip_frag": frag, "ip_ttl": ttl, "ip_proto": proto,
                    "ip_chksum": chksum, "ip_src": socket.inet_ntoa(s), "ip_dst": socket.inet_ntoa(d)})
        if frag or flags_frag & 0x2000:
            raise Fallback  # fragments: scapy does not dissect them as transport either
        _transport(row, proto, body[ihl * 4:total], body[total:])
    elif etype == 0x86DD:
        if len(body) < 40:
            raise Fallback
        vtf, plen, nh, hlim, s, d = _IP6.unpack_from(body)
        if 40 + plen > len(body) or nh not in (6, 17):
            raise Fallback
        row.update({"ipv6_version": vtf >> 28, "ipv6_tc": (vtf >> 20) & 0xFF, "ipv6_fl": vtf & 0xFFFFF,
                    "ipv6_plen": plen, "ipv6_nh": nh, "ipv6_hlim": hlim,
                    "ipv6_src": socket.inet_ntop(socket.AF_INET6, s), "ipv6_dst": socket.inet_ntop(socket.AF_INET6, d)})
        _transport(row, nh, body[40:40 + plen], body[40 + plen:])
    elif etype == 0x0806:
        if len(body) < 28:
            raise Fallback
        hwtype, ptype, hwlen, plen, op, hws, ps, hwd, pd = _ARP.unpack_from(body)
        if hwlen != 6 or plen != 4:
            raise Fallback
        row.update({"arp_hwtype": hwtype, "arp_ptype": ptype, "arp_hwlen": hwlen, "arp_plen": plen, "arp_op": op,
                    "arp_hwsrc": _mac(hws), "arp_psrc": socket.inet_ntoa(ps), "arp_hwdst": _mac(hwd),
                    "arp_pdst": socket.inet_ntoa(pd)})
        _payload(row, b"", body[28:])
    else:
        raise Fallback
    return row


def frames_to_rows(frames) -> Iterator[dict]:
    """Rows for raw frames: the fast path, scapy for the frames it cannot do."""
    from antinex.pipeline.flatten import packet_to_row

    for frame in frames:
        try:
            yield frame_to_row(frame)
        except (Fallback, struct.error, OSError, ValueError):
            from scapy.layers.l2 import Ether

            yield packet_to_row(Ether(frame))


def read_frames(path) -> Iterator[bytes]:
    """Raw frames of a pcap/pcapng file (no scapy packets are built)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapReader

    try:
        reader = RawPcapReader(str(path))
    except (OSError, Scapy_Exception) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    with reader:
        for frame, _meta in reader:
            yield frame
