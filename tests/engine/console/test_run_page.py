"""The run details page (/run?runID=...) in chromium on a real engine and the console test app:
steps with their durations, attempts and errors, Cancel, Rerun, links between runs, an unknown
run and the phone layout. Screenshots land in tests/artifacts/screenshots/console-run-*.png.
"""

import re
from pathlib import Path

from playwright.sync_api import Locator, expect

from tests.engine import console_app as app
from tests.engine.console.browser import PHONE, ConsolePage, console_page

UNKNOWN_RUN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
DURATION = re.compile(r"^\d+(\.\d+)? (ms|s)$|^\d+m \d\ds$")
NOT_FOUND_LOG = "Failed to load resource: the server responded with a status of 404 (Not Found)"


def open_run(c: ConsolePage, run_id: str) -> None:
    c.open(f"/run?runID={run_id}")
    expect(c.page.locator(".run-head")).to_be_visible()


def head_status(c: ConsolePage) -> Locator:
    return c.page.locator(".run-head .status")


def step(c: ConsolePage, name: str) -> Locator:
    """A step of the timeline by its name."""
    toggle = c.page.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b"))
    return c.page.get_by_role("region", name="Steps").locator(".tl-item", has=toggle).last


def expand(c: ConsolePage, name: str) -> Locator:
    """Open a step's details; the details."""
    row = step(c, name)
    toggle = row.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b"))
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    details = row.locator(".tl-detail")
    expect(details).to_be_visible()
    return details


def screenshots(c: ConsolePage, name: str) -> None:
    """Screenshots from the top of the page, where the phone's sticky bar belongs."""
    c.page.evaluate("window.scrollTo(0, 0)")
    c.screenshots(name)


def finished_run(c: ConsolePage, name: str, data: dict[str, object] | None = None) -> str:
    run_id: str = c.h.only_run(c.h.send(name, data))["run_id"]
    c.h.wait_run(run_id)
    return run_id


def test_completed_run_shows_steps_output_parallel_and_invoke(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        run_id = finished_run(c, app.STEPS, {"n": 4, "label": "four"})
        open_run(c, run_id)
        expect(c.page.get_by_role("heading", level=1)).to_have_text("steps")
        expect(head_status(c)).to_have_text("Completed")
        expect(c.page.locator(".run-head")).to_contain_text(run_id)
        for name in ("first", "second"):
            expect(step(c, name)).to_contain_text("Completed")
            expect(step(c, name).locator(".tl-col-duration")).to_have_text(DURATION)
        output = c.page.get_by_role("region", name="Output")
        expect(output).to_contain_text('"total": 10')
        expect(c.page.get_by_role("region", name="Input")).to_contain_text('"label": "four"')
        function = c.page.get_by_role("link", name="steps", exact=True)
        expect(function).to_have_attribute("href", "/functions?function=test-steps")
        event_id = app.get(c.h, f"/runs/{run_id}")["trigger"]["event_ids"][0]
        expect(c.page.locator(f'a[href="/events?event={event_id}"]')).to_be_visible()
        details = expand(c, "first")
        expect(details).to_contain_text("Attempt 1")
        expect(details.locator(".code")).to_have_text("5")
        screenshots(c, "run-details")

        parallel = finished_run(c, app.PARALLEL)
        open_run(c, parallel)
        expect(c.page.get_by_role("heading", level=1)).to_have_text("parallel")
        group = c.page.locator(".tl-group")
        expect(group).to_contain_text("2 steps")
        for name in ("left", "right"):
            expect(group.locator(".tl-sublist")).to_contain_text(name)
            expect(step(c, name)).to_contain_text("Completed")

        parent = finished_run(c, app.INVOKE)
        child = app.get(c.h, f"/runs/{parent}")["links"]["invoked"][0]["run"]["id"]
        open_run(c, parent)
        expect(step(c, "call-steps")).to_contain_text("Invoke")
        related = c.page.get_by_role("region", name="Related runs")
        related.get_by_role("link", name=re.compile(r"^steps")).click()
        expect(c.page).to_have_url(re.compile(rf"/run\?runID={child}$"))
        expect(c.page.get_by_role("heading", level=1)).to_have_text("steps")
        expect(head_status(c)).to_have_text("Completed")
        invoked_by = c.page.locator(".fact", has_text="Invoked by")
        expect(invoked_by.get_by_role("link")).to_have_attribute("href", f"/run?runID={parent}")


def test_failed_attempts_and_failed_run_show_their_errors(tmp_path: Path) -> None:
    with console_page(tmp_path, retry_interval=2) as c:
        flaky = c.h.only_run(c.h.send(app.FLAKY))["run_id"]
        open_run(c, flaky)
        # The page follows the run while it retries, without a reload.
        expect(head_status(c)).to_have_text("Running")
        expect(head_status(c)).to_have_text("Completed")
        expect(step(c, "wobble")).to_contain_text("Completed")
        attempts = expand(c, "wobble").locator(".tl-attempt")
        expect(attempts).to_have_count(2)
        expect(attempts.first).to_contain_text("Attempt 1")
        expect(attempts.first).to_contain_text("Failed")
        expect(attempts.first.locator(".run-error-name")).to_have_text("RuntimeError")
        expect(attempts.first.locator(".run-error-message")).to_have_text("first attempt fails")
        expect(attempts.nth(1)).to_contain_text("Completed")
        expect(c.page.get_by_role("region", name="Output")).to_contain_text('"steady"')

        fails = finished_run(c, app.FAIL, {"what": "pickles"})
        open_run(c, fails)
        expect(head_status(c)).to_have_text("Failed")
        error = c.page.get_by_role("region", name="Error")
        expect(error.locator(".run-error-name")).to_have_text("ValueError")
        expect(error.locator(".run-error-message")).to_have_text("cannot handle pickles")
        stack = error.locator(".run-stack")
        expect(stack).to_be_hidden()
        error.get_by_text("Stack trace").click()
        expect(stack).to_contain_text("Traceback")
        function = expand(c, "Function")
        expect(function.locator(".run-error-message")).to_have_text("cannot handle pickles")
        screenshots(c, "run-failed")


def test_cancel_ends_a_sleeping_run(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        run_id = c.h.only_run(c.h.send(app.SLEEP))["run_id"]
        open_run(c, run_id)
        expect(step(c, "nap")).to_contain_text("Waiting")
        expect(step(c, "nap")).to_contain_text("Sleep")
        expect(head_status(c)).to_have_text("Running")
        expect(c.page.locator("#live-toggle")).to_be_visible()
        details = expand(c, "before")
        expect(details.locator(".code")).to_have_text('"awake"')
        screenshots(c, "run-sleeping")

        # A refresh of the unchanged run leaves the open step as it was: same element, still open.
        details.evaluate("el => { el.dataset.kept = 'yes'; }")
        with c.page.expect_response(lambda r: r.url.endswith(f"/api/console/runs/{run_id}")):
            pass
        expect(details).to_have_attribute("data-kept", "yes")
        expect(details).to_be_visible()

        c.page.get_by_role("button", name="Cancel", exact=True).click()
        dialog = c.page.get_by_role("dialog", name="Cancel this run?")
        dialog.get_by_role("button", name="Cancel run").click()
        expect(dialog).to_be_hidden()
        expect(head_status(c)).to_have_text("Cancelled")
        expect(c.page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
        # An ended run changes no more: the page stops refreshing and hides the Live switch.
        expect(c.page.locator("#live-toggle")).to_be_hidden()
        detail = app.get(c.h, f"/runs/{run_id}")
        assert detail["run"]["status"] == "CANCELLED"


def test_rerun_starts_a_new_run_of_the_same_event(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        event_id = c.h.send(app.STEPS, {"n": 7})
        run_id = c.h.only_run(event_id)["run_id"]
        c.h.wait_run(run_id)
        open_run(c, run_id)
        expect(c.page.get_by_role("region", name="Output")).to_contain_text('"total": 16')
        c.page.get_by_role("button", name="Rerun").click()
        expect(c.page).not_to_have_url(re.compile(rf"runID={run_id}"))
        expect(c.page).to_have_url(re.compile(r"/run\?runID=[0-9A-Z]{26}$"))
        expect(head_status(c)).to_have_text("Completed")
        expect(c.page.get_by_role("region", name="Output")).to_contain_text('"total": 16')
        new_id = c.page.url.rsplit("=", 1)[1]
        assert new_id != run_id
        listed = {run["id"] for run in app.runs(c.h, event_id=event_id)}
        assert listed == {run_id, new_id}


def test_unknown_run_and_phone_layout(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.open(f"/run?runID={UNKNOWN_RUN}")
        expect(c.page.get_by_role("heading", name=f"Run {UNKNOWN_RUN} not found")).to_be_visible()
        # The browser logs the engine's 404 answer; that one is expected.
        assert c.errors == [NOT_FOUND_LOG], c.errors
        c.errors.clear()
        c.open("/run")
        expect(c.page.get_by_role("heading", name="No run selected")).to_be_visible()

        run_id = finished_run(c, app.STEPS, {"n": 1, "label": "a label long enough to wrap" * 3})
        c.page.set_viewport_size(PHONE)
        open_run(c, run_id)
        expect(step(c, "second")).to_contain_text("Completed")
        assert c.no_horizontal_scroll()
        expand(c, "first")
        assert c.no_horizontal_scroll()
        screenshots(c, "run-details-phone")
