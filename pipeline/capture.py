"""``antinex-capture``: capture agents (root). Each packet becomes a message on NEW_PACKETS.

    antinex-capture tcp|udp|arp|icmp|ssh|telnet [-i IFACE] [-f FILTER] [--count N]

The interface is honoured (the original read CAP_DEVICE and ignored it),
and the broker's own port is always excluded so the agent never captures
the traffic it forwards.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import sys
from urllib.parse import urlparse

from antinex.pipeline import settings

FILTERS = {
    "tcp": "tcp and (port 80 or port 443 or port 8010 or port 8443 or port 8080)",
    "udp": "udp",
    "arp": "arp",
    "icmp": "icmp",
    "ssh": "tcp and port 22",
    "telnet": "tcp and port 23",
}


def capture_filter(kind: str, custom: str | None, broker_url: str) -> str:
    """The BPF filter for an agent, with the broker's port excluded."""
    base = custom or settings.network_filter() or FILTERS[kind]
    port = urlparse(broker_url).port or 6379
    return f"({base}) and not port {port}"


MTU = 0xFFFF  # the largest frame read in one call (GRO can merge segments beyond the link MTU)


def _grow_receive_buffer(sock) -> None:
    # bursts wait in the kernel while the agent catches up, instead of being dropped
    # (SO_RCVBUFFORCE: root may exceed net.core.rmem_max)
    ins = getattr(sock, "ins", None)
    if ins is None:
        return
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            ins.setsockopt(socket.SOL_SOCKET, option, settings.capture_buffer_bytes())
            return
        except OSError:
            continue


ARPHRD_LOOPBACK = 772


def _receive(sock) -> tuple[object, bytes | None, float | None]:
    """(link class, frame, kernel timestamp) of the next frame; no frame for loopback's echo.

    On a loopback device a packet socket sees every packet twice, once
    outgoing and once incoming; like libpcap (tcpdump), keep the incoming one.
    """
    recv = getattr(sock, "_recv_raw", None)
    if recv is None:  # another scapy: its public reader, echoes included
        return sock.recv_raw()
    frame, addr, when = recv(sock.ins, MTU)
    if addr and len(addr) > 3 and addr[2] == socket.PACKET_OUTGOING and addr[3] == ARPHRD_LOOPBACK:
        return None, None, None
    if when is None:
        from scapy.arch.linux import get_last_packet_timestamp

        when = get_last_packet_timestamp(sock.ins)
    return sock.LL, frame, when


SOL_PACKET, PACKET_STATISTICS = 263, 6


def kernel_drops(sock) -> int | None:
    """Packets the kernel dropped for this socket since the last call (full buffer), if it says."""
    ins = getattr(sock, "ins", None)
    try:
        _, drops = struct.unpack("II", ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    except (AttributeError, OSError, struct.error):
        return None
    return drops


def run(kind: str, iface: str | None, bpf: str | None, count: int = 0, mode: str = "default",
        stats: dict | None = None) -> int:
    """Capture and publish until ``count`` packets (0: until interrupted); returns how many were published.

    ``stats``, if given, receives ``dropped``: packets the kernel dropped
    because the agent fell behind (None where the kernel does not say).

    Frames are read raw, without scapy's per-packet dissection, and go
    through the struct fast path (237k packets/s): scapy's ``sniff``
    dissected every packet and lost about one in ten on a busy link.
    """
    from scapy.all import conf  # scapy.all configures the platform's sockets (conf.L2listen)
    from scapy.layers.l2 import Ether

    from antinex.pipeline.publisher import PacketPublisher

    url = settings.broker_url()
    flt = capture_filter(kind, bpf, url)
    iface = iface or settings.capture_device() or conf.iface
    with PacketPublisher(url, mode=mode) as pub:
        source = settings.source_host()
        sock = conf.L2listen(iface=iface, filter=flt)
        _grow_receive_buffer(sock)
        kernel_drops(sock)  # the counters start at the first read
        try:
            while not count or pub.published < count:
                link, frame, when = _receive(sock)
                if not frame:
                    continue
                if link is Ether:
                    pub.publish_frame(frame, when, source=source)
                elif link is not None:  # not Ethernet (e.g. a tunnel): scapy decides, as sniff did
                    pkt = link(frame)
                    pkt.time = when or pkt.time
                    pub.publish_packet(pkt, source=source)
        except KeyboardInterrupt:
            pass  # Ctrl-C or SIGTERM: the publisher flushes on the way out
        finally:
            if stats is not None:
                stats["dropped"] = kernel_drops(sock)
            sock.close()
        return pub.published


def _stop_on_sigterm() -> None:
    # SIGTERM ends the loop like Ctrl-C, so the publisher flushes its last batch
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="antinex-capture", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=sorted(FILTERS))
    ap.add_argument("-i", "--iface", help="interface (CAP_DEVICE); default: scapy's choice")
    ap.add_argument("-f", "--filter", help="BPF filter (NETWORK_FILTER); the broker port is always excluded")
    ap.add_argument("--count", type=int, default=0, help="stop after N packets (0: never)")
    ap.add_argument("--mode", choices=("default", "v1"), default="default")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("antinex-capture: error: capturing packets needs root (or CAP_NET_RAW)", file=sys.stderr)
        return 2
    _stop_on_sigterm()
    stats: dict = {}
    n = run(args.kind, args.iface, args.filter, args.count, args.mode, stats)
    dropped = stats.get("dropped")
    # frames, not packets: on loopback the kernel's echo of each packet is counted too
    print(f"published {n} packets" + ("" if dropped is None else
                                      f"; the kernel dropped {dropped} frames (the agent fell behind)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
