"""Real Chromium (Debian's, installed by .ci/run) driven by Playwright against a real `sandbox serve`.

Playwright's Python package brings its driver; it never downloads a browser here: it launches
/usr/bin/chromium. `UPDATE_SCREENSHOTS=1 python -m pytest tests/browser` refreshes docs/img/ (the
README's pictures) from what the tests see.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durable import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
# What the machine's closed network needs: no background connections, no first-run dialogs.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop: not past its module's async-free tests
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: .ci/run installs the Debian package chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@pytest.fixture
def sandbox(servers) -> Server:
    server = Server("--seed", "5", "--clock", "2026-03-02T10:00:00Z")
    servers.append(server)
    return server


def screenshot(page, name: str) -> None:
    """What the test sees. With UPDATE_SCREENSHOTS=1 it goes to docs/img/<name>.png, which the README
    shows; otherwise to a temporary folder, so a test run leaves the checkout as it was."""
    folder = IMAGES if os.environ.get("UPDATE_SCREENSHOTS") else Path(tempfile.gettempdir()) / "sandbox-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
