"""Settings of the live verdicts and alerts (environment variables, read when the subscriber starts).

| variable | default | what |
|---|---|---|
| ``ANTINEX_ALERTS`` | ``1`` | run the analyzer on the consumed packets and write alerts (``0``: rows only) |
| ``ANTINEX_EVE_FILE`` | ``var/alerts/eve.json`` | the rotating EVE JSON file |
| ``ANTINEX_EVE_MAX_MB`` | ``100`` | rotate the file at this size |
| ``ANTINEX_EVE_BACKUPS`` | ``5`` | rotated files kept (``eve.json.1`` …) |
| ``ANTINEX_ALERTS_REDIS_URL`` | unset | also LPUSH each alert to a list on this Redis |
| ``ANTINEX_ALERTS_REDIS_KEY`` | ``antinex.alerts`` | that list's key |
| ``ANTINEX_ALERTS_REDIS_MAX`` | ``10000`` | the list is trimmed to this many alerts |
| ``ANTINEX_ALERTS_SYSLOG`` | unset | also send each alert to syslog: ``/dev/log`` or ``host:port`` (UDP) |
| ``ANTINEX_ALERTS_SYSLOG_FACILITY`` | ``local5`` | its facility |
| ``ANTINEX_SUPPRESS_FILE`` | unset | a suppression list (docs/verdicts.md) |
| ``ANTINEX_MODEL`` | the quick start's | the stored request model |
| ``ANTINEX_MODEL_STORE`` | ``$ANTINEX_VAR_DIR/models`` | the model store (one for every command: utils/config.py) |
| ``ANTINEX_FLOW_PROFILE`` | unset | a flow profile JSON instead of the model's (or the shipped one) |
| ``ANTINEX_TICK_AFTER`` | ``1.0`` | seconds without packets before the wall clock drives the rules |
"""
from __future__ import annotations

import os


def _get(name: str, default: str) -> str:
    return os.environ.get(name) or default


def alerts_enabled() -> bool:
    return _get("ANTINEX_ALERTS", "1") not in ("0", "false", "no", "off")


def eve_file() -> str:
    return _get("ANTINEX_EVE_FILE", "var/alerts/eve.json")


def eve_max_bytes() -> int:
    return int(float(_get("ANTINEX_EVE_MAX_MB", "100")) * 1024 * 1024)


def eve_backups() -> int:
    return int(_get("ANTINEX_EVE_BACKUPS", "5"))


def redis_url() -> str | None:
    return os.environ.get("ANTINEX_ALERTS_REDIS_URL") or None


def redis_key() -> str:
    return _get("ANTINEX_ALERTS_REDIS_KEY", "antinex.alerts")


def redis_max() -> int:
    return int(_get("ANTINEX_ALERTS_REDIS_MAX", "10000"))


def syslog_address() -> str | None:
    return os.environ.get("ANTINEX_ALERTS_SYSLOG") or None


def syslog_facility() -> str:
    return _get("ANTINEX_ALERTS_SYSLOG_FACILITY", "local5")


def suppress_file() -> str | None:
    return os.environ.get("ANTINEX_SUPPRESS_FILE") or None


def model_name() -> str:
    from antinex.utils.cli import default_model_name

    return _get("ANTINEX_MODEL", default_model_name())


def model_store() -> str:
    from antinex.utils.cli import default_store

    return default_store()


def flow_profile() -> str | None:
    return os.environ.get("ANTINEX_FLOW_PROFILE") or None


def tick_after() -> float:
    return float(_get("ANTINEX_TICK_AFTER", "1.0"))
