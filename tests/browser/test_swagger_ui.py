"""A person's path through Swagger: open /swagger/, try GET /users/ (401),
authorize with a JWT, run it again and see their own record. Headless
Chromium against the real API (tests/stack.py); the screenshot goes to
test-artifacts/swagger-users.png. All of it under the API's
Content-Security-Policy (api/middleware.py), which must not block anything
the pages need.
"""
from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from .chromium import chromium

pytestmark = pytest.mark.stack

USERS_OP = "#operations-users-users_list"
STATUS = f"{USERS_OP} .live-responses-table .response .response-col_status"
BODY = f"{USERS_OP} .live-responses-table .response-col_description pre"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    from conftest import redis_url
    from stack import LiveStack  # tests/stack.py, the shared live-stack fixture module

    with LiveStack(redis_url("reliability"), tmp_path=tmp_path_factory.mktemp("stack"), api_workers=1) as stack:
        yield stack


# Chromium runs this before any script of each page: every CSP violation is kept in window.__csp
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`));
"""


def _watch_csp(page) -> None:
    page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})


def _violations(page) -> list[str]:
    return page.execute_script("return window.__csp")


def _click(wait: WebDriverWait, css: str) -> None:
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


def _status_becomes(wait: WebDriverWait, code: str) -> str:
    """Wait until the live response shows `code`; return the response body."""
    # The cell reads "401\nUndocumented" for codes the schema does not list.
    wait.until(lambda page: page.find_element(By.CSS_SELECTOR, STATUS).text.split()[:1] == [code])
    return wait._driver.find_element(By.CSS_SELECTOR, BODY).text


def test_swagger_authorize_and_list_users(live_api, tmp_path, artifacts_dir):
    username, password = "browser-user", "browser-pass-12345"
    live_api.create_user(username, password)
    token = live_api.token(username, password)
    screenshot = artifacts_dir / "swagger-users.png"

    with chromium(tmp_path / "profile") as page:
        wait = WebDriverWait(page, 60)
        _watch_csp(page)
        page.get(f"{live_api.url}/swagger/")
        try:
            # Without a token the API refuses.
            _click(wait, f"{USERS_OP} .opblock-summary")
            _click(wait, f"{USERS_OP} .try-out__btn")
            _click(wait, f"{USERS_OP} .execute")
            anonymous = _status_becomes(wait, "401")

            # Authorize with "JWT <token>", as the dialog's description says.
            _click(wait, ".swagger-ui .auth-wrapper .authorize")
            field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux .auth-container input")))
            field.send_keys(f"JWT {token}")
            _click(wait, ".modal-ux .auth-btn-wrapper .authorize")
            _click(wait, ".modal-ux .btn-done, .modal-ux button.close-modal")

            _click(wait, f"{USERS_OP} .execute")
            body = _status_becomes(wait, "200")
            curl = page.find_element(By.CSS_SELECTOR, f"{USERS_OP} .curl-command").text
            page.execute_script(f"document.querySelector('{USERS_OP}').scrollIntoView()")
            violations = _violations(page)
        finally:
            page.save_screenshot(str(screenshot))

    assert "credentials were not provided" in anonymous
    assert f'"username": "{username}"' in body
    assert "Authorization: JWT " in curl
    assert screenshot.stat().st_size > 10_000
    assert violations == []


POLICY = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'",
          "frame-ancestors 'none'", "form-action 'self'", "img-src 'self' data:", "style-src 'self' 'unsafe-inline'")


def test_pages_render_under_a_strict_content_security_policy(live_api, tmp_path):
    for path in ("/swagger/", "/docs/", "/admin/login/"):
        policy = requests.get(f"{live_api.url}{path}", timeout=10).headers.get("Content-Security-Policy", "")
        directives = [d.strip() for d in policy.split(";")]
        for directive in POLICY:  # script-src may add the hash of the docs' one inline script
            assert any(d == directive or d.startswith(directive + " 'sha256-") for d in directives), (path, policy)
        assert "unsafe-inline" not in next(d for d in directives if d.startswith("script-src")), policy
    schema = requests.get(f"{live_api.url}/swagger.json", timeout=10).json()
    operations = sum(1 for item in schema["paths"].values() for method in item if method != "parameters")

    with chromium(tmp_path / "profile") as page:
        wait = WebDriverWait(page, 60)
        _watch_csp(page)

        page.get(f"{live_api.url}/swagger/")
        wait.until(lambda p: len(p.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) == operations)
        assert _violations(page) == []
        # the watcher and the policy really work: an injected inline script is blocked and reported
        page.execute_script("const s = document.createElement('script');"
                            "s.textContent = 'window.__ran = true'; document.body.appendChild(s);")
        wait.until(lambda p: _violations(p))
        assert page.execute_script("return window.__ran") is None
        assert [v.split()[0] for v in _violations(page)] == ["script-src-elem"]

        page.get(f"{live_api.url}/docs/")
        wait.until(lambda p: p.execute_script("return document.readyState") == "complete")
        searchbox = page.find_elements(By.ID, "searchbox")  # only when the docs are built
        assert not searchbox or searchbox[0].is_displayed()  # shown by the one inline script the policy allows
        if searchbox:  # and the search itself runs
            page.get(f"{live_api.url}/docs/search.html?q=schema")
            wait.until(lambda p: p.find_elements(By.CSS_SELECTOR, "#search-results li"))
        assert _violations(page) == []

        page.get(f"{live_api.url}/admin/login/")
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#login-form input[name=username]")))
        assert _violations(page) == []
