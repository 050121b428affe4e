"""api/ml/notify.py in this process: pg_notify at the commit, a LISTENing wait, the cap on waits."""
from __future__ import annotations

import select
import threading
import time

import pytest

from antinex.utils.consts import Result, Status

pytestmark = pytest.mark.stack


@pytest.fixture
def listener(django_here):
    """A raw PostgreSQL connection of its own, LISTENing on a result's channel."""
    import psycopg2

    conn = psycopg2.connect(django_here["DATABASE_URL"])
    conn.autocommit = True
    yield conn
    conn.close()


def notified(conn, channel: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if select.select([conn], [], [], max(deadline - time.monotonic(), 0))[0]:
            conn.poll()
            if any(n.channel == channel for n in conn.notifies):
                return True
    return False


def test_a_finished_result_is_announced_at_the_commit_and_never_before(job, listener):
    from django.db import transaction

    from antinex.api.ml.notify import channel, notify_done
    from antinex.api.ml.records import record_results

    job, result = job
    name = channel(result.id)
    assert name == f"antinex_result_{result.id}"
    with listener.cursor() as cur:
        cur.execute(f'LISTEN "{name}"')
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            notify_done(result.id)
            raise RuntimeError("rolled back")
    assert not notified(listener, name, 0.3)  # a rollback announces nothing
    with transaction.atomic():
        notify_done(result.id)
        assert not notified(listener, name, 0.3)  # not yet: the row is not visible to anyone else
    assert notified(listener, name, 2)
    listener.notifies.clear()
    record_results(job.id, result.id, {"status": Result.SUCCESS, "acc": {"accuracy": 1.0}})
    assert notified(listener, name, 2)


def test_wait_until_wakes_at_the_notification(job):
    from django.db import connection

    from antinex.api.ml.models import MLJobResult
    from antinex.api.ml.notify import wait_until
    from antinex.api.ml.records import record_results

    job, result = job
    is_done = lambda: MLJobResult.objects.filter(pk=result.pk, status=Status.FINISHED).exists()  # noqa: E731

    def finish_later():
        time.sleep(0.5)
        record_results(job.id, result.id, {"status": Result.SUCCESS, "acc": {"accuracy": 1.0}})
        connection.close()  # this thread's own connection

    thread = threading.Thread(target=finish_later)
    started = time.monotonic()
    thread.start()
    assert wait_until(is_done, result.id, 20) is True
    waited = time.monotonic() - started
    thread.join()
    assert 0.4 < waited < 15  # woken by the notification, not by the 20 s deadline
    assert wait_until(is_done, result.id, 5) is True  # already done: no wait at all


def test_wait_until_gives_up_at_its_deadline(job):
    from antinex.api.ml.models import MLJobResult
    from antinex.api.ml.notify import wait_until

    _, result = job
    started = time.monotonic()
    assert wait_until(lambda: MLJobResult.objects.filter(pk=result.pk, status=Status.FINISHED).exists(),
                      result.id, 0.5) is False
    assert 0.4 < time.monotonic() - started < 10


def test_wait_slots_are_capped_per_process(django_here):
    from antinex.api.ml.notify import wait_slot

    assert django_here["ANTINEX_MAX_CONCURRENT_WAITS"] == "2"
    with wait_slot() as first, wait_slot() as second, wait_slot() as third:
        assert (first, second, third) == (True, True, False)
    with wait_slot() as again:
        assert again is True  # given back
