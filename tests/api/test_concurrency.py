"""Concurrent users submitting jobs: every job recorded, finished, and owned by its sender."""
from __future__ import annotations

import concurrent.futures as cf

import pytest

from .conftest import job_body

pytestmark = pytest.mark.stack

USERS = ("carl", "dina", "emil")
JOBS_EACH = 4


def test_concurrent_users_are_never_mixed_up(stack):
    sessions = {}
    for name in USERS:
        stack.create_user(name, f"{name}-pass-1")
        sessions[name] = stack.client(name, f"{name}-pass-1")

    def submit(name: str, n: int) -> tuple[str, int, int]:
        body = job_body("train.csv", label=f"{name}-model-{n}", epochs=1)
        r = sessions[name].post(f"{stack.url}/ml/", json=body)
        assert r.status_code == 201, r.text
        return name, r.json()["job"]["id"], r.json()["results"]["id"]

    with cf.ThreadPoolExecutor(len(USERS) * 2) as pool:
        submitted = list(pool.map(lambda a: submit(*a), [(u, n) for u in USERS for n in range(JOBS_EACH)]))
    for name, job_id, result_id in submitted:
        result = stack.wait_for_result(sessions[name], result_id, timeout=240)
        assert result["status"] == "finished" and result["user_name"] == name and result["job_id"] == job_id
    for name in USERS:
        jobs = sessions[name].get(f"{stack.url}/ml/?page_size=100").json()["jobs"]
        mine = {j["id"] for j in jobs}
        assert mine == {job for who, job, _ in submitted if who == name}
        assert {j["user_name"] for j in jobs} == {name}
        assert all(j["title"].startswith(f"{name}-model-") for j in jobs)
