"""The console's Runs page in a real browser, on a real engine running the console test app."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Request, expect

from engine import console_store
from tests.engine.console.browser import PHONE, ConsolePage, console_page
from tests.engine.console_app import FAIL, SLEEP, STEPS, runs
from tests.engine.harness import eventually

RUNS_API = "/api/console/runs"
BAD_REQUEST_LOGGED = (
    "Failed to load resource: the server responded with a status of 400 (Bad Request)"
)
QUIET_MS = 2_500  # longer than one refresh interval (2 s): a refresh would have been asked for


def rows(c: ConsolePage) -> Locator:
    return c.page.locator("tbody tr[data-run-id]")


def row(c: ConsolePage, run_id: str) -> Locator:
    return c.page.locator(f'tbody tr[data-run-id="{run_id}"]')


def start(c: ConsolePage, name: str, data: dict[str, object]) -> str:
    run_id: str = c.h.only_run(c.h.send(name, data))["run_id"]
    return run_id


def finish(c: ConsolePage, name: str, data: dict[str, object]) -> str:
    run_id = start(c, name, data)
    c.h.wait_run(run_id)
    return run_id


def sleeping(c: ConsolePage, data: dict[str, object]) -> str:
    """A console/sleep run once it is asleep (RUNNING, its minute-long sleep ahead)."""
    run_id = start(c, SLEEP, data)
    eventually(lambda: runs(c.h, run_id=run_id)[0]["status"] == "RUNNING")
    return run_id


def runs_requests(c: ConsolePage) -> list[str]:
    """The GET /api/console/runs requests the page makes from now on."""
    seen: list[str] = []

    def note(request: Request) -> None:
        if RUNS_API in request.url:
            seen.append(request.url)

    c.page.on("request", note)
    return seen


def after_a_refresh(c: ConsolePage) -> None:
    """Wait for a live refresh to be answered, so none is in flight and the next is 2 s away."""
    with c.page.expect_response(lambda response: RUNS_API in response.url):
        pass


def test_the_runs_list_shows_completed_failed_and_running_runs(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        completed = finish(c, STEPS, {"n": 1, "label": "first"})
        failed = finish(c, FAIL, {"what": "the file"})
        running = sleeping(c, {"user": 1})
        c.open("/runs")

        expect(rows(c)).to_have_count(3)
        # Newest first.
        expect(rows(c).nth(0)).to_have_attribute("data-run-id", running)
        expect(rows(c).nth(2)).to_have_attribute("data-run-id", completed)
        for run_id, status, function, event in [
            (completed, "Completed", "steps", STEPS),
            (failed, "Failed", "fails", FAIL),
            (running, "Running", "sleeper", SLEEP),
        ]:
            shown = row(c, run_id)
            expect(shown.locator(".runs-col-status")).to_have_text(status)
            expect(shown.locator(".runs-fn-name")).to_have_text(function)
            expect(shown.locator(".runs-col-trigger")).to_have_text(event)
            link = shown.get_by_role("link", name=f"Run {run_id}")
            expect(link).to_have_attribute("href", f"/run?runID={run_id}")
        expect(c.page.locator(".runs-count")).to_have_text("3 runs")
        # The running run's duration keeps counting; the finished ones have theirs.
        expect(row(c, running).locator(".runs-col-duration")).to_have_text(re.compile(r"\d"))
        expect(row(c, completed).locator(".runs-col-duration")).to_have_text(re.compile(r"\d+ ms"))
        c.screenshots("runs")

        c.page.set_viewport_size(PHONE)
        expect(row(c, failed).locator(".runs-col-status")).to_be_visible()
        assert c.no_horizontal_scroll()
        c.screenshots("runs-phone")

        # The whole row opens the run, the link being what the keyboard reaches.
        row(c, failed).locator(".runs-col-function").click()
        expect(c.page).to_have_url(re.compile(rf"/run\?runID={failed}$"))


def test_a_filter_survives_a_reload_and_a_search_finds_the_matching_run(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        by_n = {n: finish(c, STEPS, {"n": n}) for n in (1, 2, 3)}
        failed = finish(c, FAIL, {"what": "x"})
        c.open("/runs")
        expect(rows(c)).to_have_count(4)

        failed_chip = c.page.get_by_role("button", name="Failed", exact=True)
        failed_chip.click()
        expect(c.page).to_have_url(re.compile(r"/runs\?status=failed$"))
        expect(rows(c)).to_have_count(1)
        c.page.reload()
        expect(rows(c)).to_have_count(1)
        expect(rows(c).first).to_have_attribute("data-run-id", failed)
        expect(failed_chip).to_have_attribute("aria-pressed", "true")
        expect(c.page.locator(".runs-count")).to_have_text("1 run")

        failed_chip.click()
        c.page.get_by_role("button", name="Cancelled", exact=True).click()
        expect(c.page).to_have_url(re.compile(r"/runs\?status=cancelled$"))
        expect(c.page.get_by_text("No runs match these filters")).to_be_visible()
        c.screenshots("runs-filtered")
        c.page.locator(".runs-body").get_by_role("button", name="Clear filters").click()
        expect(c.page).to_have_url(re.compile(r"/runs$"))
        expect(rows(c)).to_have_count(4)
        expect(failed_chip).to_have_attribute("aria-pressed", "false")

        search = c.page.get_by_role("searchbox", name="Search runs")
        search.fill("event.data.n == 3")
        search.press("Enter")
        expect(c.page).to_have_url(re.compile(r"query=event\.data\.n"))
        expect(rows(c)).to_have_count(1)
        expect(rows(c).first).to_have_attribute("data-run-id", by_n[3])

        # A run id is found as a run id; a bad expression gets the engine's message by the box.
        search.fill(by_n[1])
        search.press("Enter")
        expect(c.page).to_have_url(re.compile(rf"run_id={by_n[1]}"))
        expect(rows(c)).to_have_count(1)
        expect(rows(c).first).to_have_attribute("data-run-id", by_n[1])
        search.fill("event.data.n ==")
        search.press("Enter")
        expect(c.page.locator(".runs-search-error")).to_contain_text("invalid expression")
        expect(rows(c)).to_have_count(0)
        expect(c.page.locator(".toast")).to_have_count(0)
        c.screenshots("runs-search-error")
        # The browser logs the engine's 400 answer to the bad expression: that one is expected.
        assert c.errors == [BAD_REQUEST_LOGGED]
        c.errors.clear()


def test_runs_appear_without_a_reload_and_refreshing_stops_while_hidden_or_paused(
    tmp_path: Path,
) -> None:
    with console_page(tmp_path) as c:
        c.open("/runs")
        expect(c.page.get_by_text("No runs yet")).to_be_visible()
        expect(c.page.locator(".runs-empty .code")).to_contain_text("/e/")
        c.screenshots("runs-empty")

        first = finish(c, STEPS, {"n": 1})
        expect(row(c, first)).to_have_attribute("data-status", "completed")
        second = start(c, STEPS, {"n": 2})
        expect(rows(c).first).to_have_attribute("data-run-id", second)
        expect(rows(c)).to_have_count(2)

        requests = runs_requests(c)
        after_a_refresh(c)
        c.set_visibility("hidden")
        asked = len(requests)
        third = finish(c, STEPS, {"n": 3})
        c.page.wait_for_timeout(QUIET_MS)
        assert len(requests) == asked
        expect(row(c, third)).to_have_count(0)
        c.set_visibility("visible")
        expect(row(c, third)).to_be_visible()

        live = c.page.get_by_role("button", name="Live")
        after_a_refresh(c)
        live.click()
        expect(c.page.get_by_role("button", name="Paused")).to_have_attribute(
            "aria-pressed", "false"
        )
        asked = len(requests)
        c.page.wait_for_timeout(QUIET_MS)
        assert len(requests) == asked
        c.page.get_by_role("button", name="Paused").click()
        expect(live).to_have_attribute("aria-pressed", "true")
        with c.page.expect_request(lambda request: RUNS_API in request.url):
            pass


def test_bulk_cancel_by_expression_cancels_exactly_the_matching_runs(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        users = {user: sleeping(c, {"user": user}) for user in (1, 2, 3)}
        c.open("/runs")
        expect(rows(c)).to_have_count(3)

        c.page.get_by_role("button", name="Cancel runs…").click()
        dialog = c.page.get_by_role("dialog", name="Cancel runs")
        dialog.get_by_label("Function").select_option("test-sleeper")
        dialog.get_by_label("If (CEL over event)").fill("event.data.user != 2")
        expect(dialog.get_by_role("status")).to_have_text(re.compile(r"^2 active runs match"))
        c.screenshots("runs-cancel")
        dialog.get_by_role("button", name="Cancel runs", exact=True).click()
        expect(dialog).to_be_hidden()
        expect(c.page.locator("#toasts")).to_contain_text("Cancelled 2 runs")

        statuses = {run["id"]: run["status"] for run in runs(c.h, function="test-sleeper")}
        assert statuses == {
            users[1]: "CANCELLED",
            users[2]: "RUNNING",
            users[3]: "CANCELLED",
        }
        expect(row(c, users[1])).to_have_attribute("data-status", "cancelled")
        expect(row(c, users[3])).to_have_attribute("data-status", "cancelled")
        expect(row(c, users[2])).to_have_attribute("data-status", "running")


def test_a_search_with_no_match_among_the_newest_runs_goes_on_to_older_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_store, "SEARCH_WINDOW", 3)  # the engine runs in this process
    with console_page(tmp_path) as c:
        oldest = finish(c, STEPS, {"n": 1})
        for n in range(2, 6):
            finish(c, STEPS, {"n": n})
        c.open("/runs?query=event.data.n+%3D%3D+1")

        expect(c.page.get_by_role("heading", name="No match among the newest runs")).to_be_visible()
        c.page.get_by_role("button", name="Search older runs").click()

        expect(rows(c)).to_have_count(1)
        expect(row(c, oldest)).to_be_visible()
