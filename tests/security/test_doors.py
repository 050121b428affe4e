"""Requests of shapes schemathesis does not generate, against the real stack (issue 13).

Deeply nested JSON on every body-taking door, a refresh token whose user
was deleted or deactivated, HTTP Basic credentials, and password guessing
on both login doors (``POST /api-token-auth/`` and the admin login).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, redis_url

pytestmark = pytest.mark.stack
BIN = Path(sys.executable).parent
DEFAULT_DEPTH_LIMIT = 32  # utils/limits.py: ANTINEX_MAX_JSON_DEPTH


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from stack import LiveStack

    with LiveStack(redis_url("security"), tmp_path=tmp_path_factory.mktemp("doors-stack")) as s:
        s.create_user("door", "door-pass-1")
        yield s


def _manage(stack, *args: str, env: dict | None = None) -> str:
    """Run a Django management command against the stack's database."""
    proc = subprocess.run([str(BIN / "antinex-manage"), *args], cwd=ROOT, env={**stack.env, **(env or {})},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _orm(stack, code: str) -> None:
    _manage(stack, "shell", "-c", "from django.contrib.auth.models import User\n" + code)


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# -- deeply nested JSON --------------------------------------------------------------------------

@pytest.mark.parametrize("door", ["/ml/", "/mlprepare/", "/users/"])
@pytest.mark.parametrize("levels", [950, DEFAULT_DEPTH_LIMIT + 1])
def test_deeply_nested_json_is_a_400_naming_the_body(stack, door, levels):
    body = '{"label": "x", "model_desc": ' + _nested(levels) + "}"
    r = requests.post(f"{stack.url}{door}", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"JWT {stack.token('door', 'door-pass-1')}"},
        timeout=30)
    assert r.status_code == 400, r.text[:500]
    answer = r.json()
    assert set(answer) == {"error", "field", "reason"} and answer["field"] == "body", answer
    assert f"{levels + 1} levels" in answer["reason"] and "ANTINEX_MAX_JSON_DEPTH" in answer["reason"]


def test_brackets_inside_strings_and_the_depth_limit_itself_pass(stack):
    session = stack.client("door", "door-pass-1")
    # the whole body (object + 31 lists) is exactly at the limit: not refused for its depth
    at_limit = '{"label": "x", "model_desc": ' + _nested(DEFAULT_DEPTH_LIMIT - 1) + "}"
    in_text = json.dumps({"label": "[[[{{{" * 400 + '\\"[', "model_desc": {}})
    for body in (at_limit, in_text):
        r = session.post(f"{stack.url}/ml/", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json().get("field") != "body", r.text[:500]


@pytest.mark.parametrize("body", ["{not json", '{"label": NaN}', '{"label": "x"', b'{"label": "\xff"}'])
def test_malformed_json_is_a_400_naming_the_body(stack, body):
    r = stack.client("door", "door-pass-1").post(f"{stack.url}/ml/", data=body,
                                                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text[:500]
    assert r.json()["field"] == "body" and "not valid JSON" in r.json()["reason"], r.json()


DEPTH_SPEED = r'''
import json, time
from antinex.api.ml.parsers import DepthLimitedJSONParser, json_depth

def walk(value):  # the slow reference: what the parser must not do
    if isinstance(value, dict):
        return 1 + max(map(walk, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(walk, value), default=0)
    return 0

tricky = [{"a": "]]]", "b": ["\\", "\\\"[[", {"c": [[["x{"]]]}]}, "\\\\", [[]], {"k[": {}}, 3, "q\"}"]
for doc in tricky + [[tricky] * 3, {"d": tricky}]:
    assert json_depth(json.dumps(doc).encode()) == walk(doc), doc

# the largest legal /ml/ body: 200,000 predict_rows, about 40 MB
row = {"tcp_dport": 80, "ip_len": 1200, "payload": "GET /?q=[{x}] \"quoted\" \\ HTTP/1.1",
       **{f"col_{i}": i * 0.5 for i in range(11)}}
body = json.dumps({"label": "big", "predict_rows": [row] * 200_000}).encode()
assert len(body) > 40e6

class Stream:  # what DRF hands a parser
    def __init__(self, data): self.data = data
    def read(self): return self.data

def best(f):
    times = []
    for _ in range(3):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times)

loads = best(lambda: json.loads(body))
parse = best(lambda: DepthLimitedJSONParser().parse(Stream(body)))
print(json.dumps({"loads": loads, "parse": parse}))
'''


def test_the_depth_check_is_correct_and_cheap_on_a_40_mb_body():
    """Measured against json.loads itself: a Python walk over 200,000 rows would cost more than the parse."""
    proc = subprocess.run([sys.executable, "-c", DEPTH_SPEED], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "DJANGO_SETTINGS_MODULE": "antinex.api.settings"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    assert times["parse"] - times["loads"] < times["loads"], times


# -- refresh tokens of users that are gone -------------------------------------------------------

@pytest.mark.parametrize("change", ["delete()", "update(is_active=False)"])
def test_refresh_of_a_deleted_or_inactive_user_is_a_401(stack, change):
    username = f"leaving-{change[:6]}"
    stack.create_user(username, "leaving-pass-1")
    tokens = requests.post(f"{stack.url}/api-token-auth/", json={"username": username, "password": "leaving-pass-1"},
                           timeout=10).json()
    _orm(stack, f"User.objects.filter(username={username!r}).{change}")
    r = requests.post(f"{stack.url}/api-token-refresh/", json={"refresh": tokens["refresh"]}, timeout=10)
    assert r.status_code == 401, r.text[:500]
    assert "deleted or deactivated" in r.json()["error"]
    # and the access token is refused too
    me = requests.get(f"{stack.url}/users/", headers={"Authorization": f"JWT {tokens['token']}"}, timeout=10)
    assert me.status_code == 401


def test_refresh_of_a_live_user_still_rotates(stack):
    refresh = requests.post(f"{stack.url}/api-token-auth/", json={"username": "door", "password": "door-pass-1"},
                            timeout=10).json()["refresh"]
    r = requests.post(f"{stack.url}/api-token-refresh/", json={"refresh": refresh}, timeout=10)
    assert r.status_code == 200 and r.json()["access"] and r.json()["refresh"] != refresh
    again = requests.post(f"{stack.url}/api-token-refresh/", json={"refresh": refresh}, timeout=10)
    assert again.status_code == 401  # the rotated token is blacklisted


# -- authentication ------------------------------------------------------------------------------

def test_http_basic_is_not_an_authentication(stack):
    r = requests.get(f"{stack.url}/users/", auth=("door", "door-pass-1"), timeout=10)
    assert r.status_code == 401, r.text[:300]
    assert "basic" not in r.headers.get("WWW-Authenticate", "").lower()
    assert stack.client("door", "door-pass-1").get(f"{stack.url}/users/").status_code == 200


@pytest.fixture(scope="module")
def throttled(tmp_path_factory):
    """A stack with 3 failed logins a minute, behind one (simulated) proxy: X-Forwarded-For picks the client."""
    from stack import LiveStack

    with LiveStack(redis_url("security"), tmp_path=tmp_path_factory.mktemp("throttled-stack"),
                   extra_env={"ANTINEX_LOGIN_RATE": "3/minute", "ANTINEX_NUM_PROXIES": "1"}) as s:
        s.create_user("victim", "victim-pass-1")
        s.create_user("bystander", "bystander-pass-1")
        _manage(s, "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com",
                env={"DJANGO_SUPERUSER_PASSWORD": "root-pass-12345"})
        yield s


def _token_login(stack, client: str, username: str, password: str) -> requests.Response:
    return requests.post(f"{stack.url}/api-token-auth/", json={"username": username, "password": password},
                         headers={"X-Forwarded-For": client}, timeout=10)


def _admin_login(stack, client: str, username: str, password: str) -> requests.Response:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = client
    page = session.get(f"{stack.url}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(f"{stack.url}/admin/login/?next=/admin/", allow_redirects=False, timeout=10, data={
        "csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/admin/"})


def _assert_throttled(r: requests.Response) -> None:
    assert r.status_code == 429, r.text[:300]
    assert "too many failed logins" in r.json()["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_password_guessing_is_throttled_on_both_login_doors(throttled):
    # the counts live in fixed clock minutes: start early in one so the test stays inside it
    if 60 - time.time() % 60 < 30:
        time.sleep(60 - time.time() % 60 + 0.5)

    # per username: the 4th bad password is refused, from any address, through either door
    for _ in range(3):
        bad = _token_login(throttled, "10.0.0.1", "victim", "guess")
        assert bad.status_code == 400 and set(bad.json()) == {"error", "field", "reason", "non_field_errors"}, bad.text
    _assert_throttled(_token_login(throttled, "10.0.0.1", "victim", "guess"))
    _assert_throttled(_token_login(throttled, "10.0.0.2", "victim", "victim-pass-1"))
    _assert_throttled(_admin_login(throttled, "10.0.0.2", "victim", "guess"))

    # good logins do not count: a user logs in again and again
    for _ in range(5):
        ok = _token_login(throttled, "10.0.0.5", "bystander", "bystander-pass-1")
        assert ok.status_code == 200 and set(ok.json()) == {"token", "refresh"}, ok.text

    # per address: three bad guesses at three names, then even a fourth name is refused, and so is
    # anybody else from there (10.0.0.1 too, after its three guesses)
    _assert_throttled(_token_login(throttled, "10.0.0.1", "bystander", "bystander-pass-1"))
    for name in ("u1", "u2", "u3"):
        assert _admin_login(throttled, "10.0.0.3", name, "guess").status_code == 200  # the form again
    _assert_throttled(_token_login(throttled, "10.0.0.3", "u4", "guess"))
    _assert_throttled(_admin_login(throttled, "10.0.0.3", "root", "root-pass-12345"))

    # the admin login itself still works from elsewhere
    ok = _admin_login(throttled, "10.0.0.4", "root", "root-pass-12345")
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/", ok.text[:300]
