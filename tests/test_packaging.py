"""One import namespace: the distribution installs antinex.* only, and every module has one import path."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("api", "core", "pipeline", "utils", "client")


@pytest.mark.slow
def test_wheel_holds_only_the_antinex_namespace(tmp_path):
    # a copy of the sources: an in-tree build would leave build/ and *.egg-info in the checkout
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "var", "build", "test-artifacts",
                                                             "node_modules", "_build", "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("antinex-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith((".dist-info", ".data"))} == {"antinex"}, tops
    names = zipfile.ZipFile(wheel).namelist()
    for part in PARTS:
        assert f"antinex/{part}/__init__.py" in names
    assert "antinex/utils/data/default/train.csv.gz" in names  # the shipped datasets travel with the code
    assert "antinex/utils/data/default/requests.csv.gz" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "antinex-pcap = antinex.pipeline.pcap:main" in entry_points


def test_plain_top_level_names_are_refused():
    """From the repository root the folders are importable by their bare names; each refuses it."""
    for part in PARTS:
        proc = subprocess.run([sys.executable, "-c", f"import {part}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode != 0
        assert f"import antinex.{part}, not {part}" in proc.stderr


def test_the_whole_stack_loads_once_under_antinex():
    """Django's apps, the API's and the core's Celery tasks: registered once, under their wire names."""
    code = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "antinex.api.settings")
import django; django.setup()
import antinex.api.urls, antinex.api.ml.tasks
from antinex.api.celery_app import app as api_app
from antinex.core.celery_app import app as core_app
import antinex.core.tasks, antinex.pipeline.subscriber, antinex.pipeline.lab.cli, antinex.client.ai_client
from antinex.utils import consts
api_app.loader.import_default_modules(); core_app.loader.import_default_modules()
bare = sorted(m for m in sys.modules if m.split(".")[0] in ("api", "core", "pipeline", "utils", "client"))
assert not bare, bare
assert {consts.RESULTS_TASK_NAME, consts.API_JOB_TASK, consts.API_PREPARE_TASK} <= set(api_app.tasks), sorted(api_app.tasks)
assert {consts.CORE_TRAIN_TASK, consts.CORE_PREDICT_TASK} <= set(core_app.tasks)
from django.apps import apps
assert [a.name for a in apps.get_app_configs() if a.label == "ml"] == ["antinex.api.ml"]
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_core_control_does_not_import_the_tasks():
    """core/control.py reaches the worker's processor without the tasks module (no import cycle)."""
    code = ("import sys; import antinex.core.control, antinex.core.processor; "
            "assert 'antinex.core.tasks' not in sys.modules; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
