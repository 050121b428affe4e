"""api/ml/records.py in this process, on a real PostgreSQL database: results and statuses onto records."""
from __future__ import annotations

import pytest

from antinex.utils.consts import ControlState, Result, Status

pytestmark = pytest.mark.stack

GOOD = {"status": Result.SUCCESS, "err": "", "acc": {"accuracy": 97.5},
        "metrics": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "roc_auc": None},
        "history": {"loss": [0.5, 0.3]}, "model_json": '{"class_name": "Sequential"}', "weights": {},
        "model_ref": {"key": "user_1.x", "checksum": "abc"}, "sample_predictions": [{"label_value": 1}] * 3,
        "num_predictions": 3, "trained": True, "model_source": "trained"}


def reload(job, result):
    job.refresh_from_db()
    result.refresh_from_db()
    return job, result


def test_a_result_finishes_the_job(job):
    from antinex.api.ml.records import record_results

    job, result = job
    assert record_results(job.id, result.id, GOOD) is True
    job, result = reload(job, result)
    assert job.status == result.status == Status.FINISHED and job.control_state == ControlState.FINISHED
    assert result.acc_data == {"accuracy": 97.5, "precision": 0.9, "recall": 0.8, "f1": 0.85}  # None left out
    assert result.model_json == {"class_name": "Sequential"} and result.history == {"loss": [0.5, 0.3]}
    assert result.predictions_json["num_predictions"] == 3 and len(result.predictions_json["predictions"]) == 3
    assert job.predict_manifest["predict_rows"] == [{"a": 1}]  # the manifest is never rewritten


def test_results_are_idempotent_and_an_error_never_undoes_a_finished_result(job):
    from antinex.api.ml.records import record_results

    job, result = job
    record_results(job.id, result.id, GOOD)
    first = reload(job, result)[1].updated
    assert record_results(job.id, result.id, GOOD) is True  # a redelivery writes the same values
    job, result = reload(job, result)
    assert result.status == Status.FINISHED and result.acc_data["accuracy"] == 97.5 and result.updated >= first
    record_results(job.id, result.id, {"status": Result.ERR, "err": "late failure"})
    job, result = reload(job, result)
    assert job.status == result.status == Status.FINISHED and result.error_data == {}


@pytest.mark.parametrize("data,reason", [
    ({"status": Result.ERR, "err": "dataset: has no rows"}, "dataset: has no rows"),
    ({"status": Result.ERR}, "the worker reported an error without a reason"),
    ({"status": Result.SUCCESS, "err": "a message says it failed"}, "a message says it failed"),
])
def test_a_failure_ends_the_job_in_error_with_its_reason(job, data, reason):
    from antinex.api.ml.records import record_results

    job, result = job
    record_results(job.id, result.id, data)
    job, result = reload(job, result)
    assert job.status == result.status == Status.ERROR and job.control_state == ControlState.ERROR
    assert job.error_data == result.error_data == {"error": reason}


def test_a_cancelled_job_keeps_its_status_and_deleted_records_drop_results(job):
    from antinex.api.ml.records import mark, record_results

    job, result = job
    mark(job.id, result.id, Status.CANCELLED, "cancelled by its owner")
    assert record_results(job.id, result.id, GOOD) is True
    job, result = reload(job, result)
    assert job.status == result.status == Status.CANCELLED and job.control_state == ControlState.CANCEL
    assert result.acc_data == {"accuracy": -1.0}
    job_id, result_id = job.id, result.id
    job.delete()
    assert record_results(job_id, result_id, GOOD) is False


def test_mark_moves_statuses_forward_only(job):
    from antinex.api.ml.records import mark

    job, result = job
    mark(job.id, result.id, Status.STARTED)
    job, result = reload(job, result)
    assert job.status == Status.STARTED and result.status == Status.PROCESSING  # a result has no "started"
    assert job.control_state == ControlState.ACTIVE
    mark(job.id, result.id, Status.ERROR, "could not queue the job")
    job, result = reload(job, result)
    assert job.status == result.status == Status.ERROR and job.error_data == {"error": "could not queue the job"}
    mark(job.id, result.id, Status.STARTED)  # a final status is final
    assert reload(job, result)[0].status == Status.ERROR
    mark(job.id + 10**9, None, Status.STARTED)  # no such job: nothing happens, nothing raises


def test_predictions_beyond_the_limit_are_never_stored(job):
    from antinex.api.ml.records import record_results
    from antinex.utils.limits import LIMITS

    job, result = job
    many = {**GOOD, "sample_predictions": [{"i": i} for i in range(LIMITS.max_records + 5)],
            "num_predictions": LIMITS.max_records + 5}
    record_results(job.id, result.id, many)
    result.refresh_from_db()
    assert len(result.predictions_json["predictions"]) == LIMITS.max_records
    assert result.predictions_json["num_predictions"] == LIMITS.max_records + 5  # the count says how many there were
