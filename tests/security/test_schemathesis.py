"""Generated input against every operation in /swagger.json: never a 5xx.

schemathesis reads the API's own OpenAPI document and sends examples,
boundary values and fuzzed bodies, with and without a valid JWT. Shapes it
never generates from the schema (JSON nested 950 levels deep on /ml/ and
/mlprepare/, a refresh token whose user was deleted, HTTP Basic
credentials, password guessing) are explicit requests in test_doors.py.
Its failed logins may meet the login throttle: a 429 is an answer, not a
server error.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import redis_url

pytestmark = pytest.mark.stack
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    # generated ?wait= values must not hold requests for long
    with LiveStack(redis_url("security"), tmp_path=tmp_path_factory.mktemp("fuzz-stack"),
                   extra_env={"ANTINEX_MAX_WAIT_SECONDS": "1"}) as s:
        (s.datasets_dir / "train.csv").write_text("f1,f2,label_value\n1,2,0\n2,1,1\n")
        s.create_user("fuzzer", "fuzzer-pass-1")
        yield s


def _run(stack, tmp_path, *headers: str) -> tuple[int, str]:
    cmd = [str(BIN / "schemathesis"), "run", f"{stack.url}/swagger.json", "--url", stack.url,
           "--checks", "not_a_server_error", "--phases", "examples,coverage,fuzzing",
           "--max-examples", "25", "--workers", "1", "--request-timeout", "30",
           "--seed", os.environ.get("ANTINEX_FUZZ_SEED", "7"),  # other seeds: ANTINEX_FUZZ_SEED=n
           "--warnings", "off"]
    for h in headers:
        cmd += ["-H", h]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**stack.env, "NO_COLOR": "1"})
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("auth", ["jwt", "anonymous"])
def test_no_server_errors_on_generated_input(stack, tmp_path, auth):
    headers = [f"Authorization: JWT {stack.token('fuzzer', 'fuzzer-pass-1')}"] if auth == "jwt" else []
    code, out = _run(stack, tmp_path, *headers)
    assert code == 0, out[-8000:] + "\napi log:\n" + stack.log("api")
    assert "No issues found" in out, out[-3000:]
    # it really exercised the API: every operation of the schema, many generated cases
    schema = requests.get(f"{stack.url}/swagger.json", timeout=10).json()
    operations = sum(1 for item in schema["paths"].values() for method in item if method != "parameters")
    assert operations >= 18 and re.search(rf"Tested: {operations}\b", out), out[-3000:]
    generated = int(re.search(r"(\d+) generated", out).group(1))
    assert generated > 300, out[-3000:]
    assert "internal error" not in stack.log("api"), stack.log("api")
