"""Private Redis and PostgreSQL servers that a test may kill and restart.

The suite's shared services stay up; these run on free loopback ports with
their data in a temporary directory, so an outage touches only the test
that causes it.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from conftest import free_port


class RedisServer:
    """``redis-server`` with an fsync-always append-only file: a kill loses nothing."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="antinex-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start:\n{(self.dir / 'redis.log').read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the append-only file already holds survives."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for d in versions:
        if (d / name).exists():
            return str(d / name)
    raise RuntimeError(f"{name} not found (install postgresql)")


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb, trust auth on loopback) that can be stopped."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="antinex-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url_base = f"postgres://postgres@127.0.0.1:{self.port}"
        # PostgreSQL refuses to run as root: run it as the postgres user then
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _pg(self, *args: str) -> None:
        proc = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode:
            log = self.dir / "pg.log"
            raise RuntimeError(f"{args[0]} failed: {proc.stdout}{proc.stderr}\n"
                               f"{log.read_text() if log.exists() else ''}")

    def start(self) -> None:
        self._pg(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "-t", "60",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._pg(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> "PostgresCluster":
        self._pg(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
