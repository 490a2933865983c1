"""The console's Functions and Apps pages in chromium, on a real engine with the console test
app synced: triggers and configuration as the engine applies them, Invoke, and apps synced,
added and removed."""

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, expect

from tests.engine.console.browser import PHONE, ConsolePage, console_page
from tests.engine.console.test_events_page import expected_answers
from tests.engine.console_app import get
from tests.engine.harness import free_port


def function_row(c: ConsolePage, slug: str) -> Locator:
    return c.page.locator(f'.functions-table tbody tr[data-id="{slug}"]')


def option(c: ConsolePage, label: str) -> Locator:
    """A row of a function's configuration, by its label."""
    term = c.page.locator("dt").get_by_text(label, exact=True)
    return c.page.locator(".config .config-row").filter(has=term)


def test_functions_list_shows_event_triggers_with_if_and_cron_next_fire(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.open("/functions")
        configured = function_row(c, "test-configured")
        expect(configured.get_by_role("link", name="Configured function")).to_be_visible()
        expect(configured).to_contain_text("console/never")
        expect(configured).to_contain_text("if event.data.ok == true")
        expect(configured).to_contain_text("test")  # its app

        next_fire = get(c.h, "/functions/test-nightly")["triggers"][0]["next_fire_at"]
        nightly = function_row(c, "test-nightly")
        expect(nightly).to_contain_text("0 3 * * *")
        expect(nightly.locator("time").first).to_have_attribute("datetime", next_fire)
        expect(c.page.locator(".functions-table tbody tr")).to_have_count(12)
        c.screenshots("functions")

        c.page.get_by_label("Search").fill("nightly")
        expect(c.page).to_have_url(re.compile(r"q=nightly"))
        expect(c.page.locator(".functions-table tbody tr:visible")).to_have_count(1)
        c.page.reload()
        expect(c.page.get_by_label("Search")).to_have_value("nightly")
        expect(c.page.locator(".functions-table tbody tr:visible")).to_have_count(1)

        c.page.set_viewport_size(PHONE)
        c.page.get_by_label("Search").fill("")
        expect(c.page.locator(".functions-table tbody tr:visible")).to_have_count(12)
        assert c.no_horizontal_scroll()


def test_function_detail_shows_the_configuration_the_engine_applies(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.open("/functions")
        function_row(c, "test-configured").get_by_role("link", name="Configured function").click()
        expect(c.page).to_have_url(re.compile(r"/functions\?function=test-configured$"))
        expect(c.page.get_by_role("heading", name="Configured function", level=1)).to_be_visible()

        expect(option(c, "Retries")).to_contain_text("7 (up to 8 attempts)")
        expect(option(c, "Concurrency")).to_contain_text("2 at a time per event.data.user")
        expect(option(c, "Throttle")).to_contain_text("5 starts per 1m per event.data.user")
        expect(option(c, "Rate limit")).to_contain_text("100 runs per 1h")
        expect(option(c, "Priority")).to_contain_text("event.data.vip ? 60 : 0")
        expect(option(c, "Idempotency")).to_contain_text("event.data.order")
        expect(option(c, "Cancel on")).to_contain_text(
            "console/stop if async.data.order == event.data.order"
        )
        expect(c.page.locator(".config-unset")).to_have_text(re.compile("Debounce.*Batching"))
        expect(c.page.get_by_role("link", name="View runs")).to_have_attribute(
            "href", "/runs?function=test-configured"
        )
        c.screenshots("function")

        c.page.get_by_role("link", name="test-configured-failure").click()
        expect(c.page.get_by_role("heading", name="Configured function (failure)")).to_be_visible()
        expect(option(c, "Retries")).to_contain_text("0 (up to 1 attempt)")
        expect(c.page.locator(".config-unset")).to_contain_text("Concurrency")
        handles = c.page.locator(".fact").filter(has_text="Handles failures of")
        expect(handles.get_by_role("link", name="test-configured")).to_be_visible()

        c.page.set_viewport_size(PHONE)
        assert c.no_horizontal_scroll()


def test_invoke_starts_a_run_with_the_data_and_opens_it(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.open("/functions?function=test-steps")
        c.page.get_by_role("button", name="Invoke").click()
        dialog = c.page.get_by_role("dialog", name="Invoke steps")
        editor = dialog.get_by_label("Data (event.data)")
        assert json.loads(editor.input_value()) == {}
        editor.fill("[1, 2]")
        dialog.get_by_role("button", name="Invoke").click()
        expect(dialog.get_by_role("alert")).to_contain_text("Data must be a JSON object")

        editor.fill(json.dumps({"n": 2}))
        dialog.get_by_role("button", name="Invoke").click()
        expect(c.page).to_have_url(re.compile(r"/run\?runID=\w+$"))
        run_id = c.page.url.rsplit("runID=", 1)[1]
        run = c.h.wait_run(run_id)
        assert run["status"] == "Completed"
        assert run["output"] == {"total": 6, "label": None}
        assert run["event_id"] == get(c.h, f"/runs/{run_id}")["trigger"]["event_ids"][0]
        trigger = get(c.h, f"/runs/{run_id}")["input"]["event"]
        assert trigger["name"] == "inngest/function.invoked"


def test_apps_page_syncs_adds_and_removes_apps(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        before = get(c.h, "/apps")["apps"][0]
        c.open("/apps")
        card = c.page.get_by_role("article", name="test")
        expect(card).to_contain_text(c.h.app.url)
        expect(card).to_contain_text(f"Python {before['sdk_version']}")
        expect(card).to_contain_text("FastAPI")
        expect(card).to_contain_text("12 functions")
        last_sync = card.locator(".app-fact").filter(has_text="Last sync").locator("time")
        expect(last_sync).to_have_attribute("datetime", before["synced_at"])

        card.get_by_role("button", name="Sync test now").click()
        expect(c.page.locator("#toasts")).to_contain_text("test synced: 12 functions")
        synced_at = get(c.h, "/apps")["apps"][0]["synced_at"]
        assert synced_at > before["synced_at"]
        expect(last_sync).to_have_attribute("datetime", synced_at)
        expect(card.get_by_role("button", name="Sync test now")).to_be_focused()

        c.page.get_by_role("button", name="Add app").click()
        dialog = c.page.get_by_role("dialog", name="Add app")
        dialog.get_by_label("App serve URL").fill("ftp://127.0.0.1/api/inngest")
        dialog.get_by_role("button", name="Add app").click()
        expect(dialog.get_by_role("alert")).to_contain_text("is not an http or https URL")
        expected_answers(c, 400)

        nowhere = f"http://127.0.0.1:{free_port()}/api/inngest"
        dialog.get_by_label("App serve URL").fill(nowhere)
        dialog.get_by_role("button", name="Add app").click()
        expect(dialog).to_be_hidden()
        added = c.page.locator(".app-card").filter(has_text=nowhere)
        expect(added.locator(".error-box")).to_contain_text("Last sync failed: ConnectError")
        expect(added).to_contain_text("Sync failed")
        expect(added).to_contain_text("Kept")
        expect(c.page.get_by_role("button", name="Sync all")).to_be_visible()
        c.screenshots("apps")

        added.get_by_role("button", name=re.compile("^Remove")).click()
        confirm = c.page.get_by_role("dialog", name=re.compile("^Remove"))
        expect(confirm).to_contain_text(nowhere)
        expect(confirm).to_contain_text("--sdk-url")
        confirm.get_by_role("button", name="Remove app").click()
        expect(added).to_have_count(0)
        assert [app["url"] for app in get(c.h, "/apps")["apps"]] == [c.h.app.url]

        c.page.set_viewport_size(PHONE)
        assert c.no_horizontal_scroll()
        card.get_by_role("button", name="Remove test").click()
        confirm = c.page.get_by_role("dialog", name="Remove test?")
        confirm.get_by_role("button", name="Remove app").click()
        expect(c.page.get_by_role("heading", name="No apps yet")).to_be_visible()
        assert get(c.h, "/functions")["functions"] == []
        assert c.no_horizontal_scroll()
