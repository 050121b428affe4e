"""Docker benchmark: build times (cold, warm, after a code change) and image sizes.

Builds the runtime image (the `api` service of compose.yml, tagged
``antinex:bench``) the way ``run-all.sh --docker`` does, through Compose and
the engine's BuildKit, on the base image run-all.sh would pick (official if
present, else the offline Debian one, built first by scripts/docker-base.sh).

- cold: ``docker builder prune --all`` first: no layer and no pip cache
  mount; the base image stays (it is not the project's build). Baseline for
  the warm figures, same run.
- warm: the same build again, nothing changed.
- code change: a new ``ANTINEX_BUILD_ID`` re-runs the project layer (``pip
  install --no-deps .``, collectstatic) as a change to api/ would.
- jupyter: the Jupyter image built on top of the runtime one.
- sizes: the runtime image against the 1.5 GB goal (ratio = size / goal,
  under 1 meets it) and against its base image; the Jupyter image against
  the runtime one; the offline PostgreSQL and Redis images against the
  Debian root filesystem they are built on.

``--quick`` skips the cold build (it empties the build cache of the whole
engine, and takes minutes). Needs a Docker engine (scripts/docker-engine.sh).
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_BYTES = 1.5e9
TAG = "bench"


def _sh(cmd: str, **env: str) -> str:
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, timeout=3600,
                          env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd}: {proc.stderr[-2000:]}")
    return proc.stdout


def _compose() -> list[str]:
    out = _sh(f'. scripts/docker-common.sh; compose_bin "{ROOT}" && printf "%s\\n" "${{COMPOSE[@]}}"')
    return out.split("\n")[:-1]


def _image_present(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def _size(image: str) -> int:
    return int(_sh(f"docker image inspect {image} --format '{{{{.Size}}}}'"))


def _base_images() -> dict[str, str]:
    if _image_present("python:3.11-slim"):
        return {"ANTINEX_PYTHON_IMAGE": "python:3.11-slim"}
    out = _sh("bash scripts/docker-base.sh")
    return dict(line.split("=", 1) for line in out.splitlines() if line.startswith("ANTINEX_"))


def _build(env: dict, *extra: str, service: str = "api") -> float:
    """Seconds of one `compose build SERVICE` (api: the runtime image; jupyter: the Jupyter image)."""
    cmd = [*_compose(), "--project-directory", str(ROOT), "-p", "antinex-bench", "--env-file",
           str(ROOT / "envs" / "example.env"), "--progress", "plain", "build", *extra, service]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"build failed: {proc.stderr[-3000:]}")
    return seconds


def run(quick: bool = False) -> list[dict]:
    _sh("bash scripts/docker-engine.sh")
    base = _base_images()
    python_image = base["ANTINEX_PYTHON_IMAGE"]
    ca = os.environ.get("ANTINEX_BUILD_CA") or os.environ.get("PIP_CERT") or "/dev/null"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ANTINEX_", "COMPOSE_"))}, **base,
           "ANTINEX_VERSION": TAG, "ANTINEX_ENV_FILE": str(ROOT / "envs" / "example.env"),
           "ANTINEX_BUILD_CA": ca}
    rows: list[dict] = []
    if not quick:
        _sh("docker builder prune --all --force")
        cold = _build(env)
    warm = _build(env)
    change = _build(env, "--build-arg", f"ANTINEX_BUILD_ID={uuid.uuid4().hex}")
    jupyter = _build(env, service="jupyter")
    image = f"antinex:{TAG}"
    note_base = f"base {python_image}"
    if not quick:
        rows += [
            {"name": "docker build, cold (s)", "value": cold, "unit": "s", "baseline_name": "itself",
             "baseline_value": cold, "ratio": 1.0,
             "notes": f"{note_base}; no layer or pip cache; downloads TensorFlow and every dependency"},
            {"name": "docker build, warm (s)", "value": warm, "unit": "s", "baseline_name": "cold build",
             "baseline_value": cold, "ratio": warm / cold, "notes": "nothing changed; ratio = warm / cold"},
            {"name": "docker build, code change (s)", "value": change, "unit": "s", "baseline_name": "cold build",
             "baseline_value": cold, "ratio": change / cold,
             "notes": "project layer only (pip install --no-deps ., collectstatic); ratio = rebuild / cold"},
        ]
    else:
        rows.append({"name": "docker build, code change (s)", "value": change, "unit": "s",
                     "baseline_name": "warm build", "baseline_value": warm, "ratio": change / warm,
                     "notes": "quick: no cold build; ratio = code-change rebuild / no-change rebuild"})
    size = _size(image)
    base_size = _size(python_image)
    rows += [
        {"name": "runtime image (GB)", "value": size / 1e9, "unit": "GB", "baseline_name": "1.5 GB goal",
         "baseline_value": GOAL_BYTES / 1e9, "ratio": size / GOAL_BYTES,
         "notes": f"{size / 2**30:.2f} GiB; ratio = size / goal (under 1 meets it)"},
        {"name": "runtime image vs its base", "value": size / 1e9, "unit": "GB",
         "baseline_name": python_image, "baseline_value": base_size / 1e9, "ratio": size / base_size,
         "notes": "what the project adds: TensorFlow CPU, the dependencies, the project, docs, static files"},
    ]
    jsize = _size(f"antinex-jupyter:{TAG}")
    rows += [
        {"name": "jupyter image (GB)", "value": jsize / 1e9, "unit": "GB", "baseline_name": "runtime image",
         "baseline_value": size / 1e9, "ratio": jsize / size, "notes": "runtime + JupyterLab (one COPY of its prefix)"},
        {"name": "docker build, jupyter on top (s)", "value": jupyter, "unit": "s", "baseline_name": "warm build",
         "baseline_value": warm, "ratio": jupyter / warm if warm else None,
         "notes": "after the runtime image: installs JupyterLab (first time) and adds it"},
    ]
    for var, official in (("ANTINEX_POSTGRES_IMAGE", "postgres"), ("ANTINEX_REDIS_IMAGE", "redis")):
        if var in base and _image_present(base[var]):
            s = _size(base[var])
            debian = _size("antinex-base/debian:bookworm")
            rows.append({"name": f"offline {official} image (GB)", "value": s / 1e9, "unit": "GB",
                         "baseline_name": "Debian rootfs it is built on", "baseline_value": debian / 1e9,
                         "ratio": s / debian, "notes": f"{base[var]}, from Debian's packages"})
    subprocess.run(["docker", "image", "rm", image, f"antinex-jupyter:{TAG}"], capture_output=True)
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
