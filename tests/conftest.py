"""Fixtures shared by every test area.

The stack's tests talk to the real PostgreSQL and Redis that
``scripts/services.sh`` ensures are running. Each test area uses its own
Redis database numbers (see ``REDIS_DBS``) so areas never see each other's
keys, and ``redis_db`` flushes a database before the test that uses it.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ANTINEX_DATA = SHARED / "datasets" / "antinex"
ARTIFACTS = ROOT / "test-artifacts"

REDIS_HOST = os.environ.get("REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
PG_URL_BASE = os.environ.get(
    "ANTINEX_TEST_PG", "postgres://postgres:postgres@127.0.0.1:5432"
)

# Redis DB numbers by test area. 6, 9 and 15 are the production defaults
# and are never used by tests.
REDIS_DBS = {
    "pipeline": 1,
    "core": 2,
    "core_results": 3,
    "api": 4,
    "api_core": 5,
    "client": 7,
    "client_core": 8,
    "reliability": 10,
    "reliability_core": 11,
    "bench": 12,
    "bench_core": 13,
    "lab": 14,
    "security": 0,
}


def redis_url(area: str) -> str:
    """URL of the Redis database reserved for a test area."""
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DBS[area]}"


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def antinex_data() -> Path:
    """The public AntiNex datasets (tests may read ../shared; the product may not)."""
    if not ANTINEX_DATA.is_dir():
        pytest.skip(f"public AntiNex datasets not found at {ANTINEX_DATA}")
    return ANTINEX_DATA


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def redis_db():
    """Factory: ``redis_db("core")`` flushes that area's database and returns its URL."""

    def _clean(area: str) -> str:
        url = redis_url(area)
        flush_redis(url)
        return url

    return _clean
