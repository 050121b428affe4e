"""compose.yml: valid per the Compose specification, and safe to run.

No Docker engine runs here, so the file is checked with the real Compose
loader (schema, anchors, interpolation, env files) plus the rules the stack
sets itself: health-gated start order, no host networking, secrets only in
the env file, the commands the services run exist.
"""
from __future__ import annotations

import importlib.util
import re
from importlib.metadata import entry_points

import pytest
import yaml

from antinex.utils import consts

from .compose_config import (
    COMPOSE_FILE,
    EXAMPLE_ENV,
    interpolated_names,
    read_env_file,
    resolved_config,
    run_compose,
)

CORE_SERVICES = {"core-train": [consts.TRAIN_QUEUE], "core-predict": [consts.PREDICT_QUEUE]}
PYTHON_SERVICES = {"migrate", "api", "worker", "pipeline", "jupyter"} | set(CORE_SERVICES)
EXPECTED_SERVICES = PYTHON_SERVICES | {"postgres", "redis", "pgadmin"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")


@pytest.fixture(scope="module")
def config() -> dict:
    return resolved_config()


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(EXAMPLE_ENV)


def test_compose_file_is_valid(config):
    assert set(config["services"]) == EXPECTED_SERVICES


def test_validator_rejects_a_broken_file(tmp_path):
    # Guards the guard: the loader must really apply the schema.
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("  redis:\n    image:", "  redis:\n    imagee:", 1))
    proc = run_compose(broken, "config", "--quiet")
    assert proc.returncode != 0
    assert "imagee" in proc.stderr


def test_pgadmin_is_optional(raw):
    assert raw["services"]["pgadmin"]["profiles"] == ["admin"]
    for name, svc in raw["services"].items():
        if name != "pgadmin":
            assert "profiles" not in svc, f"{name} must start by default"


def test_every_service_is_health_checked_or_gated(config):
    for name, svc in config["services"].items():
        deps = svc.get("depends_on", {})
        assert "healthcheck" in svc or deps, f"{name}: no healthcheck and no depends_on"
        for dep, how in deps.items():
            assert how["condition"] in {"service_healthy", "service_completed_successfully"}, (
                f"{name} starts before {dep} is ready ({how['condition']})"
            )
            target = config["services"][dep]
            if how["condition"] == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dep}, which has no healthcheck"


def test_start_order(config):
    svcs = config["services"]
    assert svcs["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert svcs["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("migrate", "api", "worker"):
        assert {"postgres", "redis"} <= set(svcs[name]["depends_on"]), name
    for name in CORE_SERVICES:
        assert "redis" in svcs[name]["depends_on"], name
    assert svcs["migrate"]["restart"] == "no"


def test_no_host_networking_or_privileges(config):
    for name, svc in config["services"].items():
        assert "network_mode" not in svc, f"{name} sets network_mode"
        assert not svc.get("privileged"), f"{name} is privileged"
        assert not svc.get("cap_add"), f"{name} adds capabilities"
        assert svc.get("pid") != "host" and svc.get("ipc") != "host", name
        for vol in svc.get("volumes", []):
            assert vol.get("source") not in {"/", "/tmp", "/var/run/docker.sock"}, f"{name} mounts {vol['source']}"


def test_only_front_services_publish_ports_on_loopback(config):
    published = {name for name, svc in config["services"].items() if svc.get("ports")}
    assert published == {"api", "jupyter", "pgadmin"}
    for name in published:
        for port in config["services"][name]["ports"]:
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes on {port['host_ip']} by default"
    assert config["services"]["api"]["ports"][0]["target"] == 8010
    assert config["services"]["api"]["ports"][0]["published"] == "8010"


def test_no_inline_secrets(raw):
    # Secrets may only arrive through env_file; an inline value would end up
    # in git and in `docker inspect` of every deployment.
    for name, svc in raw["services"].items():
        env = svc.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.partition("=")[::2] for e in env)
        for key, _ in items:
            assert not SECRET_NAME.search(key), f"{name} sets secret {key} inline"
        flat = " ".join(map(str, svc.get("command") or []))
        assert not re.search(r"(?i)(password|secret|token)=\S", flat), f"{name} has a secret in its command"
    assert "secrets" not in raw or all("environment" in s or "file" in s for s in raw["secrets"].values())


def test_python_services_read_the_env_file(raw, config):
    for name in PYTHON_SERVICES | {"postgres", "pgadmin"}:
        files = raw["services"][name].get("env_file")
        assert files, f"{name} has no env_file"
        paths = [f["path"] if isinstance(f, dict) else f for f in files]
        assert paths == ["${ANTINEX_ENV_FILE:-.env}"], f"{name}: {paths}"
    # The resolved model carries the example file's values into the services.
    assert config["services"]["api"]["environment"]["DJANGO_SECRET_KEY"] == "change-me"


def test_every_interpolated_variable_is_in_example_env(example_env):
    used = interpolated_names(COMPOSE_FILE.read_text())
    # The image and CA variables are documented there commented out: run-all.sh
    # sets them (official or offline base images, PIP_CERT's bundle).
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]*)=", EXAMPLE_ENV.read_text(), re.M))
    # ANTINEX_ENV_FILE names the env file itself, so it cannot live inside it.
    missing = used - set(example_env) - documented - {"ANTINEX_ENV_FILE"}
    assert not missing, f"compose.yml uses variables missing from envs/example.env: {sorted(missing)}"


LONG_RUNNING = {"postgres", "redis", "api", "worker", "pipeline", "jupyter", *CORE_SERVICES}


def test_every_long_running_service_has_a_real_healthcheck(config):
    # run-all.sh says "up" only when every one of these is healthy (compose up --wait).
    checks = {"api": ["antinex-healthcheck", "api"], "worker": ["antinex-healthcheck", "celery", "api"],
              "core-train": ["antinex-healthcheck", "celery", "core"],
              "core-predict": ["antinex-healthcheck", "celery", "core"],
              "pipeline": ["antinex-healthcheck", "subscriber"], "jupyter": ["antinex-healthcheck", "jupyter"]}
    for name in LONG_RUNNING:
        test = config["services"][name].get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no healthcheck"
        if name in checks:
            assert test[1:] == checks[name], (name, test)
    assert "pg_isready" in " ".join(config["services"]["postgres"]["healthcheck"]["test"])
    assert config["services"]["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]


def test_healthcheck_script_knows_every_check():
    import subprocess
    import sys

    script = COMPOSE_FILE.parent / "docker" / "healthcheck.py"
    bad = subprocess.run([sys.executable, str(script), "bogus"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage" in bad.stderr
    # Nothing listens on the API port here: a clear "unhealthy" and exit 1, not a traceback.
    down = subprocess.run([sys.executable, str(script), "jupyter"], capture_output=True, text=True, timeout=60,
                          env={"ANTINEX_HEALTH_TIMEOUT": "2", "PATH": "/usr/bin:/bin"})
    assert down.returncode == 1 and down.stdout.startswith("unhealthy:"), down.stdout + down.stderr


def test_base_images_are_parameters(config, tmp_path):
    assert config["services"]["postgres"]["image"] == "postgres:16-alpine"
    assert config["services"]["redis"]["image"] == "redis:7-alpine"
    assert config["services"]["api"]["build"]["args"]["PYTHON_IMAGE"] == "python:3.11-slim"
    env = tmp_path / "images.env"
    env.write_text(EXAMPLE_ENV.read_text() + "ANTINEX_POSTGRES_IMAGE=local/pg:15\nANTINEX_REDIS_IMAGE=local/redis:7\n"
                   "ANTINEX_PYTHON_IMAGE=local/python:3.11\n")
    other = resolved_config(env_file=env)
    assert other["services"]["postgres"]["image"] == "local/pg:15"
    assert other["services"]["redis"]["image"] == "local/redis:7"
    for name in PYTHON_SERVICES:
        assert other["services"][name]["build"]["args"]["PYTHON_IMAGE"] == "local/python:3.11", name


def test_builds_take_the_extra_ca_as_a_secret(config, raw):
    assert raw["secrets"]["ca"]["file"] == "${ANTINEX_BUILD_CA:-/dev/null}"
    for name in PYTHON_SERVICES:
        assert config["services"][name]["build"]["secrets"][0]["source"] == "ca", name


def test_example_env_has_only_placeholder_secrets(example_env):
    secrets = {k: v for k, v in example_env.items() if SECRET_NAME.search(k)}
    assert {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "ANTINEX_PASSWORD", "JUPYTER_TOKEN"} <= set(secrets)
    for key, value in secrets.items():
        assert value == "change-me", f"{key} must be a placeholder in the committed example"
    assert example_env["DJANGO_DEBUG"] == "0"
    assert example_env["DJANGO_CONFIGURATION"] == "Production"


def test_example_env_wires_the_documented_settings(example_env):
    # The settings docs/architecture.md names for the API and core.
    for key in (
        "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "DJANGO_CONFIGURATION",
        "POSTGRES_DB", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD",
        "BROKER_URL", "CELERY_ENABLED", "ANTINEX_WORKER_ENABLED", "ANTINEX_AUTH_URL",
        "ANTINEX_RESULT_AUTH_URL", "ANTINEX_DATASETS_DIR", "ANTINEX_MODEL_STORE",
        "ANTINEX_CORE_BROKER_URL", "TRAIN_QUEUE", "PREDICT_QUEUE", "MAX_MODELS",
        "JWT_ACCESS_MINUTES", "JWT_REFRESH_DAYS",
    ):
        assert key in example_env, key
    # The core must answer on the API broker the API worker listens on.
    assert example_env["ANTINEX_RESULT_AUTH_URL"] == example_env["BROKER_URL"]
    assert example_env["ANTINEX_AUTH_URL"] == example_env["ANTINEX_CORE_BROKER_URL"]
    assert example_env["TRAIN_QUEUE"] == consts.TRAIN_QUEUE
    assert example_env["PREDICT_QUEUE"] == consts.PREDICT_QUEUE
    for url_key in ("BROKER_URL", "ANTINEX_AUTH_URL", "FORWARD_BROKER_URL"):
        assert example_env[url_key].startswith("redis://redis:6379/"), url_key


def test_volumes_for_database_datasets_and_models(config):
    def targets(name: str) -> dict[str, str]:
        return {v["target"]: v["source"] for v in config["services"][name].get("volumes", [])}

    assert targets("postgres")["/var/lib/postgresql/data"] == "pgdata"
    assert targets("redis")["/data"] == "redisdata"
    for name in ("api", "worker", "pipeline", "jupyter", *CORE_SERVICES):
        t = targets(name)
        assert t.get("/opt/antinex/models") == "models", name
        assert t.get("/opt/antinex/datasets") == "datasets", name
    assert {"pgdata", "redisdata", "models", "datasets"} <= set(config["volumes"])


def _command(config: dict, name: str) -> list[str]:
    return config["services"][name]["command"]


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_python_services_share_one_image(config):
    images = {config["services"][n]["image"] for n in PYTHON_SERVICES - {"jupyter"}}
    assert images == {"antinex:latest"}
    for name in PYTHON_SERVICES:
        assert config["services"][name]["build"]["dockerfile"] == "Dockerfile"


def test_api_command(config):
    cmd = _command(config, "api")
    assert cmd[:2] == ["gunicorn", "antinex.api.wsgi:application"]
    assert "--bind=0.0.0.0:8010" in cmd
    assert _module_exists("antinex.api.wsgi"), "api/wsgi.py is missing"


def test_worker_commands_listen_on_the_contract_queues(config):
    worker = _command(config, "worker")
    assert worker[:4] == ["celery", "-A", "antinex.api.celery_app", "worker"]
    queues = worker[worker.index("-Q") + 1].split(",")
    assert "celery" in queues and consts.RESULTS_TASK_NAME in queues and "antinex.api" in queues

    # two core workers, so predictions never wait behind a training: one queue each
    for name, queues in CORE_SERVICES.items():
        core = _command(config, name)
        assert core[:4] == ["celery", "-A", "antinex.core.celery_app", "worker"], name
        assert core[core.index("-Q") + 1].split(",") == queues, name
        assert "--pool=solo" in core, name
        # `celery` reads its broker from BROKER_URL, so the core must see its own there.
        core_env = config["services"][name]["environment"]
        assert core_env["BROKER_URL"] == core_env["ANTINEX_CORE_BROKER_URL"] == "redis://redis:6379/6", name
        assert "healthcheck" in config["services"][name], name
    assert config["services"]["worker"]["environment"]["BROKER_URL"] == "redis://redis:6379/9"
    assert _module_exists("antinex.api.celery_app"), "api/celery_app.py is missing"
    assert _module_exists("antinex.core.celery_app"), "core/celery_app.py is missing"


def test_entry_point_commands_exist(config):
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts")}
    used = {
        "antinex-subscriber": _command(config, "pipeline")[0],
        "antinex-manage": _command(config, "migrate")[0],
    }
    for expected, cmd in used.items():
        assert cmd == expected
        assert cmd in scripts, f"{cmd} is not an installed entry point"
        module = scripts[cmd].value.split(":")[0]
        assert _module_exists(module), f"{cmd} points at missing module {module}"
