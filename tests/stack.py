"""A live AntiNex stack for tests: a fresh PostgreSQL database, migrations,
gunicorn on a free loopback port, the API Celery worker and, on request,
the core worker (one "core" on both queues, or with ``split_core`` a
"core-train" and a "core-predict" worker). Everything is a real process;
everything is stopped (by process group) and the database dropped at exit.
``with_api=False`` starts only the core workers (tests that talk to the
core broker directly).

    with LiveStack(redis_url("api"), core_redis=redis_url("api_core"), with_core=True) as stack:
        stack.create_user("alice", "secret-pass", "alice@example.com")
        token = stack.token("alice", "secret-pass")
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from antinex.utils.consts import DONE_STATUSES  # noqa: E402
from conftest import PG_URL_BASE, REDIS_DBS, REDIS_HOST, REDIS_PORT, flush_redis, free_port  # noqa: E402

from antinex.utils.consts import PREDICT_QUEUE, TRAIN_QUEUE  # noqa: E402

BIN = Path(sys.executable).parent
# name -> queues of the core workers a stack starts
CORE_WORKERS = {"core": (TRAIN_QUEUE, PREDICT_QUEUE)}
SPLIT_CORE_WORKERS = {"core-train": (TRAIN_QUEUE,), "core-predict": (PREDICT_QUEUE,)}


def _redis(value: int | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{value}"


class LiveStack:
    """Start the API (and optionally the core) for real; see the module docstring."""

    def __init__(self, redis: int | str = REDIS_DBS["api"], core_redis: int | str | None = None,
                 with_core: bool = False, tmp_path: Path | None = None, extra_env: dict | None = None,
                 api_workers: int = 2, pg_url_base: str = PG_URL_BASE, split_core: bool = False,
                 with_api: bool = True):
        self.redis = _redis(redis)
        self.core_redis = _redis(core_redis) or self.redis
        self.with_core = with_core
        self.core_workers = SPLIT_CORE_WORKERS if split_core else CORE_WORKERS
        self.with_api = with_api
        self.tmp = Path(tmp_path or tempfile.mkdtemp(prefix="antinex-stack-"))
        self.db_name = f"antinex_test_{uuid.uuid4().hex[:10]}"
        self.pg_url_base = pg_url_base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.datasets_dir = self.tmp / "datasets"
        self.model_store = self.tmp / "models"
        self.logs = self.tmp / "logs"
        self.procs: dict[str, subprocess.Popen] = {}
        self._log_offsets: dict[str, int] = {}  # where each process's current run starts in its log
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "antinex.api.settings",
            "DATABASE_URL": f"{pg_url_base}/{self.db_name}",
            "BROKER_URL": self.redis,
            "ANTINEX_RESULT_AUTH_URL": self.redis,
            "ANTINEX_AUTH_URL": self.core_redis,
            "ANTINEX_CORE_BROKER_URL": self.core_redis,
            "ANTINEX_WORKER_ENABLED": "1" if with_core else "0",
            "CELERY_ENABLED": "1",
            "ANTINEX_DATASETS_DIR": str(self.datasets_dir),
            "ANTINEX_MODEL_STORE": str(self.model_store),
            "ANTINEX_STATIC_ROOT": str(self.tmp / "static"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.api_workers = api_workers

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> "LiveStack":
        for d in (self.datasets_dir, self.model_store, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        try:
            flush_redis(self.redis)
            if self.core_redis != self.redis:
                flush_redis(self.core_redis)
            if not self.with_api:
                if self.with_core:
                    self.start_cores()
                return self
            self._create_db()
            self._run([str(BIN / "antinex-manage"), "migrate", "--noinput"], "migrate")
            self._run([str(BIN / "antinex-manage"), "collectstatic", "--noinput"], "collectstatic")
            self.start("api", [str(BIN / "gunicorn"), "antinex.api.wsgi:application", "-c", "python:antinex.api.gunicorn_conf",
                               "-b", f"127.0.0.1:{self.port}", "-w", str(self.api_workers)])
            self.start("worker", [str(BIN / "celery"), "-A", "antinex.api.celery_app", "worker", "-l", "INFO",
                                  "-c", "1", "-n", f"api-{self.port}@%h", "--without-gossip", "--without-mingle",
                                  "-Q", "celery,antinex.api,drf_network_pipeline.pipeline.tasks.task_ml_process_results"])
            if self.with_core:
                self.start_cores()
            self._wait_http()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start_cores(self) -> None:
        """The stack's core workers: "core" on both queues, or "core-train" and "core-predict"."""
        for name, queues in self.core_workers.items():
            self.start_core(name, queues=queues)

    def start_core(self, name: str = "core", extra_env: dict | None = None,
                   queues: tuple[str, ...] | list[str] | None = None) -> subprocess.Popen:
        """A core worker (--pool solo) on ``queues``: by default both, or its own when ``name`` is a split one."""
        queues = queues or {**CORE_WORKERS, **SPLIT_CORE_WORKERS}.get(name, CORE_WORKERS["core"])
        env = {**self.env, "BROKER_URL": self.core_redis, **(extra_env or {})}
        return self.start(name, [str(BIN / "celery"), "-A", "antinex.core.celery_app", "worker", "-l", "INFO",
                                 "-Q", ",".join(queues), "--pool", "solo",
                                 "-n", f"{name}-{self.port}@%h", "--without-gossip", "--without-mingle"], env=env)

    def start(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        path = self.logs / f"{name}.log"
        self._log_offsets[name] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def run_log(self, name: str) -> str:
        """The whole log of the current (or last) run of process ``name``."""
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(self._log_offsets.get(name, 0))
            return f.read().decode(errors="replace")

    def wait_log(self, name: str, text: str, timeout: float = 120, count: int = 1) -> None:
        """Until the current run of ``name`` has logged ``text`` ``count`` times; fails if it exits first."""
        deadline = time.time() + timeout
        while self.run_log(name).count(text) < count:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"{name} is not running:\n{self.log(name)}")
            if time.time() > deadline:
                raise TimeoutError(f"{name} did not log {text!r} in {timeout}s:\n{self.log(name)}")
            time.sleep(0.2)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)

    def __exit__(self, *exc) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self.with_api:
            self._drop_db()

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    # -- helpers --------------------------------------------------------------
    def _run(self, cmd: list[str], name: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.run(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{self.log(name)}")

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(f"{self.pg_url_base}/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def _create_db(self) -> None:
        self._admin(f'CREATE DATABASE "{self.db_name}"')

    def _drop_db(self) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except Exception:
            pass

    def _wait_http(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                if requests.get(f"{self.url}/swagger.json", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the API did not answer within {timeout}s:\n{self.log('api')}")

    # -- API conveniences -----------------------------------------------------
    def create_user(self, username: str, password: str, email: str | None = None) -> dict:
        r = requests.post(f"{self.url}/users/", json={"username": username, "password": password,
                                                      "email": email or f"{username}@example.com"}, timeout=10)
        if r.status_code != 201:
            raise RuntimeError(f"creating {username}: {r.status_code} {r.text}")
        return r.json()

    def token(self, username: str, password: str) -> str:
        r = requests.post(f"{self.url}/api-token-auth/", json={"username": username, "password": password},
                          timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def client(self, username: str, password: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"JWT {self.token(username, password)}"
        return s

    def wait_for_result(self, session: requests.Session, result_id: int, timeout: float = 120) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = session.get(f"{self.url}/mlresults/{result_id}/", timeout=10)
            if r.status_code == 200 and r.json().get("status") in DONE_STATUSES:
                return r.json()
            time.sleep(0.3)
        cores = "".join(f"{name}:\n{self.log(name)}\n" for name in self.core_workers)
        raise TimeoutError(f"result {result_id} not done in {timeout}s\nworker:\n{self.log('worker')}\n{cores}")
