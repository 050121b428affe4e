"""Every console script answers ``--help``: usage text, exit 0, quickly, and nothing else.

Each script in pyproject.toml [project.scripts] runs from the venv's bin
with an audit hook (a ``sitecustomize`` on PYTHONPATH) that refuses and
records every socket connect and name lookup: ``--help`` must not reach a
broker, a database or the API. No Redis or PostgreSQL is needed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCRIPTS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
# liveness, not performance: TensorFlow or Django imports may take a while on a busy machine
TIMEOUT = 60
# what each script's help starts its usage with: argparse's "usage:", Django's list of commands
USAGE = {"antinex-manage": "available subcommands:"}

# Runs in the script's interpreter before its own code (site imports sitecustomize).
GUARD = '''
import os, sys

_LOG = os.environ["ANTINEX_NET_LOG"]
_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
           "socket.sendmsg"}


def _refuse(event, args):
    if event in _EVENTS:
        with open(_LOG, "a") as log:
            log.write(f"{event} {args!r}\\n")
        raise PermissionError(f"--help touched the network: {event}")


sys.addaudithook(_refuse)
'''


@pytest.fixture(scope="module")
def guard_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("guard")
    (d / "sitecustomize.py").write_text(GUARD)
    return d


def _env(guard_dir: Path, net_log: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(guard_dir), str(ROOT)]),
            "ANTINEX_NET_LOG": str(net_log)}


def test_the_guard_sees_a_connect(guard_dir, tmp_path):
    """The check below is real: a process under the guard that connects is refused and recorded."""
    net_log = tmp_path / "net.log"
    code = "import socket; socket.socket().connect(('127.0.0.1', 9))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                          env=_env(guard_dir, net_log))
    assert proc.returncode != 0 and "touched the network" in proc.stderr
    assert "socket.connect" in net_log.read_text()


def test_every_script_is_installed():
    missing = [name for name in SCRIPTS if not (BIN / name).is_file()]
    assert not missing, f"not in {BIN} (pip install -e .): {missing}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_prints_usage_and_exits_0(name, guard_dir, tmp_path):
    script = BIN / name
    if not script.is_file():
        pytest.skip(f"{name} is not installed in {BIN}")
    net_log = tmp_path / "net.log"
    try:
        proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=tmp_path, env=_env(guard_dir, net_log), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name} --help still running after {TIMEOUT} s (it started working instead?):\n"
                    f"{exc.stdout}\n{exc.stderr}")
    assert proc.returncode == 0, f"{name} --help exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert USAGE.get(name, "usage:") in proc.stdout.lower(), \
        f"{name} --help printed no usage:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    touched = net_log.read_text() if net_log.exists() else ""
    assert not touched, f"{name} --help touched the network:\n{touched}"
    created = sorted(p.name for p in tmp_path.iterdir() if p != net_log)
    assert not created, f"{name} --help created files in its working directory: {created}"
