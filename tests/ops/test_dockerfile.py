"""Dockerfile and .dockerignore: structural lint (no hadolint here).

One image for all Python services, built from python:3.11-slim with
`pip install .`, running as a non-root user, with no secrets baked in.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

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
        else:
            assert current, f"{word} before FROM"
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


def test_base_image_is_python_311_slim(instructions):
    froms = [args.split()[0] for word, args in instructions if word == "FROM"]
    assert froms[0] == "python:3.11-slim"
    for image in froms:
        assert image == "python:3.11-slim" or image in {
            args.split()[-1] for w, args in instructions if w == "FROM" and " AS " in args.upper()
        }, f"unexpected base {image}"
        assert not image.endswith(":latest")


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
