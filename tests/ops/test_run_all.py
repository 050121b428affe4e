"""run-all.sh / stop-all.sh in local mode, for real.

run-all.sh starts gunicorn, the API worker and the two core workers against the
real PostgreSQL (a database of its own) and Redis (this area's databases),
on a free port; the test then uses the API and pings both workers, and
stop-all.sh must end every process group it started.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import PG_URL_BASE, flush_redis, free_port, redis_url

from .compose_config import EXAMPLE_ENV, read_env_file, resolved_config

ROOT = Path(__file__).resolve().parents[2]
RUN_ALL = ROOT / "run-all.sh"
STOP_ALL = ROOT / "stop-all.sh"
SERVICES = ("api", "worker", "core-train", "core-predict")

pytestmark = pytest.mark.stack


def _run(script: Path, *args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _drop_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG_URL_BASE}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _ping_workers(broker_url: str) -> list[str]:
    """Names of the Celery workers answering a broadcast ping on a broker."""
    from celery import Celery

    app = Celery("ops-ping", broker=broker_url)
    try:
        replies = app.control.ping(timeout=5.0)
    finally:
        app.close()
    return [name for reply in replies for name in reply]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Start the local stack with run-all.sh; always stop it afterwards."""
    var_dir = tmp_path_factory.mktemp("var")
    port = free_port()
    db_name = f"antinex_ops_{uuid.uuid4().hex[:8]}"
    api_broker, core_broker = redis_url("reliability"), redis_url("reliability_core")
    flush_redis(api_broker)
    flush_redis(core_broker)
    env = {
        **os.environ,
        "ANTINEX_VAR_DIR": str(var_dir),
        "ANTINEX_API_PORT": str(port),
        "DATABASE_URL": f"{PG_URL_BASE}/{db_name}",
        "BROKER_URL": api_broker,
        "ANTINEX_AUTH_URL": core_broker,
        "API_WORKERS": "1",
        "API_WORKER_CONCURRENCY": "1",
        "ANTINEX_STOP_TIMEOUT": "20",
        "ANTINEX_START_TIMEOUT": "240",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    }
    for leftover in ("ANTINEX_CORE_BROKER_URL", "ANTINEX_RESULT_AUTH_URL", "ANTINEX_ENV_FILE"):
        env.pop(leftover, None)
    started = _run(RUN_ALL, "--local", env=env, timeout=420)
    info = {
        "env": env, "var": var_dir, "port": port, "db": db_name, "started": started,
        "api_broker": api_broker, "core_broker": core_broker,
        "url": f"http://127.0.0.1:{port}",
    }
    try:
        yield info
    finally:
        _run(STOP_ALL, env=env, timeout=120)
        _drop_database(db_name)
        flush_redis(api_broker)
        flush_redis(core_broker)


def test_run_all_starts_and_prints_the_urls(stack):
    proc = stack["started"]
    logs = stack["var"] / "log"
    assert proc.returncode == 0, f"run-all.sh failed:\n{proc.stderr[-3000:]}\nlogs: {sorted(p.name for p in logs.iterdir())}"
    for path in ("/", "/swagger/", "/docs/"):
        assert f"{stack['url']}{path}" in proc.stdout
    for name in SERVICES:
        pid = int((stack["var"] / "run" / f"{name}.pid").read_text())
        assert _group_alive(pid), f"{name} is not running"
        assert (logs / f"{name}.log").stat().st_size > 0


def test_api_answers_with_its_schema_and_database(stack):
    assert stack["started"].returncode == 0
    schema = requests.get(f"{stack['url']}/swagger.json", timeout=30)
    assert schema.status_code == 200
    assert "paths" in schema.json()
    assert any(p.rstrip("/").endswith("/ml") for p in schema.json()["paths"])

    # A user created through the API lands in the stack's own database.
    user = {"username": "ops-user", "password": "ops-pass-12345", "email": "ops@example.com"}
    created = requests.post(f"{stack['url']}/users/", json=user, timeout=30)
    assert created.status_code == 201, created.text
    # The docs run-all.sh builds (when missing) are served at /docs/.
    docs = requests.get(f"{stack['url']}/docs/", timeout=30)
    assert docs.status_code == 200 and "Operations" in docs.text

    token = requests.post(
        f"{stack['url']}/api-token-auth/",
        json={"username": user["username"], "password": user["password"]},
        timeout=30,
    )
    assert token.status_code == 200 and token.json()["token"]


def test_both_workers_answer_on_their_brokers(stack):
    assert stack["started"].returncode == 0
    assert any(n.startswith("api@") for n in _ping_workers(stack["api_broker"]))
    core = _ping_workers(stack["core_broker"])
    assert any(n.startswith("core-train@") for n in core) and any(n.startswith("core-predict@") for n in core), core


def test_admin_cookies_work_over_plain_http_on_loopback(stack):
    """Bound to 127.0.0.1, run-all.sh turns off Production's Secure cookies: the admin login works over http."""
    assert stack["started"].returncode == 0
    login = requests.get(f"{stack['url']}/admin/login/", timeout=30)
    assert login.status_code == 200
    cookie = login.headers.get("Set-Cookie", "")
    assert "csrftoken=" in cookie and "secure" not in cookie.lower(), cookie


def test_run_all_again_keeps_the_running_processes(stack):
    assert stack["started"].returncode == 0
    before = {n: (stack["var"] / "run" / f"{n}.pid").read_text() for n in SERVICES}
    again = _run(RUN_ALL, "--local", env=stack["env"], timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already running" in again.stderr
    after = {n: (stack["var"] / "run" / f"{n}.pid").read_text() for n in SERVICES}
    assert before == after


def test_stop_all_stops_everything(stack):
    run_dir = stack["var"] / "run"
    pids = {n: int((run_dir / f"{n}.pid").read_text()) for n in SERVICES if (run_dir / f"{n}.pid").exists()}
    assert set(pids) == set(SERVICES)
    proc = _run(STOP_ALL, env=stack["env"], timeout=180)
    assert proc.returncode == 0, proc.stderr
    for name, pid in pids.items():
        assert not _group_alive(pid), f"{name} (group {pid}) survived stop-all.sh"
    assert not list(run_dir.glob("*.pid"))
    assert not _port_open(stack["port"])
    assert _ping_workers(stack["api_broker"]) == []
    # Nothing left to stop is not an error.
    again = _run(STOP_ALL, env=stack["env"])
    assert again.returncode == 0 and "nothing was running" in again.stderr


def test_stop_all_with_nothing_started(tmp_path):
    proc = _run(STOP_ALL, env={**os.environ, "ANTINEX_VAR_DIR": str(tmp_path)})
    assert proc.returncode == 0
    assert "nothing was running" in proc.stderr


def test_stop_all_kills_a_group_that_ignores_term(tmp_path):
    # A process that ignores SIGTERM still goes, with its child, after the
    # timeout. Started the way run-all.sh starts services: a new session
    # whose parent exits, so nobody here holds it as a zombie.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started = subprocess.run(
        ["bash", "-c", "setsid bash -c \"trap '' TERM; sleep 300 & wait\" >/dev/null 2>&1 </dev/null & echo $!"],
        capture_output=True, text=True, timeout=30,
    )
    pgid = int(started.stdout)
    for _ in range(100):  # setsid() runs just after the fork
        if _group_alive(pgid):
            break
        time.sleep(0.05)
    assert _group_alive(pgid)
    (run_dir / "stubborn.pid").write_text(str(pgid))
    env = {**os.environ, "ANTINEX_VAR_DIR": str(tmp_path), "ANTINEX_STOP_TIMEOUT": "1"}
    proc = _run(STOP_ALL, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "killing it" in proc.stderr
    assert not _group_alive(pgid)
    assert not (run_dir / "stubborn.pid").exists()


def test_bad_options_are_refused():
    proc = _run(RUN_ALL, "--bogus", env=dict(os.environ))
    assert proc.returncode != 0
    assert "unknown option: --bogus" in proc.stderr


def test_docker_mode_without_an_engine_is_a_clear_error(tmp_path):
    # DOCKER_HOST at a socket nobody serves: "no engine" whether or not one runs here
    # (tests/ops/test_docker_bad_input.py has the other bad inputs of docker mode).
    env = {**os.environ, "ANTINEX_VAR_DIR": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    env.pop("ANTINEX_ENV_FILE", None)
    had_env = (ROOT / ".env").exists()
    proc = _run(RUN_ALL, "--docker", env=env)
    assert proc.returncode != 0
    assert "no Docker engine" in proc.stderr
    assert (ROOT / ".env").exists() == had_env  # no .env made for a stack that cannot start


def test_init_env_writes_private_random_secrets(tmp_path):
    target = tmp_path / "stack.env"
    proc = _run(RUN_ALL, "--init-env", "--env-file", str(target), env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    made, example = read_env_file(target), read_env_file(EXAMPLE_ENV)
    assert set(made) == set(example)
    assert "change-me" not in made.values()
    assert len(made["DJANGO_SECRET_KEY"]) == 48
    second = tmp_path / "other.env"
    _run(RUN_ALL, "--init-env", "--env-file", str(second), env=dict(os.environ))
    assert read_env_file(second)["POSTGRES_PASSWORD"] != made["POSTGRES_PASSWORD"]
    # Never overwrites an existing file.
    again = _run(RUN_ALL, "--init-env", "--env-file", str(target), env=dict(os.environ))
    assert again.returncode != 0 and read_env_file(target) == made
    # The generated file drives compose.yml as the example does.
    config = resolved_config(env_file=target)
    assert config["services"]["api"]["environment"]["DJANGO_SECRET_KEY"] == made["DJANGO_SECRET_KEY"]

