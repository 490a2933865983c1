"""The console's Events page in chromium: the stream updating live, Send event, Replay and an
event's detail, on a real engine running the console test app."""

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, expect

from tests.engine.console.browser import PHONE, ConsolePage, console_page
from tests.engine.console_app import STEPS, get

LIVE = 10_000  # ms: a few refreshes of the page (every 2 s) and a short run


def newest(c: ConsolePage, name: str) -> dict[str, Any]:
    """The engine's newest event of that name."""
    events: list[dict[str, Any]] = get(c.h, "/events", name=name)["events"]
    return events[0]


def row(c: ConsolePage, event_id: str) -> Locator:
    return c.page.locator(f'.events-table tbody tr[data-id="{event_id}"]')


def expected_answers(c: ConsolePage, *statuses: int) -> None:
    """Take the browser's log lines of the engine's refusals this test caused out of the page's
    errors: they are answers the page showed, not script errors."""
    for status in statuses:
        logged = [e for e in c.errors if f"status of {status} " in e]
        assert logged, (status, c.errors)
        for line in logged:
            c.errors.remove(line)


def send_dialog(c: ConsolePage) -> Locator:
    c.page.get_by_role("button", name="Send event").click()
    dialog = c.page.get_by_role("dialog", name="Send event")
    expect(dialog).to_be_visible()
    return dialog


def test_send_event_starts_a_run_that_appears_live_and_replay_starts_another(
    tmp_path: Path,
) -> None:
    with console_page(tmp_path) as c:
        earlier = c.h.send(STEPS, {"n": 3, "label": "from the app"})
        c.h.finished(earlier)
        c.open(f"/events?name={STEPS}")
        rows = c.page.locator(".events-table tbody tr")
        expect(rows).to_have_count(1)

        dialog = send_dialog(c)
        editor = dialog.get_by_label("Event JSON")
        prefilled = json.loads(editor.input_value())
        assert prefilled == {"name": STEPS, "data": {"n": 3, "label": "from the app"}}
        editor.fill(json.dumps({"name": STEPS, "data": {"n": 5}}))
        dialog.get_by_role("button", name="Send event").click()
        expect(dialog).to_be_hidden()

        sent = newest(c, STEPS)
        assert sent["id"] != earlier
        expect(c.page.locator("#toasts").get_by_role("link", name=sent["id"])).to_be_visible()
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-id", sent["id"])
        run_id = c.h.only_run(sent["id"])["run_id"]
        run_link = row(c, sent["id"]).get_by_role("link", name="Completed steps")
        expect(run_link).to_have_attribute("href", f"/run?runID={run_id}", timeout=LIVE)
        assert c.h.wait_run(run_id)["output"] == {"total": 12, "label": None}

        row(c, sent["id"]).get_by_role("link", name=STEPS).click()
        expect(c.page).to_have_url(re.compile(f"event={sent['id']}"))
        detail = c.page.get_by_role("region", name="Event details")
        detail.get_by_role("button", name="Replay").click()
        expect(rows).to_have_count(3)
        replayed = newest(c, STEPS)
        assert replayed["id"] not in (earlier, sent["id"])
        expect(c.page.locator("#toasts").get_by_role("link", name=replayed["id"])).to_be_visible()
        replay_run = c.h.only_run(replayed["id"])["run_id"]
        assert replay_run != run_id
        replay_link = row(c, replayed["id"]).get_by_role("link", name="Completed steps")
        expect(replay_link).to_have_attribute("href", f"/run?runID={replay_run}", timeout=LIVE)
        assert c.h.wait_run(replay_run)["output"] == {"total": 12, "label": None}
        expect(detail.get_by_role("link", name="Completed steps")).to_have_attribute(
            "href", f"/run?runID={run_id}"
        )


def test_send_dialog_shows_bad_json_and_engine_errors_and_sends_nothing(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.open("/events")
        expect(c.page.get_by_role("heading", name="No events yet")).to_be_visible()
        expect(c.page.locator(".empty-state pre")).to_contain_text(f"{c.h.engine.url}/e/")

        dialog = send_dialog(c)
        editor = dialog.get_by_label("Event JSON")
        assert json.loads(editor.input_value()) == {"name": "app/example", "data": {}}
        send = dialog.get_by_role("button", name="Send event")
        error = dialog.get_by_role("alert")

        editor.fill('{"name": "console/steps", "data": {"n": 5}')
        send.click()
        expect(error).to_contain_text("Event JSON is not valid JSON")
        assert get(c.h, "/events", internal="true")["events"] == []

        editor.fill('{"data": {"n": 5}}')
        send.click()
        expect(error).to_contain_text("'name' is required")

        editor.fill(json.dumps({"name": STEPS, "data": {"blob": "x" * 300_000}}))
        send.click()
        expect(error).to_contain_text("Event is over the max size")
        expect(dialog).to_be_visible()
        assert get(c.h, "/events", internal="true")["events"] == []

        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        expect(c.page.get_by_role("button", name="Send event")).to_be_focused()
        expected_answers(c, 400, 413)


def test_event_detail_shows_payload_dedup_id_and_runs(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        c.h.send("console/fail", {"what": "a parcel"})
        event_id = c.h.send(STEPS, {"n": 1, "label": "order"}, id="order-1")
        run_id = c.h.finished(event_id)["run_id"]
        c.open(f"/events?event={event_id}")

        detail = c.page.get_by_role("region", name="Event details")
        expect(detail.get_by_role("heading", name=STEPS)).to_be_visible()
        expect(detail).to_contain_text(event_id)
        expect(detail.locator(".fact", has_text="Dedup ID")).to_contain_text("order-1")
        payload = json.loads(detail.locator(".code-block pre").inner_text())
        assert payload["data"] == {"n": 1, "label": "order"}
        assert payload["id"] == "order-1"
        expect(detail.get_by_role("link", name="Completed steps")).to_have_attribute(
            "href", f"/run?runID={run_id}"
        )
        selected = row(c, event_id)
        expect(selected).to_have_class(re.compile("is-selected"))
        expect(c.page.locator(".events-table tbody tr")).to_have_count(2)
        expect(c.page.get_by_role("link", name="Failed fails")).to_be_visible(timeout=LIVE)
        c.screenshots("events")

        c.page.set_viewport_size(PHONE)
        expect(c.page.get_by_role("region", name="Event stream")).to_be_hidden()
        assert c.no_horizontal_scroll()
        detail.get_by_role("link", name="All events").click()
        expect(detail).to_be_hidden()
        expect(c.page.get_by_role("region", name="Event stream")).to_be_visible()
        expect(selected).to_be_visible()
        assert c.no_horizontal_scroll()
        c.screenshots("events-phone")


def test_name_filter_and_internal_events_are_kept_in_the_address(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        steps = c.h.send(STEPS, {"n": 1})
        c.h.finished(steps)
        c.h.send("console/fail", {"what": "x"})
        c.open("/events")
        rows = c.page.locator(".events-table tbody tr")
        expect(rows).to_have_count(2)

        name = c.page.get_by_label("Event name")
        name.fill(STEPS)
        name.press("Enter")
        expect(c.page).to_have_url(re.compile(r"name=console%2Fsteps"))
        expect(rows).to_have_count(1)
        c.page.reload()
        expect(c.page.get_by_label("Event name")).to_have_value(STEPS)
        expect(rows).to_have_count(1)

        c.page.get_by_label("Event name").fill("")
        expect(rows).to_have_count(2)
        c.page.get_by_label("Show internal events").check()
        expect(c.page).to_have_url(re.compile("internal=true"))
        expect(c.page.get_by_role("link", name="inngest/function.finished").first).to_be_visible()


def test_new_events_arrive_on_top_and_load_more_pages_on(tmp_path: Path) -> None:
    with console_page(tmp_path) as c:
        noise = [{"name": "console/noise", "data": {"i": i}} for i in range(41)]
        assert c.h.http.post("/e/test-key", json=noise).status_code == 200
        c.open("/events")
        rows = c.page.locator(".events-table tbody tr")
        expect(rows).to_have_count(40)
        oldest_shown = rows.last.get_attribute("data-id")

        arrived = c.h.send(STEPS, {"n": 1})
        expect(rows.first).to_have_attribute("data-id", arrived, timeout=LIVE)
        expect(rows).to_have_count(41)
        expect(rows.last).to_have_attribute("data-id", oldest_shown or "")

        more = c.page.get_by_role("button", name="Load more")
        more.click()
        expect(rows).to_have_count(42)
        expect(more).to_be_hidden()
        expect(c.page.locator(".pager")).to_contain_text("42 events")
