"""Dockerfile and .dockerignore: structural lint (no hadolint here).

One image for all Python services, built on a base image that is a build
argument (python:3.11-slim by default) with `pip install .`, running as a
non-root user, with no secrets baked in. tests/ops/test_docker_stack.py
builds and runs it for real; these checks are the fast ones.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from .compose_config import DOCKERFILE, ROOT, resolved_config


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions(DOCKERFILE.read_text())


def _stages(instructions) -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, args in instructions:
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert m, f"unreadable FROM {args!r}"
            current = m.group(2) or m.group(1)
            stages[current] = [(word, args)]
        elif current is None:
            assert word == "ARG", f"{word} before FROM"  # only global build arguments may come first
        else:
            stages[current].append((word, args))
    return stages


def _user_of(stage: str, stages) -> str:
    """The USER in force at the end of a stage, following FROM <stage> chains."""
    user = "root"
    for word, args in stages[stage]:
        if word == "FROM":
            parent = args.split()[0]
            if parent in stages:
                user = _user_of(parent, stages)
        elif word == "USER":
            user = args
    return user


def test_base_image_is_a_build_argument(instructions):
    text = DOCKERFILE.read_text()
    # ARG before the first FROM, with the official image as its default
    first_from = next(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions[:first_from]
    stages = _stages(instructions)
    for word, args in instructions:
        if word != "FROM":
            continue
        image = args.split()[0]
        assert image in {"${PYTHON_IMAGE}", "scratch"} or image in stages, f"unexpected base {image}"
    # A `# syntax=` line would pull the Dockerfile frontend from a registry.
    assert not re.search(r"(?im)^#\s*syntax\s*=", text)


def test_build_steps_that_download_use_the_ca_secret_and_leave_nothing(instructions):
    runs = [args for word, args in instructions if word == "RUN"]
    downloading = [r for r in runs if re.search(r"\b(pip install|apt-get (update|install))\b", r)]
    assert len(downloading) >= 4
    for run in downloading:
        assert "--mount=type=secret,id=ca" in run, run[:120]
        assert "with-ca.sh" in run, run[:120]
        # the combined bundle with-ca.sh writes goes to a tmpfs, never to a layer
        assert "--mount=type=tmpfs,target=/tmp" in run, run[:120]
        if "pip install" in run:
            assert "--mount=type=cache,target=/root/.cache/pip" in run, run[:120]
    assert not any("PIP_CERT" in args or "/run/secrets" in args
                   for word, args in instructions if word in {"ENV", "ARG", "COPY"})


def test_offline_base_dockerfiles(tmp_path):
    base = ROOT / "docker" / "base"
    users = {"python.Dockerfile": None, "postgres.Dockerfile": "postgres", "redis.Dockerfile": "redis"}
    for name, user in users.items():
        ins = _instructions((base / name).read_text())
        assert ("ARG", "DEBIAN_IMAGE=antinex-base/debian:bookworm") in ins, name
        for word, args in ins:
            if word == "RUN" and "apt-get install" in args:
                assert "--no-install-recommends" in args and "rm -rf /var/lib/apt/lists" in args, name
                assert "--mount=type=secret,id=ca" in args, name
        if user:
            assert ("USER", user) in ins, f"{name} must run as {user}"
    pg = _instructions((base / "postgres.Dockerfile").read_text())
    assert ("ENV", next(a for w, a in pg if w == "ENV" and "PGDATA" in a)) in pg
    assert any(w == "VOLUME" and a == "/var/lib/postgresql/data" for w, a in pg)
    assert any(w == "VOLUME" and a == "/data" for w, a in _instructions((base / "redis.Dockerfile").read_text()))


def test_installs_the_project_with_pip(instructions):
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs)
    assert "pip install -e" not in runs


def test_services_run_as_non_root(instructions):
    stages = _stages(instructions)
    for target in ("runtime", "jupyter"):
        user = _user_of(target, stages)
        assert user not in {"root", "0"}, f"stage {target} runs as {user}"
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert re.search(r"useradd .*--system", runs)


def test_compose_targets_exist(instructions):
    stages = _stages(instructions)
    config = resolved_config()
    for name, svc in config["services"].items():
        if "build" in svc:
            assert svc["build"]["target"] in stages, f"{name} builds missing stage"
    assert list(stages)[-1] == "runtime", "a plain `docker build .` must give the service image"


def test_copy_sources_exist(instructions):
    stages = _stages(instructions)
    for word, args in instructions:
        if word != "COPY" or args.startswith("--from"):
            continue
        sources = args.split()[:-1]
        for src in sources:
            if src == ".":
                continue
            # Tracked by git, so a fresh clone has it too.
            tracked = subprocess.run(["git", "ls-files", "--", src], cwd=ROOT, capture_output=True, text=True)
            assert tracked.stdout.strip(), f"COPY {src}: not tracked in the repository"
    for word, args in instructions:
        if word == "COPY" and args.startswith("--from="):
            assert args.split()[0].split("=", 1)[1] in stages


def test_no_secrets_or_remote_adds(instructions):
    for word, args in instructions:
        assert word != "ADD", "use COPY (ADD fetches URLs and unpacks archives)"
        if word in {"ENV", "ARG"}:
            assert not re.search(r"(?i)(password|secret|token)\w*=", args), args


def test_exec_form_cmd_and_port(instructions):
    cmds = [args for word, args in instructions if word == "CMD"]
    for cmd in cmds:
        assert isinstance(json.loads(cmd), list), "CMD must be exec form"
    assert ("EXPOSE", "8010") in instructions


def test_apt_usage_is_lean(instructions):
    for word, args in instructions:
        if word == "RUN" and "apt-get install" in args:
            assert "--no-install-recommends" in args
            assert "rm -rf /var/lib/apt/lists" in args


def test_dockerignore_keeps_secrets_and_state_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "var", "envs/*.env"} <= ignored
    assert "!envs/example.env" in ignored
    gitignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in gitignored or "/.env" in gitignored, ".env must be gitignored"


def test_default_command_is_the_api(instructions):
    import importlib.util

    stages = _stages(instructions)

    def cmd_of(stage: str) -> list[str]:
        cmd: list[str] = []
        for word, args in stages[stage]:
            if word == "FROM" and args.split()[0] in stages:
                cmd = cmd_of(args.split()[0])
            elif word == "CMD":
                cmd = json.loads(args)
        return cmd

    cmd = cmd_of("runtime")
    assert cmd[:2] == ["gunicorn", "antinex.api.wsgi:application"]
    assert "--bind" in cmd and "0.0.0.0:8010" in cmd
    assert importlib.util.find_spec("antinex.api") and importlib.util.find_spec("antinex.api.wsgi"), "api/wsgi.py is missing"
    assert cmd_of("jupyter")[:2] == ["jupyter", "lab"]
