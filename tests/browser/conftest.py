"""Real Chromium (Debian's, installed by .ci/run) driven by Playwright against a real `sandbox serve`.

Playwright's Python package brings its driver; it never downloads a browser here: it launches
/usr/bin/chromium. Screenshots the tests take go to docs/img/ (committed, shown in the README).
"""

from __future__ import annotations

import shutil
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
    """docs/img/<name>.png: the README shows what the tests saw."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=True)
