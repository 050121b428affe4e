"""A person's path through Swagger: open /swagger/, try GET /users/ (401),
authorize with a JWT, run it again and see their own record. Headless
Chromium against the real API (tests/stack.py); the screenshot goes to
test-artifacts/swagger-users.png.
"""
from __future__ import annotations

import pytest
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
        finally:
            page.save_screenshot(str(screenshot))

    assert "credentials were not provided" in anonymous
    assert f'"username": "{username}"' in body
    assert "Authorization: JWT " in curl
    assert screenshot.stat().st_size > 10_000
