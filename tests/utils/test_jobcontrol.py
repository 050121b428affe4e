"""StopCheck and CancelFlags (a real Redis), and the Keras callback that asks them between batches."""
from __future__ import annotations

import time

import numpy as np
import pytest

from bodies import ml_body
from conftest import free_port
from antinex.utils import jobcontrol
from antinex.utils.jobcontrol import (CANCEL_TTL, CANCELLED, SHUTDOWN, TIME_LIMIT, CancelFlags, JobStopped, StopCheck,
                              cancel_key, celery_time_limits)

from .conftest import FEATURES, LAYERS, separable


@pytest.fixture(autouse=True)
def not_shutting_down():
    jobcontrol.SHUTTING_DOWN.clear()
    yield
    jobcontrol.SHUTTING_DOWN.clear()


def _stopped(stop: StopCheck) -> JobStopped:
    with pytest.raises(JobStopped) as caught:
        stop.check()
    return caught.value


def test_deadline():
    stop = StopCheck.for_job(0.2)
    stop.check()  # within the limit
    time.sleep(0.25)
    exc = _stopped(stop)
    assert exc.reason == TIME_LIMIT and "0.2 s" in str(exc) and "ANTINEX_JOB_TIME_LIMIT" in str(exc)
    assert exc.result() == {"status": 2, "err": str(exc), "stopped": TIME_LIMIT}
    for unlimited in (None, 0):
        StopCheck.for_job(unlimited).check()
        assert StopCheck.for_job(unlimited).deadline is None


def test_cancel_is_asked_at_most_every_interval():
    asked = []
    answer = [False]

    def is_cancelled() -> bool:
        asked.append(time.monotonic())
        return answer[0]

    stop = StopCheck.for_job(None, is_cancelled=is_cancelled)
    stop.interval = 0.2
    for _ in range(200):  # a Redis round trip per batch would slow training down
        stop.check()
    assert len(asked) == 1
    time.sleep(0.25)
    stop.check()
    assert len(asked) == 2
    answer[0] = True
    stop.check()  # flagged, but not asked again yet
    time.sleep(0.25)
    exc = _stopped(stop)
    assert exc.reason == CANCELLED and "cancelled" in str(exc) and len(asked) == 3


def test_shutdown_event_stops_every_job():
    stop = StopCheck.for_job(3600, is_cancelled=lambda: False)
    stop.check()
    jobcontrol.SHUTTING_DOWN.set()
    assert _stopped(stop).reason == SHUTDOWN
    assert _stopped(StopCheck()).reason == SHUTDOWN  # a job taken after the signal never starts


def test_cancel_flags_on_a_real_redis(redis_db):
    flags = CancelFlags(redis_db("core"))
    flags.cancel(41)
    assert flags.is_cancelled(41) and flags.is_cancelled("41")
    assert not flags.is_cancelled(42)
    assert 0 < flags.redis.ttl(cancel_key(41)) <= CANCEL_TTL
    assert _stopped(StopCheck.for_job(None, is_cancelled=lambda: flags.is_cancelled(41))).reason == CANCELLED
    StopCheck.for_job(None, is_cancelled=lambda: flags.is_cancelled(42)).check()


def test_redis_errors_are_ignored():
    import redis

    flags = CancelFlags(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(redis.ConnectionError):
        flags.is_cancelled(1)
    stop = StopCheck.for_job(None, is_cancelled=lambda: flags.is_cancelled(1))
    stop.check()  # keeps training; asks again after the interval
    stop._next_ask = 0.0
    stop.check()


def test_celery_time_limits_leave_a_margin():
    limits = celery_time_limits(3600)
    assert 3600 < limits["soft_time_limit"] < limits["time_limit"]


# -- the Keras side: utils/train.py and utils/make_predictions.py ---------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("jobcontrol") / "d.csv"
    separable(300, seed=5).to_csv(path, index=False)
    return path


def _body(dataset, **over) -> dict:
    return ml_body("stoppable", dataset, features=FEATURES, **{"epochs": 1000, "batch_size": 1, "seed": 2,
                                                                "model_desc": {"layers": LAYERS}, **over})


def test_training_stops_at_the_next_batch_and_saves_nothing(dataset, tmp_path):
    from antinex.utils.make_predictions import make_predictions
    from antinex.utils.model_store import ModelStore

    store = ModelStore(tmp_path / "models")
    started = time.monotonic()
    with pytest.raises(JobStopped) as caught:  # propagates: not turned into an error dict
        make_predictions(_body(dataset), store=store, stop=StopCheck.for_job(1.0))
    assert caught.value.reason == TIME_LIMIT
    assert time.monotonic() - started < 20  # 1000 epochs of batch 1 would take minutes
    assert not store.exists("stoppable")


def test_cross_validation_folds_are_stopped_too(dataset):
    from antinex.utils.dataset import load_frame
    from antinex.utils.request import parse_request
    from antinex.utils.train import cross_validate

    req = parse_request(_body(dataset, cross_validate=True, num_splits=3))
    df = load_frame(req)
    x = df[["tcp_dport", "ip_len", "ratio"]].to_numpy(np.float32)
    y = df["label_value"].to_numpy(np.float32)
    asked = []
    stop = StopCheck(is_cancelled=lambda: asked.append(1) or len(asked) > 2, interval=0)
    with pytest.raises(JobStopped) as caught:
        cross_validate(req, x, y, 1, stop)
    assert caught.value.reason == CANCELLED and len(asked) == 3


def test_prediction_with_a_stored_model_asks_before_predicting(dataset):
    from antinex.utils.make_predictions import make_predictions

    trained = make_predictions(_body(dataset, epochs=1, batch_size=64))
    assert trained["status"] == 0, trained["err"]
    rows = {"label": "stoppable", "predict_rows": separable(5, seed=1).to_dict("records"),
            "features_to_process": ["tcp_dport", "ip_len", "ratio"]}
    assert make_predictions(rows, trained=trained["model"], stop=StopCheck())["status"] == 0
    jobcontrol.SHUTTING_DOWN.set()
    with pytest.raises(JobStopped) as caught:
        make_predictions(rows, trained=trained["model"], stop=StopCheck())
    assert caught.value.reason == SHUTDOWN
