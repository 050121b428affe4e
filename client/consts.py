"""Client status codes and environment defaults (the original antinex-client's names)."""
from __future__ import annotations

import os

SUCCESS = 0
FAILED = 1
ERROR = 2
NOT_SET = 3
DISABLED = 4
LOGIN_SUCCESS = 0
LOGIN_FAILED = 2
LOGIN_NOT_ATTEMPTED = 3


def ev(name: str, default: str | None = None) -> str | None:
    """An environment variable or its default."""
    return os.environ.get(name, default)


def env_url() -> str:
    return ev("ANTINEX_URL") or ev("API_URL") or "http://localhost:8010"


def env_user() -> str:
    return ev("ANTINEX_USER") or ev("API_USER") or "user-not-set"


def env_password() -> str:
    return ev("ANTINEX_PASSWORD") or ev("API_PASSWORD") or "password-not-set"


def env_email() -> str:
    return ev("ANTINEX_EMAIL") or ev("API_EMAIL") or "email-not-set"
