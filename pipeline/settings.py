"""Pipeline settings (the original's variable names), each read through its declaration in utils/config.py.

The capture agents, the subscriber (its rows, predictions, verdicts and
alerts) and ``antinex-pcap`` read their settings here; docs/settings.md
lists them (made from the declaration).
"""
from __future__ import annotations

from pathlib import Path

from antinex.utils.config import value


def broker_url() -> str:
    return value("FORWARD_BROKER_URL", "pipeline")


def exchange_name() -> str:
    return value("FORWARD_EXCHANGE", "pipeline")


def routing_key() -> str:
    return value("FORWARD_ROUTING_KEY", "pipeline")


def queue_name() -> str:
    return value("FORWARD_QUEUE", "pipeline")


def source_host() -> str:
    return value("SOURCE_HOST", "pipeline")


def capture_buffer_bytes() -> int:
    """The capture socket's receive buffer: bursts the agent cannot keep up with wait there."""
    return int(value("CAPTURE_BUFFER_MB", "pipeline") * 1024 * 1024)


def capture_device() -> str | None:
    """CAP_DEVICE: the interface a capture agent reads, or None for scapy's default."""
    return value("CAP_DEVICE", "pipeline")


def network_filter() -> str | None:
    """NETWORK_FILTER: a BPF filter in place of the agent's own, or None."""
    return value("NETWORK_FILTER", "pipeline")


def log_level() -> str:
    return value("LOG_LEVEL", "pipeline")


# -- the subscriber's rows and predictions --------------------------------------------------------

def ds_dir() -> Path:
    return value("DS_DIR", "pipeline")


def ds_name() -> str:
    return value("DS_NAME", "pipeline")


def rotate_rows() -> int:
    return value("ROTATE_ROWS", "pipeline")


def stop_after() -> int:
    return value("STOP_AFTER_NUM", "pipeline")


def publish_enabled() -> bool:
    """ANTINEX_PUBLISH_ENABLED as the subscriber reads it (default 0: publishing needs an API and a user)."""
    return value("ANTINEX_PUBLISH_ENABLED", "pipeline")


def batch_size() -> int:
    return value("ANTINEX_BATCH_SIZE", "pipeline")


def max_delay() -> float:
    return value("ANTINEX_MAX_DELAY", "pipeline")


def predictions_csv() -> Path:
    return value("ANTINEX_PREDICTIONS_CSV", "pipeline")


# -- the subscriber's verdicts and alerts (docs/verdicts.md) ------------------------------------------

def alerts_enabled() -> bool:
    return value("ANTINEX_ALERTS", "pipeline")


def eve_file() -> Path:
    return value("ANTINEX_EVE_FILE", "pipeline")


def eve_max_bytes() -> int:
    return int(value("ANTINEX_EVE_MAX_MB", "pipeline") * 1024 * 1024)


def eve_backups() -> int:
    return value("ANTINEX_EVE_BACKUPS", "pipeline")


def redis_url() -> str | None:
    return value("ANTINEX_ALERTS_REDIS_URL", "pipeline")


def redis_key() -> str:
    return value("ANTINEX_ALERTS_REDIS_KEY", "pipeline")


def redis_max() -> int:
    return value("ANTINEX_ALERTS_REDIS_MAX", "pipeline")


def syslog_address() -> str | None:
    return value("ANTINEX_ALERTS_SYSLOG", "pipeline")


def syslog_facility() -> str:
    return value("ANTINEX_ALERTS_SYSLOG_FACILITY", "pipeline")


def suppress_file() -> Path | None:
    return value("ANTINEX_SUPPRESS_FILE", "pipeline")


def model_name() -> str:
    return value("ANTINEX_MODEL", "pipeline")


def model_store() -> str:
    """The model store every command shares (ANTINEX_MODEL_STORE, as ``antinex`` and ``antinex-pcap`` read it)."""
    return str(value("ANTINEX_MODEL_STORE", "pipeline"))


def flow_profile() -> Path | None:
    return value("ANTINEX_FLOW_PROFILE", "pipeline")


def tick_after() -> float:
    return value("ANTINEX_TICK_AFTER", "pipeline")


def signature_kinds() -> tuple[str, ...]:
    """ANTINEX_SIGNATURES: the injection signatures checked beside the model (``none``: no signature)."""
    return tuple(k for k in value("ANTINEX_SIGNATURES", "pipeline") if k != "none")


def escalation() -> tuple[int, float]:
    """(ANTINEX_ESCALATE_AFTER, ANTINEX_ESCALATE_WINDOW): pipeline/escalation.py; after 0: off."""
    return value("ANTINEX_ESCALATE_AFTER", "pipeline"), value("ANTINEX_ESCALATE_WINDOW", "pipeline")
