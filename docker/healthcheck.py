#!/opt/antinex/venv/bin/python
"""Health checks of the AntiNex containers (compose.yml's ``healthcheck:``).

    antinex-healthcheck api          the API answers GET /swagger.json with 200
    antinex-healthcheck jupyter      JupyterLab answers GET /api
    antinex-healthcheck celery APP   this container's Celery worker (APP: api or
                                     core) answers a ping on its broker
    antinex-healthcheck subscriber   the NEW_PACKETS subscriber holds a connection
                                     to its broker, and the broker answers PING

Exit 0 when healthy, 1 with a one-line reason otherwise (Docker keeps the
last lines of output: ``docker inspect --format '{{json .State.Health}}'``).
Standard library, celery and redis only: it runs every few seconds, so it
imports neither Django nor TensorFlow.
"""
from __future__ import annotations

import os
import socket
import sys
import urllib.request
from urllib.parse import urlparse

TIMEOUT = float(os.environ.get("ANTINEX_HEALTH_TIMEOUT", "10"))
DEFAULT_PACKETS_BROKER = "redis://redis:6379/15"


def http_ok(url: str) -> str | None:
    """None when ``url`` answers 200, else the reason."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            return None if resp.status == 200 else f"{url} answered {resp.status}"
    except Exception as exc:  # any failure is the reason
        return f"{url}: {exc}"


def celery_ok(app_name: str) -> str | None:
    """None when this container's worker (``celery@<hostname>``) answers a ping."""
    from celery import Celery

    # The worker's own broker: BROKER_URL, which compose.yml sets to the
    # core broker for the core containers (the celery command line reads it too).
    broker = os.environ.get("BROKER_URL")
    if not broker:
        return "BROKER_URL is not set"
    node = f"celery@{socket.gethostname()}"
    app = Celery(f"health-{app_name}", broker=broker)
    try:
        replies = app.control.ping(destination=[node], timeout=TIMEOUT)
    except Exception as exc:
        return f"ping of {node} on {broker.rsplit('@', 1)[-1]}: {exc}"
    finally:
        app.close()
    return None if any(node in reply for reply in replies) else f"{node} did not answer a ping"


def _established_to(port: int) -> bool:
    """Whether some socket of this container is connected to remote ``port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                return True
    return False


def subscriber_ok() -> str | None:
    """None when the subscriber is connected to its broker and the broker answers."""
    import redis

    url = os.environ.get("FORWARD_BROKER_URL", DEFAULT_PACKETS_BROKER)
    port = urlparse(url).port or 6379
    # Checked before our own PING opens a connection of its own.
    if not _established_to(port):
        return f"no connection to the broker on port {port}: the subscriber is not consuming"
    try:
        redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT).ping()
    except Exception as exc:
        return f"broker {url.rsplit('@', 1)[-1]}: {exc}"
    return None


def main(argv: list[str]) -> int:
    checks = {
        "api": lambda: http_ok("http://127.0.0.1:8010/swagger.json"),
        "jupyter": lambda: http_ok("http://127.0.0.1:8888/api"),
        "subscriber": subscriber_ok,
    }
    if len(argv) == 2 and argv[0] == "celery" and argv[1] in ("api", "core"):
        problem = celery_ok(argv[1])
    elif len(argv) == 1 and argv[0] in checks:
        problem = checks[argv[0]]()
    else:
        print("usage: antinex-healthcheck api | jupyter | subscriber | celery api|core", file=sys.stderr)
        return 2
    if problem:
        print(f"unhealthy: {problem}")
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
