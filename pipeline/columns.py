"""The column vocabulary: the one place that names flattened packet columns.

A column is a layer prefix plus a field name; nested keys are joined with
``.`` (``tcp_fields_options.MSS``); ``idx`` comes first. See docs/columns.md.
"""
from __future__ import annotations

# scapy layer name (lower-cased class name) -> column prefix
PREFIXES: dict[str, str] = {
    "ether": "eth_",
    "ip": "ip_",
    "ipv6": "ipv6_",
    "tcp": "tcp_",
    "udp": "udp_",
    "dns": "dns_",
    "icmp": "icmp_",
    "arp": "arp_",
    "raw": "raw_",
    "padding": "pad_",
}

# The original subscriber always wrote these (always empty; note "ipvsix").
PLACEHOLDER_IDS: tuple[str, ...] = (
    "eth_id", "ip_id", "ipvsix_id", "icmp_id", "arp_id", "tcp_id", "udp_id", "dns_id", "raw_id", "pad_id",
)

# Fields the v1 converter overwrote into the previous field's key (its bug).
V1_STALE_KEY_FIELDS = frozenset(
    {"proto", "flags", "ack", "id", "window", "dataofs", "frag", "reserved", "ttl", "chksum"}
)

# TCP options the original kept, in its order.
TCP_OPTION_NAMES: tuple[str, ...] = (
    "EOL", "NOP", "MSS", "WScale", "SAckOK", "SAck", "Timestamp", "AltChkSum", "AltChkSumOpt",
    "Mood", "Experiment",
)

# The 67 input columns of the original Full-Django-AntiNex-Simple-Scaler-DNN
# (cleaned_v1_django_metadata.json headers without label_value).
FULL_DJANGO_FEATURES: tuple[str, ...] = (
    "arp_hwlen", "arp_hwtype", "arp_id", "arp_op", "arp_plen", "arp_ptype",
    "dns_default_aa", "dns_default_ad", "dns_default_an", "dns_default_ancount", "dns_default_ar",
    "dns_default_arcount", "dns_default_cd", "dns_default_id", "dns_default_length", "dns_default_ns",
    "dns_default_nscount", "dns_default_opcode", "dns_default_qd", "dns_default_qdcount", "dns_default_qr",
    "dns_default_ra", "dns_default_rcode", "dns_default_rd", "dns_default_tc", "dns_default_z",
    "dns_id", "eth_id", "eth_type",
    "icmp_addr_mask", "icmp_code", "icmp_gw", "icmp_id", "icmp_ptr", "icmp_seq", "icmp_ts_ori",
    "icmp_ts_rx", "icmp_ts_tx", "icmp_type", "icmp_unused",
    "idx", "ip_id", "ip_ihl", "ip_len", "ip_tos", "ip_version",
    "ipv6_fl", "ipv6_hlim", "ipv6_nh", "ipv6_plen", "ipv6_tc", "ipv6_version", "ipvsix_id",
    "pad_id", "tcp_dport", "tcp_fields_options.MSS", "tcp_fields_options.NOP",
    "tcp_fields_options.SAckOK", "tcp_fields_options.Timestamp", "tcp_fields_options.WScale",
    "tcp_id", "tcp_seq", "tcp_sport", "udp_dport", "udp_id", "udp_len", "udp_sport",
)

# Default (correct) mode: the numeric header columns every row carries, in
# a fixed order so appended CSV files stay aligned. Payload and address
# columns follow.
DEFAULT_NUMERIC: tuple[str, ...] = (
    "eth_type",
    "ip_version", "ip_ihl", "ip_tos", "ip_len", "ip_id", "ip_flags", "ip_frag", "ip_ttl", "ip_proto",
    "ip_chksum",
    "ipv6_version", "ipv6_tc", "ipv6_fl", "ipv6_plen", "ipv6_nh", "ipv6_hlim",
    "tcp_sport", "tcp_dport", "tcp_seq", "tcp_ack", "tcp_dataofs", "tcp_reserved", "tcp_flags",
    "tcp_window", "tcp_chksum", "tcp_urgptr",
    "tcp_fields_options.MSS", "tcp_fields_options.WScale", "tcp_fields_options.SAckOK",
    "tcp_fields_options.Timestamp", "tcp_fields_options.NOP",
    "udp_sport", "udp_dport", "udp_len", "udp_chksum",
    "dns_id", "dns_qr", "dns_opcode", "dns_aa", "dns_tc", "dns_rd", "dns_ra", "dns_z", "dns_ad", "dns_cd",
    "dns_rcode", "dns_qdcount", "dns_ancount", "dns_nscount", "dns_arcount", "dns_qd.qtype", "dns_qd.qclass",
    "icmp_type", "icmp_code", "icmp_chksum", "icmp_id", "icmp_seq",
    "arp_hwtype", "arp_ptype", "arp_hwlen", "arp_plen", "arp_op",
    "raw_len", "pad_len",
)
DEFAULT_TEXT: tuple[str, ...] = (
    "eth_src", "eth_dst", "ip_src", "ip_dst", "ipv6_src", "ipv6_dst", "arp_hwsrc", "arp_psrc",
    "arp_hwdst", "arp_pdst", "dns_qd.qname", "raw_load", "pad_load",
)
DEFAULT_COLUMNS: tuple[str, ...] = ("idx",) + DEFAULT_NUMERIC + DEFAULT_TEXT

# Columns that identify hosts: never model features (they would teach the
# model who attacked in the recording, not what an attack looks like).
ADDRESS_COLUMNS = frozenset(
    {"eth_src", "eth_dst", "ip_src", "ip_dst", "ipv6_src", "ipv6_dst", "arp_hwsrc", "arp_psrc",
     "arp_hwdst", "arp_pdst"}
)

# Columns that identify a row or carry the answer (the prepare step's labels,
# the merge's bookkeeping): never model features unless a request names them
# in features_to_process (utils/dataset.py).
LEAKING_COLUMNS = frozenset(
    {"idx", "label_name", "label_value", "_dataset_index", "src_file", "_row_idx", "_count"}
)


def v1_columns(seen: set[str] | list[str]) -> list[str]:
    """The original CSV's column order: ``idx``, then placeholders and seen keys sorted."""
    cols = set(seen) | set(PLACEHOLDER_IDS)
    cols.discard("idx")
    return ["idx"] + sorted(cols)
