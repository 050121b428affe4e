"""One set of result codes (the published client's 3 and 4) and the client's settings from their declaration."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from antinex.client import consts
from antinex.client.generate import generate_ai_request
from antinex.utils import consts as shared
from antinex.utils.consts import Result

# antinex-client 1.3.6's consts.py (original-core_utils_client.md C1)
PUBLISHED = {"SUCCESS": 0, "FAILED": 1, "ERROR": 2, "NOT_SET": 3, "DISABLED": 4, "LOGIN_SUCCESS": 0,
             "LOGIN_NOT_ATTEMPTED": 1, "LOGIN_FAILED": 2}
COMPAT_VENV = Path(os.environ.get("ANTINEX_COMPAT_VENV", Path.home() / ".cache" / "antinex-client-1.3.6"))


def published_consts() -> dict[str, int]:
    """The constants of the installed published client (tests/api/test_client_compat.py installs it), or the
    reference's values when it is not installed here."""
    found = sorted(COMPAT_VENV.glob("lib/python3*/site-packages/antinex_client/consts.py"))
    if not found:
        return PUBLISHED
    tree = ast.parse(found[0].read_text())
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int) and t.id in PUBLISHED}


def test_the_client_codes_are_the_published_clients():
    published = published_consts()
    assert published == PUBLISHED
    for name, value in published.items():
        assert getattr(consts, name) == value, name


def test_one_set_of_result_codes_for_every_part():
    assert {c.name: c.value for c in Result} == {"SUCCESS": 0, "FAILED": 1, "ERR": 2, "NOT_SET": 3, "DISABLED": 4}
    assert Result.ERROR is Result.ERR and shared.ERROR is shared.ERR
    for name in ("SUCCESS", "FAILED", "ERROR", "NOT_SET", "DISABLED"):
        assert getattr(consts, name) is getattr(shared, name), name
    for gone in ("EX", "NOTRUN", "INVALID", "NOTDONE"):  # the utils' 3 and 4 (never returned) are gone
        assert not hasattr(shared, gone)
    assert json.dumps({"status": Result.DISABLED}) == '{"status": 4}'  # on the wire: a plain number


@pytest.mark.parametrize("value", ["0", "false", "no", "off"])
def test_generate_answers_disabled_when_publishing_is_off(monkeypatch, value):
    monkeypatch.setenv("ANTINEX_PUBLISH_ENABLED", value)
    res = generate_ai_request([{"f1": 1}], req_dict={"label": "x"})
    assert res["status"] == consts.DISABLED == 4 and res["data"] is None and "ANTINEX_PUBLISH_ENABLED" in res["error"]


def test_a_malformed_client_setting_is_a_failed_answer_naming_it(monkeypatch):
    monkeypatch.setenv("ANTINEX_MISSING_VALUE", "nothing")
    res = generate_ai_request([{"f1": None}], req_dict={"label": "x", "features_to_process": ["f1"]})
    assert res["status"] == consts.FAILED and "ANTINEX_MISSING_VALUE" in res["error"]


def test_settings_come_from_their_declaration(monkeypatch):
    for name in ("ANTINEX_URL", "API_URL", "ANTINEX_MISSING_VALUE", "ANTINEX_FEATURES_TO_PROCESS"):
        monkeypatch.delenv(name, raising=False)
    assert consts.env_url() == "http://localhost:8010"
    monkeypatch.setenv("API_URL", "http://old-name:8010")  # the original client's name
    assert consts.env_url() == "http://old-name:8010"
    monkeypatch.setenv("ANTINEX_URL", "http://new-name:8010")
    assert consts.env_url() == "http://new-name:8010"
    monkeypatch.setenv("ANTINEX_FEATURES_TO_PROCESS", "f1, f2")
    monkeypatch.setenv("ANTINEX_MISSING_VALUE", "-2")
    res = generate_ai_request([{"f1": None, "f2": 3}], req_dict={"label": "x"})
    assert res["data"]["features_to_process"] == ["f1", "f2"] and res["data"]["predict_rows"][0]["f1"] == -2.0


def test_settings_modules_read_the_environment_only_through_the_declaration():
    """No os.environ/getenv in the settings modules: every variable is declared in utils/config.py."""
    root = Path(__file__).resolve().parents[2]
    for path in ("api/settings.py", "core/settings.py", "pipeline/settings.py"):
        text = (root / path).read_text()
        assert "os.environ" not in text and "getenv" not in text, path
    client = (root / "client/consts.py").read_text()
    assert client.count("os.environ") == 1  # ev(), the original client's helper for scripts


def test_the_config_cli_prints_the_settings_in_force():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTINEX_", "API_"))}
    out = subprocess.run([sys.executable, "-m", "antinex.utils.config", "client"], capture_output=True, text=True,
                         env={**env, "ANTINEX_PASSWORD": "hunter2"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ANTINEX_URL=http://localhost:8010" in out.stdout
    assert "hunter2" not in out.stdout and "ANTINEX_PASSWORD=(secret)" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "antinex.utils.config", "client"], capture_output=True, text=True,
                         env={**env, "ANTINEX_MISSING_VALUE": "x"}, timeout=60)
    assert bad.returncode == 1 and "ANTINEX_MISSING_VALUE='x'" in bad.stderr
