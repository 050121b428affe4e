"""Pipeline settings from the environment (the original's variable names)."""
from __future__ import annotations

import os

from antinex.utils.consts import DEFAULT_PACKETS_BROKER_URL, NEW_PACKETS


def broker_url() -> str:
    return os.environ.get("FORWARD_BROKER_URL", DEFAULT_PACKETS_BROKER_URL)


def exchange_name() -> str:
    return os.environ.get("FORWARD_EXCHANGE", NEW_PACKETS)


def routing_key() -> str:
    return os.environ.get("FORWARD_ROUTING_KEY", NEW_PACKETS)


def queue_name() -> str:
    return os.environ.get("FORWARD_QUEUE", NEW_PACKETS)


def source_host() -> str:
    return os.environ.get("SOURCE_HOST", os.uname().nodename)


def capture_buffer_bytes() -> int:
    """The capture socket's receive buffer: bursts the agent cannot keep up with wait there."""
    return int(float(os.environ.get("CAPTURE_BUFFER_MB", "64")) * 1024 * 1024)
