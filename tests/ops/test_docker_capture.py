"""Capture agents stay on the host: the documented override publishes the stack's Redis on loopback.

``docker/compose.capture.yml`` (docs/operations.md) recreates the `redis`
service with a port on 127.0.0.1; a publisher on the host, given
``FORWARD_BROKER_URL=redis://127.0.0.1:PORT/15`` as the capture agents are,
puts packets on the NEW_PACKETS queue inside the container.
"""
from __future__ import annotations

import subprocess
import uuid

import pytest

from .docker_env import ROOT, Stack, free_port, local_base_images, project_containers, require_engine

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_capture_override_lets_host_agents_publish_to_the_containerised_redis(tmp_path, monkeypatch):
    require_engine()
    s = Stack(tmp_path, f"antinex-capture-{uuid.uuid4().hex[:6]}")
    s.write_env_file()
    port = free_port()
    files = ["-f", str(ROOT / "compose.yml"), "-f", str(ROOT / "docker" / "compose.capture.yml")]
    env = s.env(ANTINEX_ENV_FILE=str(s.env_file), ANTINEX_CAPTURE_REDIS_PORT=str(port),
                ANTINEX_REDIS_IMAGE=local_base_images()["ANTINEX_REDIS_IMAGE"])
    compose = [*s.compose, "--project-directory", str(ROOT), "-p", s.project, "--env-file", str(s.env_file), *files]
    try:
        up = subprocess.run([*compose, "up", "-d", "--no-build", "--pull", "never", "--wait", "redis"],
                            capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
        assert up.returncode == 0, up.stderr[-3000:]
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        from antinex.pipeline.publisher import PacketPublisher

        url = f"redis://127.0.0.1:{port}/15"
        monkeypatch.setenv("FORWARD_BROKER_URL", url)
        frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80))
        with PacketPublisher() as pub:  # reads FORWARD_BROKER_URL, as antinex-capture does
            assert pub.url == url
            for _ in range(3):
                pub.publish_frame(frame)
        import redis

        assert redis.Redis.from_url(url).llen("NEW_PACKETS") == 3
        # published on loopback only
        ports = subprocess.run([*compose, "port", "redis", "6379"], capture_output=True, text=True, timeout=60,
                               env=env, cwd=ROOT).stdout.strip()
        assert ports == f"127.0.0.1:{port}", ports
    finally:
        subprocess.run([*compose, "down", "--volumes"], capture_output=True, timeout=300, env=env, cwd=ROOT)
    assert not project_containers(s.project)
