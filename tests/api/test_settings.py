"""Production settings refuse unsafe configurations with a clear message."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = "import django; django.setup(); print('started')"


def start(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "POSTGRES_"))}
    base.update(DJANGO_SETTINGS_MODULE="antinex.api.settings", **env)
    return subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=base, timeout=60)


GOOD = {"DJANGO_CONFIGURATION": "Production", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "antinex.example", "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/antinex"}


@pytest.mark.parametrize("change,message", [
    ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_DEBUG": "1"}, "DEBUG"),
    ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
    ({"DATABASE_URL": ""}, "DATABASE_URL"),
])
def test_production_refuses(change, message):
    env = {**GOOD, **change}
    env = {k: v for k, v in env.items() if v != ""}
    proc = start(**env)
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and message in proc.stderr


def test_production_starts_when_configured():
    proc = start(**GOOD)
    assert proc.returncode == 0, proc.stderr
    assert "started" in proc.stdout
