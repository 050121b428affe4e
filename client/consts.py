"""Client result codes and settings (the original antinex-client's names).

The result codes are ``antinex.utils.consts.Result``, the one set every part
uses (3 and 4 are the published client's NOT_SET and DISABLED; docs/api.md).
The settings are declared once in ``utils/config.py``; each ``ANTINEX_*``
name also answers to the original client's ``API_*`` name.
"""
from __future__ import annotations

import os

from antinex.utils import config
from antinex.utils.consts import DISABLED, ERROR, FAILED, NOT_SET, SUCCESS, Result

__all__ = ["SUCCESS", "FAILED", "ERROR", "NOT_SET", "DISABLED", "Result", "LOGIN_SUCCESS", "LOGIN_FAILED",
           "LOGIN_NOT_ATTEMPTED", "setting", "ev", "env_url", "env_user", "env_password", "env_email"]

# the login state of an AIClient: the published client's own values (not result codes: 1 is "not attempted")
LOGIN_SUCCESS = 0
LOGIN_NOT_ATTEMPTED = 1
LOGIN_FAILED = 2


def setting(name: str):
    """A client setting (utils/config.py), from the environment or its default."""
    return config.value(name, "client")


def ev(name: str, default: str | None = None) -> str | None:
    """An environment variable or its default (the original client's helper, kept for scripts).

    The client itself reads its settings with :func:`setting`; ``ev`` is public API of the published client for
    users' scripts reading their own variables, so it reads any name, raw, as it always did.
    """
    return os.environ.get(name, default)


def env_url() -> str:
    return setting("ANTINEX_URL")


def env_user() -> str:
    return setting("ANTINEX_USER")


def env_password() -> str:
    return setting("ANTINEX_PASSWORD")


def env_email() -> str:
    return setting("ANTINEX_EMAIL")
