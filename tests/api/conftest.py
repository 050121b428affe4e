from __future__ import annotations

import os
import uuid

import numpy as np
import pandas as pd
import pytest

from bodies import original_body
from conftest import redis_url


def write_dataset(path, n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({"idx": np.arange(n), "tcp_dport": np.where(y == 1, 8080, 80) + rng.integers(0, 3, n),
                       "ip_len": rng.integers(40, 1500, n),
                       "payload_n_quote": np.where(y == 1, rng.integers(2, 9, n), 0),
                       "label_value": y})
    df.to_csv(path, index=False)
    return path


def job_body(dataset: str, label: str = "Api-Test-DNN", **over) -> dict:
    return original_body(dataset, label, **over)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("api"), core_redis=redis_url("api_core"), with_core=False,
                   tmp_path=tmp_path_factory.mktemp("api-stack"),
                   extra_env={"ANTINEX_MAX_BODY_BYTES": "2000000"}) as s:
        write_dataset(s.datasets_dir / "train.csv")
        yield s


# -- the API's modules in this process (unit tests of records, notify, dispatch) ---------------
UNIT_QUEUES = {"TRAIN_QUEUE": f"unit.train.{uuid.uuid4().hex[:8]}",
               "PREDICT_QUEUE": f"unit.predict.{uuid.uuid4().hex[:8]}"}


@pytest.fixture(scope="session")
def django_here(tmp_path_factory):
    """Django set up in the test process on a fresh PostgreSQL database of its own, migrated.

    Brokers: the API package's core database (``api_core``: with no core
    started there, nothing else consumes it) and queues of their own, so the
    messages the tests publish can be read back. The environment is put back
    once the settings are read: the live stacks this package also starts
    must not inherit it.
    """
    import django
    import psycopg2
    from django.core.management import call_command

    from conftest import PG_URL_BASE

    name = f"antinex_unit_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(f"{PG_URL_BASE}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    tmp = tmp_path_factory.mktemp("django-here")
    env = {"DJANGO_SETTINGS_MODULE": "antinex.api.settings", "DATABASE_URL": f"{PG_URL_BASE}/{name}",
           "ANTINEX_API_BROKER_URL": redis_url("api_core"), "ANTINEX_CORE_BROKER_URL": redis_url("api_core"),
           "ANTINEX_WORKER_ENABLED": "1", "CELERY_ENABLED": "1", "ANTINEX_DATASETS_DIR": str(tmp / "datasets"),
           "ANTINEX_MODEL_STORE": str(tmp / "models"), "ANTINEX_MAX_CONCURRENT_WAITS": "2", **UNIT_QUEUES}
    saved = dict(os.environ)
    for key in ("BROKER_URL", "ANTINEX_AUTH_URL", "ANTINEX_RESULT_AUTH_URL", "ANTINEX_VISIBILITY_TIMEOUT"):
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        django.setup()
        call_command("migrate", verbosity=0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield env
    from django.db import connections

    connections.close_all()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def take(broker_url: str, queue: str, timeout: float = 5):
    """The next Celery message on ``queue``: (task name, args)."""
    from kombu import Connection

    with Connection(broker_url) as conn:
        simple = conn.SimpleQueue(queue, no_ack=True)
        try:
            message = simple.get(timeout=timeout)
        finally:
            simple.close()
    args, kwargs, _ = message.decode()
    assert kwargs == {}
    return message.headers["task"], args


@pytest.fixture
def owner(django_here):
    """A user of their own for one test (records are committed: notifications need real commits)."""
    from django.contrib.auth.models import User

    user = User.objects.create_user(f"u{uuid.uuid4().hex[:10]}", password="x-pass-1")
    yield user
    user.delete()  # and every record of theirs


@pytest.fixture
def job(owner):
    """A job and its result, as POST /ml/ records them."""
    from antinex.api.ml.models import MLJob, MLJobResult

    job = MLJob.objects.create(user=owner, title="t", predict_manifest={"label": "x", "predict_rows": [{"a": 1}]})
    result = MLJobResult.objects.create(user=owner, job=job, acc_data={"accuracy": -1.0})
    return job, result
