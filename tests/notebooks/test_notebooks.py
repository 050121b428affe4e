"""Both notebooks executed with nbclient: offline, and against the real stack."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import redis_url

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, env: dict, tmp_path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nbformat.write(nb, tmp_path / name)
    return nb


def outputs(nb) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_how_it_works_offline(tmp_path):
    nb = execute("AntiNex-How-It-Works.ipynb", {"EPOCHS": "3", "NOTEBOOK_OUT": str(tmp_path)}, tmp_path)
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "accuracy" in outputs(nb)


@pytest.mark.stack
def test_pre_trained_models_through_the_stack(tmp_path):
    from stack import LiveStack

    from antinex.utils.data import PACKET_TRAIN

    with LiveStack(redis_url("client"), core_redis=redis_url("client_core"), with_core=True,
                   tmp_path=tmp_path / "stack") as stack:
        shutil.copy(PACKET_TRAIN, stack.datasets_dir / "train.csv.gz")
        stack.create_user("nb", "nb-pass-1")
        nb = execute("AntiNex-Using-Pre-Trained-Models.ipynb",
                     {"ANTINEX_URL": stack.url, "ANTINEX_USER": "nb", "ANTINEX_PASSWORD": "nb-pass-1",
                      "DATASET": "train.csv.gz", "ROWS_CSV": str(PACKET_TRAIN), "EPOCHS": "3"}, tmp_path)
    assert "model came from: memory" in outputs(nb)
