"""A real Docker engine for the tests, and helpers to drive the Compose stack.

The Docker tests run wherever an engine answers, or can be made to: as root
with ``docker.io`` installable, ``scripts/docker-engine.sh`` installs and
starts it (the way ``scripts/services.sh`` ensures PostgreSQL and Redis).
Elsewhere they are skipped with the reason. When the engine should be
there but does not start, they fail: a broken install must not pass as a skip.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"


def _engine_answers() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=60).returncode == 0


def _engine_installable() -> bool:
    if os.geteuid() != 0 or shutil.which("apt-cache") is None:
        return False
    if shutil.which("dockerd"):
        return True
    out = subprocess.run(["apt-cache", "policy", "docker.io"], capture_output=True, text=True, timeout=120).stdout
    return "Candidate:" in out and "Candidate: (none)" not in out


@lru_cache(maxsize=1)
def engine_state() -> tuple[bool, str]:
    """(usable, reason): starts the engine once per session when it can."""
    if os.environ.get("ANTINEX_SKIP_DOCKER") == "1":
        return False, "ANTINEX_SKIP_DOCKER=1"
    if _engine_answers():
        return True, "Docker engine answers"
    if not _engine_installable():
        return False, "no Docker engine, and not root with docker.io installable"
    proc = subprocess.run(["bash", str(ENGINE_SCRIPT)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"scripts/docker-engine.sh could not start Docker:\n{proc.stderr[-3000:]}")
    return True, "started by scripts/docker-engine.sh"


def require_engine() -> None:
    """Skip (with the reason) where no engine can run; fail where it should and does not."""
    usable, reason = engine_state()
    if not usable:
        pytest.skip(reason)


def compose_binary() -> list[str]:
    """The Compose v2 command run-all.sh would pick (scripts/docker-common.sh)."""
    proc = subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/docker-common.sh"; compose_bin "{ROOT}" && '
                                         'printf "%s\\n" "${COMPOSE[@]}"'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"no Docker Compose v2: {proc.stderr}"
    return proc.stdout.split("\n")[:-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc


def project_containers(project: str) -> list[str]:
    """Names of every container (running or not) of a Compose project."""
    out = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}").stdout
    return out.split()


def image_size(image: str) -> int:
    """Bytes of an image as `docker images` counts them (all its layers)."""
    return int(docker("image", "inspect", image, "--format", "{{.Size}}").stdout)


@lru_cache(maxsize=1)
def local_base_images() -> dict[str, str]:
    """ANTINEX_{PYTHON,POSTGRES,REDIS}_IMAGE as run-all.sh would choose here without a registry:
    the official images where all three are present, else the offline ones (built if missing)."""
    official = {"ANTINEX_PYTHON_IMAGE": "python:3.11-slim", "ANTINEX_POSTGRES_IMAGE": "postgres:16-alpine",
                "ANTINEX_REDIS_IMAGE": "redis:7-alpine"}
    if all(docker("image", "inspect", image, check=False).returncode == 0 for image in official.values()):
        return official
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "docker-base.sh")], capture_output=True, text=True,
                          timeout=1800, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("ANTINEX_"))


class Stack:
    """One Compose project started by run-all.sh with its own env file, ports and var dir."""

    def __init__(self, tmp: Path, project: str):
        self.tmp = tmp
        self.project = project
        self.env_file = tmp / "stack.env"
        self.var_dir = tmp / "var"
        self.port = free_port()
        self.jupyter_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.compose = compose_binary()

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANTINEX_", "COMPOSE_", "DJANGO_", "POSTGRES_", "BROKER_"))}
        env.update({
            "COMPOSE_PROJECT_NAME": self.project,
            "ANTINEX_VAR_DIR": str(self.var_dir),
            "ANTINEX_START_TIMEOUT": "900",
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        })
        if "PIP_CERT" in os.environ:
            env["PIP_CERT"] = os.environ["PIP_CERT"]
        env.update(extra)
        return env

    def write_env_file(self) -> None:
        proc = self.script("run-all.sh", "--init-env", "--env-file", str(self.env_file), timeout=60)
        assert proc.returncode == 0, proc.stderr
        text = self.env_file.read_text()
        text = text.replace("ANTINEX_API_PORT=8010", f"ANTINEX_API_PORT={self.port}")
        text = text.replace("JUPYTER_PORT=8888", f"JUPYTER_PORT={self.jupyter_port}")
        # one API process: the machine is small and shared
        text = text.replace("API_WORKERS=3", "API_WORKERS=1")
        self.env_file.write_text(text)

    def script(self, name: str, *args: str, timeout: float = 3000, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / name), *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env(**env), cwd=ROOT)

    def up(self, *args: str) -> subprocess.CompletedProcess:
        return self.script("run-all.sh", "--docker", "--env-file", str(self.env_file), *args)

    def run_compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*self.compose, "--project-directory", str(ROOT), "-p", self.project,
                               "--env-file", str(self.env_file), *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env(ANTINEX_ENV_FILE=str(self.env_file)), cwd=ROOT)

    def services(self) -> dict[str, dict]:
        """Service name -> its container's state, as `docker compose ps -a` reports it."""
        proc = self.run_compose("ps", "-a", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.strip()
        rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
        return {row["Service"]: row for row in rows}

    def wait_healthy(self, timeout: float = 900) -> None:
        """`docker compose up --wait` on what is already there (after a restart)."""
        proc = self.run_compose("up", "--detach", "--no-build", "--pull", "never", "--wait",
                                "--wait-timeout", str(int(timeout)), timeout=timeout + 60)
        assert proc.returncode == 0, proc.stderr[-3000:]

    def teardown(self) -> None:
        """stop-all.sh --volumes, then make sure nothing of the project is left."""
        self.script("stop-all.sh", "--docker", "--volumes", timeout=600)
        if project_containers(self.project):
            self.run_compose("down", "--volumes", "--remove-orphans")
        for vol in docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                          check=False).stdout.split():
            docker("volume", "rm", "-f", vol, check=False)
