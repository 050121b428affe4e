"""A person's path through Swagger: open /swagger/, authorize with a JWT,
run GET /users/ and see the answer. Headless Chromium against the real API
(tests/stack.py); the screenshot goes to test-artifacts/.
"""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from .chromium import chromium

pytestmark = pytest.mark.stack

USERS_OP = "#operations-users-users_list"


@pytest.fixture(scope="module")
def live_api():
    from stack import LiveStack  # tests/stack.py, the shared live-stack fixture module
    from conftest import redis_url

    with LiveStack(redis_url("reliability")) as stack:
        yield stack


def test_swagger_authorize_and_list_users(live_api, tmp_path, artifacts_dir):
    username = "browser-user"
    live_api.create_user(username, "browser-pass-12345")
    token = live_api.token(username, "browser-pass-12345")
    screenshot = artifacts_dir / "swagger-users.png"

    with chromium(tmp_path / "profile") as page:
        wait = WebDriverWait(page, 60)
        page.get(f"{live_api.url}/swagger/")
        try:
            wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".swagger-ui .auth-wrapper .authorize"))).click()
            field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux .auth-container input")))
            field.send_keys(f"JWT {token}")
            page.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
            page.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done, .modal-ux button.close-modal").click()

            wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f"{USERS_OP} .opblock-summary"))).click()
            wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f"{USERS_OP} .try-out__btn"))).click()
            wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, f"{USERS_OP} .execute"))).click()
            status = wait.until(EC.visibility_of_element_located(
                (By.CSS_SELECTOR, f"{USERS_OP} .live-responses-table .response .response-col_status")
            )).text.strip()
            body = page.find_element(
                By.CSS_SELECTOR, f"{USERS_OP} .live-responses-table .response-col_description pre"
            ).text
            curl = page.find_element(By.CSS_SELECTOR, f"{USERS_OP} .curl-command").text
            page.execute_script(f"document.querySelector('{USERS_OP}').scrollIntoView()")
        finally:
            page.save_screenshot(str(screenshot))

    assert status == "200", f"GET /users/ answered {status}: {body}"
    assert username in body
    assert "Authorization: JWT " in curl
    assert screenshot.stat().st_size > 10_000
