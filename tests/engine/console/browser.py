"""The engine console in Debian's chromium: a real engine (real clock) with the console test app
synced, one browser page on it, and screenshots of what the page shows.

Each test gets an engine of its own; `ConsolePage.h` is the harness to send events and read runs
over HTTP while the page is open.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Locator, Page, ViewportSize

from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    chromium,
    no_horizontal_scroll,
    save_screenshots,
    set_visibility,
)
from tests.engine import console_app
from tests.engine.harness import Harness

__all__ = ["DESKTOP", "PHONE", "ConsolePage", "console_page"]


class ConsolePage:
    def __init__(self, page: Page, h: Harness) -> None:
        self.page = page
        self.h = h
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console_message)

    def _console_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, path: str = "/") -> None:
        """Load a console address (`/runs?status=failed`) and wait for its first answer."""
        self.page.goto(self.h.engine.url + path)
        self.page.locator("main .page").wait_for()

    def nav(self, name: str) -> Locator:
        return self.page.get_by_role("navigation", name="Console").get_by_role("link", name=name)

    def set_visibility(self, state: str) -> None:
        set_visibility(self.page, state)

    def no_horizontal_scroll(self) -> bool:
        return no_horizontal_scroll(self.page)

    def screenshots(self, name: str) -> None:
        """Save the whole page in light and in dark as `console-<name>-*.png`."""
        save_screenshots(self.page, f"console-{name}")


@contextmanager
def console_page(
    tmp_path: Path, viewport: ViewportSize = DESKTOP, **options: Any
) -> Iterator[ConsolePage]:
    """An engine with the console test app synced, and a browser page on its console.

    The page must end without script errors: a test that leaves one fails.
    """
    with (
        console_app.console_harness(tmp_path, fake_clock=False, **options) as h,
        chromium() as browser,
    ):
        context = browser.new_context(viewport=viewport, base_url=h.engine.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        console = ConsolePage(page, h)
        try:
            yield console
        finally:
            context.close()
        assert console.errors == [], console.errors
