"""Debian's chromium driven by Playwright, for the pages' tests (skipped locally when it is
missing, a failure under CI)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 375)
"""A station's screen or a desk, and a phone."""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from tests.conftest import in_ci

    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-microhei"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: nothing to scroll sideways)."""
    width: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width
