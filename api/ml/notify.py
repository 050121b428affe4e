"""Result-ready notifications: ``GET /mlresults/{id}/?wait=S`` answers when the result is done.

On PostgreSQL the writer sends ``pg_notify`` inside the transaction that
finishes the result, so the notification is delivered exactly when the
finished row becomes visible (never before the commit, never lost to a
rollback). The waiting request ``LISTEN``\\ s on its own connection, checks
the row once more (a result finished just before the LISTEN is seen), then
sleeps on the socket. Other databases (SQLite in development) re-read the
row every 50 ms instead.
"""
from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

POLL_SECONDS = 0.05  # databases without LISTEN/NOTIFY
_SLOTS = threading.BoundedSemaphore(settings.ANTINEX_MAX_CONCURRENT_WAITS) \
    if settings.ANTINEX_MAX_CONCURRENT_WAITS else None


@contextlib.contextmanager
def wait_slot() -> Iterator[bool]:
    """True if this request may wait: at most ``ANTINEX_MAX_CONCURRENT_WAITS`` per process.

    A waiting request holds a server thread and a database connection; the
    cap keeps the other threads free for everything else.
    """
    got = _SLOTS.acquire(blocking=False) if _SLOTS is not None else False
    try:
        yield got
    finally:
        if got:
            _SLOTS.release()


def channel(result_id: int) -> str:
    """The notification channel of one result (a PostgreSQL identifier, well under 63 bytes)."""
    return f"antinex_result_{int(result_id)}"


def notify_done(result_id: int) -> None:
    """Wake the requests waiting on ``result_id``; call inside the transaction that finishes it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, '')", [channel(result_id)])


def wait_until(is_done, result_id: int, timeout: float) -> bool:
    """Block until ``is_done()`` is true or ``timeout`` seconds pass; returns the last ``is_done()``.

    ``is_done`` reads the row (it is called again after every wake-up, so a
    notification is a hint, never trusted on its own).
    """
    deadline = time.monotonic() + timeout
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        while not is_done():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))
        return True
    name = channel(result_id)
    with connection.cursor() as cur:
        cur.execute(f'LISTEN "{name}"')
    raw = connection.connection
    try:
        while not is_done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if select.select([raw], [], [], remaining)[0]:
                raw.poll()
                raw.notifies.clear()
        return True
    finally:
        with connection.cursor() as cur:
            cur.execute(f'UNLISTEN "{name}"')
        raw.notifies.clear()
