"""run-all.sh --docker on bad input: a clear message, exit 1, nothing left running.

A missing or malformed env file, placeholder secrets, an engine that is
down, a port in use, too little disk for the build and a build that fails
are each refused before anything starts (or with everything stopped again).
"""
from __future__ import annotations

import socket
import subprocess
import uuid

import pytest

from .docker_env import ROOT, Stack, docker, project_containers, require_engine

EXAMPLE_ENV = ROOT / "envs" / "example.env"


@pytest.fixture
def stack(tmp_path) -> Stack:
    s = Stack(tmp_path, f"antinex-bad-{uuid.uuid4().hex[:8]}")
    s.write_env_file()
    return s


def refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "AntiNex is up" not in proc.stdout
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr[-2000:])


def test_a_named_env_file_that_does_not_exist(stack, tmp_path):
    proc = stack.script("run-all.sh", "--docker", "--env-file", str(tmp_path / "nope.env"), timeout=60)
    refused(proc, "env file not found", "nope.env")
    assert not (tmp_path / "nope.env").exists()  # a file you name is never made up


def test_a_malformed_env_file(stack):
    stack.env_file.write_text(stack.env_file.read_text() + "this line is not a setting\n")
    refused(stack.up(), "not an env file of KEY=VALUE lines", "line ", "this line is not a setting")


def test_placeholder_secrets(stack, tmp_path):
    env = tmp_path / "example-copy.env"
    env.write_text(EXAMPLE_ENV.read_text())
    proc = stack.script("run-all.sh", "--docker", "--env-file", str(env), timeout=60)
    refused(proc, "DJANGO_SECRET_KEY", "change-me")


def test_a_missing_setting_and_a_bad_port(stack):
    text = stack.env_file.read_text()
    stack.env_file.write_text("\n".join(l for l in text.splitlines() if not l.startswith("POSTGRES_PASSWORD=")))
    refused(stack.up(), "lacks POSTGRES_PASSWORD")
    stack.env_file.write_text(text.replace(f"ANTINEX_API_PORT={stack.port}", "ANTINEX_API_PORT=80a"))
    refused(stack.up(), "ANTINEX_API_PORT must be a port number", "80a")


def test_an_engine_that_is_down(stack, tmp_path):
    proc = stack.script("run-all.sh", "--docker", "--env-file", str(stack.env_file), timeout=120,
                        DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    refused(proc, "no Docker engine answers", "scripts/docker-engine.sh")
    proc = stack.script("stop-all.sh", "--docker", timeout=120, DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    assert proc.returncode == 1 and "no Docker engine answers" in proc.stderr


@pytest.mark.docker
def test_a_port_in_use(stack):
    require_engine()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", stack.port))
        busy.listen(1)
        refused(stack.up(), f"port {stack.port}", "is in use", "ANTINEX_API_PORT")
    assert not project_containers(stack.project)


@pytest.mark.docker
def test_too_little_room_for_the_build(stack):
    """A cold build needs gigabytes: too little room is said before the build starts, not half-way through."""
    require_engine()
    proc = stack.script("run-all.sh", "--docker", "--env-file", str(stack.env_file), timeout=1800,
                        ANTINEX_BUILD_MIN_FREE_GB="1000000")
    refused(proc, "GB free under", "needs about 1000000 GB", "ANTINEX_BUILD_MIN_FREE_GB")
    assert "docker-build.log" not in proc.stderr  # the build never started
    assert not project_containers(stack.project)


@pytest.mark.docker
@pytest.mark.slow
def test_a_build_that_fails(stack, tmp_path):
    require_engine()
    # A base image without any file: the first RUN of the Dockerfile fails.
    empty = "antinex-test/empty:1"
    if docker("image", "inspect", empty, check=False).returncode != 0:
        subprocess.run(f"tar -cf - -T /dev/null | docker import - {empty}", shell=True, check=True,
                       capture_output=True, timeout=120)
    proc = stack.script("run-all.sh", "--docker", "--env-file", str(stack.env_file), timeout=1800,
                        ANTINEX_PYTHON_IMAGE=empty, ANTINEX_POSTGRES_IMAGE=empty, ANTINEX_REDIS_IMAGE=empty,
                        ANTINEX_VERSION=f"failing-{uuid.uuid4().hex[:6]}")
    refused(proc, "the image build failed", "docker-build.log")
    assert not project_containers(stack.project)
    assert (stack.var_dir / "log" / "docker-build.log").exists()
