"""The console in Debian's chromium through Playwright: a page signed in with a real token, the
router called directly for set-up, and screenshots in light and dark.

`playwright install` cannot download a browser here, so the system one is launched
(`.ci/run` installs the `chromium` package when it is missing).
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, ViewportSize, sync_playwright

from service.db import session_scope
from service.models import Organization
from service.tokens import issue_token
from tests.e2e.system import System

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).parents[1] / "artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=860)
PHONE = ViewportSize(width=375, height=740)
JOBS_LIST = "/api/trpc/jobs.list"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def set_visibility(page: Page, state: str) -> None:
    """Tell the page it is hidden or visible, as the browser does when a tab is switched."""
    page.evaluate(
        """state => {
            const hidden = state === 'hidden';
            for (const [name, value] of [['visibilityState', state], ['hidden', hidden]]) {
                Object.defineProperty(document, name, { configurable: true, get: () => value });
            }
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
        )
    )


def save_screenshots(page: Page, name: str) -> None:
    """Save the whole page as it is now, in light and in dark, as `<name>-light.png` and so on."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(
            path=SCREENSHOTS / f"{name}-{scheme}.png", full_page=True, animations="disabled"
        )
    page.emulate_media(color_scheme="light")


def token_for(system: System) -> str:
    """A new token of the organization that owns the system's repository."""
    with session_scope(system.services.db) as session:
        org = session.get(Organization, system.repository().organization_id)
        assert org is not None
        return issue_token(session, org, name="browser tests").token


class RouterClient:
    """The router as a token of the system's organization sees it, for a test's set-up."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.token = token_for(system)

    def query(self, name: str, input: Any = None) -> Any:
        params = {"input": json.dumps(input)} if input is not None else None
        response = self.system.http.get(f"/api/trpc/{name}", params=params, headers=self._auth())
        assert response.status_code == 200, response.text
        return response.json()["result"]["data"]

    def mutate(self, name: str, input: Any) -> Any:
        response = self.system.http.post(f"/api/trpc/{name}", json=input, headers=self._auth())
        assert response.status_code == 200, response.text
        return response.json()["result"]["data"]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Console:
    """One browser page on the console; `token` is what its `#token=` link carries."""

    def __init__(self, page: Page, router: RouterClient, token: str | None = None) -> None:
        self.page = page
        self.router = router
        self.system = router.system
        self.token = token or router.token
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, view: str = "tab=jobs") -> None:
        """Load the console at a view (`tab=jobs&job=3`), signing in through `#token=`."""
        self.page.goto(f"{self.system.app_url}/#token={self.token}&{view}")

    def card(self, job_id: int) -> Locator:
        return self.page.locator(f'article.job[data-job-id="{job_id}"]')

    def tab(self, name: str) -> Locator:
        return self.page.get_by_role("tab", name=name)

    def set_visibility(self, state: str) -> None:
        set_visibility(self.page, state)

    def no_horizontal_scroll(self) -> bool:
        return no_horizontal_scroll(self.page)

    def screenshots(self, name: str) -> None:
        save_screenshots(self.page, name)
