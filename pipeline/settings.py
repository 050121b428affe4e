"""Pipeline settings (the original's variable names), each read through its declaration in utils/config.py."""
from __future__ import annotations

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
