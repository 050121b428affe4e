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


# -- settings declared once (utils/config.py) ------------------------------------------
import json  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
READ = {
    "api": "import django; django.setup(); from django.conf import settings as s; print(json.dumps({"
           "'store': str(s.ANTINEX_MODEL_STORE), 'datasets': [str(p) for p in s.ANTINEX_DATASETS_DIRS], "
           "'users': str(s.ANTINEX_USER_DATA_DIR), 'broker': s.CELERY_BROKER_URL, 'core': s.ANTINEX_AUTH_URL, "
           "'results': s.ANTINEX_RESULT_AUTH_URL, "
           "'visibility': s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']}))",
    "core": "from antinex.core import settings as s; print(json.dumps({'store': str(s.MODEL_STORE), "
            "'datasets': [str(p) for p in s.DATASETS_DIRS], 'users': str(s.USER_DATA_DIR), 'broker': s.BROKER_URL, "
            "'visibility': s.VISIBILITY_TIMEOUT}))",
    "cli": "from antinex.utils.cli import build_parser; print(json.dumps({'store': build_parser().parse_args("
           "['predict', '-f', 'x']).store}))",
}


def read(part: str, **env) -> subprocess.CompletedProcess:
    """The settings as ``part`` reads them, in a process whose AntiNex environment is only ``env``."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANTINEX_", "DJANGO_", "DATABASE_URL", "POSTGRES_", "BROKER_URL", "CELERY_"))}
    base.update(DJANGO_SETTINGS_MODULE="antinex.api.settings", **env)
    return subprocess.run([sys.executable, "-c", "import json; " + READ[part]], capture_output=True, text=True,
                          env=base, timeout=120, cwd="/")


def values(part: str, **env) -> dict:
    proc = read(part, **env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_default_for_the_model_store_and_the_data_directories():
    """The API, the core and the antinex CLI agree without any setting (run from another directory)."""
    api, core, cli = values("api"), values("core"), values("cli")
    assert api["store"] == core["store"] == cli["store"] == str(ROOT / "var" / "models")
    assert api["datasets"] == core["datasets"] == [str(ROOT / "var" / "datasets")]
    assert api["users"] == core["users"] == str(ROOT / "var" / "datasets" / "users")
    moved = values("core", ANTINEX_VAR_DIR="/srv/antinex")
    assert moved["store"] == "/srv/antinex/models" and moved["datasets"] == ["/srv/antinex/datasets"]


def test_visibility_timeouts_one_name_each():
    assert values("api")["visibility"] == 3600 and values("core")["visibility"] == 60
    # the name both used before sets both; the specific names win over it
    assert values("api", ANTINEX_VISIBILITY_TIMEOUT="5")["visibility"] == 5
    assert values("core", ANTINEX_VISIBILITY_TIMEOUT="5")["visibility"] == 5
    assert values("core", ANTINEX_VISIBILITY_TIMEOUT="5", ANTINEX_CORE_VISIBILITY_TIMEOUT="7")["visibility"] == 7


def test_each_broker_has_one_name_and_the_originals_still_work():
    api = values("api", BROKER_URL="redis://h:1/9", ANTINEX_AUTH_URL="redis://h:1/6")  # the original API's names
    assert api["broker"] == api["results"] == "redis://h:1/9" and api["core"] == "redis://h:1/6"
    api = values("api", ANTINEX_API_BROKER_URL="redis://h:1/9", ANTINEX_CORE_BROKER_URL="redis://h:1/6")
    assert api["broker"] == "redis://h:1/9" and api["core"] == "redis://h:1/6"
    assert values("core", BROKER_URL="redis://h:1/6")["broker"] == "redis://h:1/6"  # the original core's name
    assert values("core", ANTINEX_AUTH_URL="redis://h:1/6")["broker"] == "redis://h:1/6"
    # the env file every service shares: BROKER_URL is the API broker, which is not the core's broker;
    # the core's own names win (antinex-core models ... runs in that environment)
    shared = {"BROKER_URL": "redis://h:1/9", "ANTINEX_CORE_BROKER_URL": "redis://h:1/6"}
    assert values("api", **shared)["core"] == values("core", **shared)["broker"] == "redis://h:1/6"


def test_a_core_worker_on_another_broker_than_the_cores_refuses_to_start(tmp_path):
    """The celery command line takes its broker from BROKER_URL: a core worker started in the API's environment
    would wait on queues nothing is sent to. It stops, naming both."""
    from conftest import redis_url

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTINEX_", "BROKER_URL", "CELERY_"))}
    env.update(BROKER_URL=redis_url("api"), ANTINEX_CORE_BROKER_URL=redis_url("api_core"))
    proc = subprocess.run([str(Path(sys.executable).parent / "celery"), "-A", "antinex.core.celery_app", "worker",
                           "--pool", "solo", "-Q", "unit.nothing", "--without-gossip", "--without-mingle"],
                          capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert proc.returncode != 0
    assert "BROKER_URL" in proc.stderr and "ANTINEX_CORE_BROKER_URL" in proc.stderr and redis_url("api") in \
        proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("part,env,names", [
    ("core", {"ANTINEX_AUTH_URL": "redis://h:1/5", "ANTINEX_CORE_BROKER_URL": "redis://h:1/6"},
     ("ANTINEX_CORE_BROKER_URL", "ANTINEX_AUTH_URL")),
    ("api", {"BROKER_URL": "redis://h:1/9", "ANTINEX_API_BROKER_URL": "redis://h:1/10"},
     ("ANTINEX_API_BROKER_URL", "BROKER_URL")),
    ("api", {"ANTINEX_AUTH_URL": "redis://h:1/5", "ANTINEX_CORE_BROKER_URL": "redis://h:1/6"},
     ("ANTINEX_CORE_BROKER_URL", "ANTINEX_AUTH_URL")),
    ("core", {"MAX_MODELS": "many"}, ("MAX_MODELS",)),
    ("api", {"JWT_ACCESS_MINUTES": "an hour"}, ("JWT_ACCESS_MINUTES", "ImproperlyConfigured")),
    ("api", {"DJANGO_CONFIGURATION": "production"}, ("DJANGO_CONFIGURATION", "Production")),
    ("core", {"ANTINEX_CORE_VISIBILITY_TIMEOUT": "0"}, ("ANTINEX_CORE_VISIBILITY_TIMEOUT", "at least 1")),
])
def test_bad_settings_stop_the_process_naming_them(part, env, names):
    proc = read(part, **env)
    assert proc.returncode != 0
    for name in names:
        assert name in proc.stderr, proc.stderr[-2000:]
