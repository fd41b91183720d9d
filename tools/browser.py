"""Headless Chromium for the site's browser test and its screenshot: the
system's ``chromium`` and ``chromedriver`` (Debian: ``apt-get install chromium
chromium-driver``) driven by selenium, started with no network activity of
its own (the flags a machine without network needs)."""
from __future__ import annotations

import shutil

INSTALL = "apt-get install chromium chromium-driver, and pip install selenium"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


class NoBrowser(RuntimeError):
    """Chromium, its driver or selenium is missing (the message says how to install them)."""


def chromium(width: int = 1400, height: int = 1000):
    """A selenium driver of headless Chromium whose console log is readable (``get_log("browser")``)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise NoBrowser(f"selenium is not installed: {INSTALL}") from None
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        raise NoBrowser(f"no Chromium or chromedriver on PATH: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS + (f"--window-size={width},{height}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))
