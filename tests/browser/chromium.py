"""Headless Chromium for the browser tests, driven by Selenium.

Uses Debian's chromium and chromedriver (apt packages chromium,
chromium-driver): Selenium Manager never downloads a browser or driver here.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


def find_binaries() -> tuple[str, str]:
    """Paths of the system chromium and chromedriver (clear error when missing)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise FileNotFoundError(
            "headless browser tests need Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver; scripts/bootstrap.sh installs them)"
        )
    return browser, driver


@contextmanager
def chromium(profile_dir: Path) -> Iterator["webdriver.Chrome"]:
    """A headless Chromium session with a throw-away profile; always quits."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield session
    finally:
        session.quit()
