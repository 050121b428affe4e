"""``AIClient``: the AntiNex REST API from Python (the original's interface).

Every call returns ``{"status": SUCCESS|FAILED|ERROR|..., "error": str, "data": ...}``;
nothing hangs: every request has a timeout and waits have a deadline.
"""
from __future__ import annotations

import time
from typing import Any

import requests

from antinex.client import consts
from antinex.client.consts import ERROR, FAILED, LOGIN_FAILED, SUCCESS
from antinex.utils.consts import Status

DONE_JOB = (Status.FINISHED, Status.COMPLETED, Status.LAUNCHED)


def _resp(status: int, error: str = "", data: Any = None) -> dict:
    return {"status": status, "error": error, "data": data}


def _outcome(what: str, res: dict, data: Any = None) -> dict | None:
    """The final answer once ``res`` (a GET of a job, result or prepare) is done; None while it runs."""
    if res["status"] != SUCCESS:
        return res
    status = res["data"].get("status")
    if status == Status.FINISHED:
        return _resp(SUCCESS, "", data if data is not None else res["data"])
    if status in (Status.ERROR, Status.CANCELLED):
        return _resp(FAILED, f"{what} {'failed' if status == Status.ERROR else 'was cancelled'}: "
                             f"{(res['data'].get('error_data') or {}).get('error')}",
                     data if data is not None else res["data"])
    return None


class AIClient:
    """Log in with a JWT, run jobs, wait for them, read jobs, results and prepares."""

    def __init__(self, user: str | None = None, password: str | None = None, url: str | None = None,
                 email: str | None = None, verbose: bool = True, ca_dir: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None, debug: bool = False,
                 timeout: float = 30.0):
        self.user = user or consts.env_user()
        self.password = password or consts.env_password()
        self.url = (url or consts.env_url()).rstrip("/")
        self.email = email or consts.env_email()
        self.verbose, self.debug, self.timeout = verbose, debug, timeout
        self.session = requests.Session()
        self.session.verify = ca_dir or cert_file or True
        if cert_file and key_file:
            self.session.cert = (cert_file, key_file)
        self.token = ""
        self.login_status = consts.LOGIN_NOT_ATTEMPTED
        self.last_status: int | None = None  # HTTP status and Retry-After of the last call
        self.last_retry_after: str | None = None

    # -- auth -------------------------------------------------------------------
    def login(self) -> int:
        try:
            r = self.session.post(f"{self.url}/api-token-auth/", json={"username": self.user,
                                                                       "password": self.password},
                                  timeout=self.timeout)
        except requests.RequestException as exc:
            self.login_status = LOGIN_FAILED
            self.last_error = f"cannot reach {self.url}: {type(exc).__name__}"
            return LOGIN_FAILED
        if r.status_code == 200 and r.json().get("token"):
            self.token = r.json()["token"]
            self.login_status = consts.LOGIN_SUCCESS
            return consts.LOGIN_SUCCESS
        self.login_status = LOGIN_FAILED
        self.last_error = f"login failed for user {self.user}: {self._reason(r)}"
        return LOGIN_FAILED

    def is_logged_in(self) -> bool:
        return bool(self.token)

    def get_token(self) -> str:
        return self.token

    def get_auth_header(self) -> dict:
        return {"Authorization": f"JWT {self.token}"}

    @staticmethod
    def _reason(r: requests.Response) -> str:
        try:
            body = r.json()
        except ValueError:
            return f"HTTP {r.status_code}"
        if isinstance(body, dict):
            return str(body.get("error") or body.get("detail") or body)
        return str(body)

    def _call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw) -> dict:
        """One authenticated request; logs in (again) once on 401."""
        if not self.token and self.login() != consts.LOGIN_SUCCESS:
            return _resp(LOGIN_FAILED, self.last_error)
        for attempt in range(2):
            try:
                r = self.session.request(method, f"{self.url}{path}", headers=self.get_auth_header(),
                                         timeout=self.timeout, **kw)
            except requests.RequestException as exc:
                return _resp(ERROR, f"cannot reach {self.url}: {type(exc).__name__}: {exc}")
            if r.status_code == 401 and attempt == 0:
                if self.login() != consts.LOGIN_SUCCESS:
                    return _resp(LOGIN_FAILED, self.last_error)
                continue
            break
        self.last_status = r.status_code
        self.last_retry_after = r.headers.get("Retry-After")
        if r.status_code in expect:
            try:
                return _resp(SUCCESS, "", r.json() if r.content else {})
            except ValueError:
                return _resp(ERROR, f"{path} answered non-JSON with HTTP {r.status_code}")
        return _resp(FAILED if r.status_code < 500 else ERROR,
                     f"{method} {path} answered {r.status_code}: {self._reason(r)}",
                     r.json() if r.headers.get("content-type", "").startswith("application/json") else None)

    # -- reads ------------------------------------------------------------------
    def get_job_by_id(self, job_id) -> dict:
        return self._call("GET", f"/ml/{int(job_id)}/")

    def get_result_by_id(self, result_id, wait: float = 0) -> dict:
        """The result; with ``wait`` the server answers once it is done, or after ``wait`` seconds."""
        params = {"wait": f"{wait:g}"} if wait else None
        return self._call("GET", f"/mlresults/{int(result_id)}/", params=params)

    def get_prepare_by_id(self, prepare_id) -> dict:
        return self._call("GET", f"/mlprepare/{int(prepare_id)}/")

    # -- jobs -------------------------------------------------------------------
    def run_job(self, body: dict, quota_wait: float = 0.0) -> dict:
        """POST /ml/; with ``quota_wait`` a 429 (your quota of queued jobs is full) is tried again,
        after the server's Retry-After, for up to that many seconds."""
        deadline = time.time() + quota_wait
        while True:
            res = self._call("POST", "/ml/", expect=(201,), json=body)
            if res["status"] == SUCCESS or self.last_status != 429 or time.time() >= deadline:
                break
            try:
                pause = float(self.last_retry_after or 1)
            except ValueError:
                pause = 1.0
            time.sleep(min(max(pause, 0.05), max(deadline - time.time(), 0.05)))
        if res["status"] == SUCCESS and not (res["data"].get("job") and res["data"].get("results")):
            return _resp(ERROR, "POST /ml/ answered without job and results", res["data"])
        return res

    def predict_rows(self, rows: list[dict], label: str, **request) -> dict:
        """Predict rows with the model trained under ``label`` (no retraining), and wait."""
        res = self.run_job({"label": label, "predict_rows": rows, "publish_to_core": True, **request})
        if res["status"] != SUCCESS:
            return res
        return self.wait_for_job_to_finish(res["data"]["job"]["id"])

    def wait_for_result(self, result_id, sec_to_sleep: float = 0.1, timeout: float | None = 600.0,
                        long_poll: float = 10.0) -> dict:
        """Wait for the result (smaller than the job, which carries every request row) until done.

        Long polls (``GET /mlresults/{id}/?wait=``: the server answers the
        moment the result is recorded); a server that refuses ``wait`` or
        answers early without it is polled every ``sec_to_sleep`` seconds.
        SUCCESS with the result's data when finished; FAILED with the reason on error.
        """
        deadline = time.time() + timeout if timeout else None
        # stay well inside the HTTP timeout of each request
        long_poll = max(0.0, min(long_poll, self.timeout / 2))
        while True:
            wait = long_poll if deadline is None else max(0.0, min(long_poll, deadline - time.time()))
            asked = time.monotonic()
            result = self.get_result_by_id(result_id, wait=round(wait, 3))
            if wait and result["status"] == FAILED and "wait" in str(result.get("error")):
                long_poll = 0.0  # a server that does not take ?wait=: plain polling from now on
                continue
            done = _outcome(f"result {result_id}", result)
            if done is not None:
                return done
            if deadline and time.time() > deadline:
                return _resp(ERROR, f"result {result_id} not finished after {timeout:.0f}s "
                                    f"(status {result['data'].get('status')})")
            if time.monotonic() - asked < wait / 2 or not wait:
                time.sleep(sec_to_sleep)  # the server did not hold the answer

    def wait_for_job_to_finish(self, job_id, sec_to_sleep: float = 1.0, max_retries: int = 100000,
                               timeout: float | None = 600.0, progress: bool = False) -> dict:
        """Poll the job, then its result, until finished; ``{"job", "result"}`` on success."""
        deadline = time.time() + timeout if timeout else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(desc=f"job {job_id}", unit="poll", leave=False)
        try:
            for _ in range(max_retries):
                job = self.get_job_by_id(job_id)
                if job["status"] != SUCCESS:
                    return job
                status = job["data"].get("status")
                if bar:
                    bar.set_postfix(status=status)
                    bar.update(1)
                if status == Status.ERROR:
                    return _resp(FAILED, f"job {job_id} failed: {(job['data'].get('error_data') or {}).get('error')}",
                                 {"job": job["data"], "result": None})
                result_id = (job["data"].get("predict_manifest") or {}).get("result_id")
                if status in DONE_JOB and result_id:
                    result = self.get_result_by_id(result_id)
                    done = _outcome(f"job {job_id}", result,
                                    {"job": job["data"], "result": result["data"]} if "data" in result else None)
                    if done is not None:
                        return done
                if deadline and time.time() > deadline:
                    return _resp(ERROR, f"job {job_id} not finished after {timeout:.0f}s (status {status})")
                time.sleep(sec_to_sleep)
            return _resp(ERROR, f"job {job_id} not finished after {max_retries} polls")
        finally:
            if bar:
                bar.close()

    # -- prepare ----------------------------------------------------------------
    def run_prepare(self, body: dict) -> dict:
        return self._call("POST", "/mlprepare/", expect=(201,), json=body)

    def wait_for_prepare_to_finish(self, prepare_id, sec_to_sleep: float = 1.0, max_retries: int = 100000,
                                   timeout: float | None = 600.0) -> dict:
        deadline = time.time() + timeout if timeout else None
        for _ in range(max_retries):
            res = self.get_prepare_by_id(prepare_id)
            done = _outcome(f"prepare {prepare_id}", res)
            if done is not None:
                return done
            if deadline and time.time() > deadline:
                return _resp(ERROR, f"prepare {prepare_id} not finished after {timeout:.0f}s")
            time.sleep(sec_to_sleep)
        return _resp(ERROR, f"prepare {prepare_id} not finished after {max_retries} polls")
