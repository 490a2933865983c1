"""A cron trigger starts one run each time its schedule comes due, with a scheduled-timer event."""

from pathlib import Path
from typing import Any

import inngest

from tests.engine.harness import Harness, eventually, harness

CRON = "* * * * *"
MINUTE_MS = 60_000


def timer_events(h: Harness) -> list[dict[str, Any]]:
    response = h.http.get("/v1/events", params={"name": "inngest/scheduled.timer"})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def test_cron_fires_once_per_minute(tmp_path: Path) -> None:
    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="tick", trigger=inngest.TriggerCron(cron=CRON))
        async def tick(ctx: inngest.Context) -> dict[str, Any]:
            return {"name": ctx.event.name, "cron": ctx.event.data["cron"]}

        return [tick]

    with harness(tmp_path, make) as h:
        before = timer_events(h)

        h.advance(MINUTE_MS)
        first_events = eventually(lambda: timer_events(h))
        first_run = h.finished(first_events[0]["internal_id"])

        h.advance(MINUTE_MS)
        events = eventually(lambda: len(e := timer_events(h)) == 2 and e)
        runs = [h.finished(event["internal_id"]) for event in events]

    assert before == []
    assert len(first_events) == 1
    assert first_events[0]["data"]["cron"] == CRON
    assert first_run["status"] == "Completed"
    assert first_run["cron"] == CRON
    assert first_run["output"] == {"name": "inngest/scheduled.timer", "cron": CRON}
    assert len({run["run_id"] for run in runs}) == 2
    assert first_run["run_id"] in {run["run_id"] for run in runs}
    assert all(run["output"] == first_run["output"] for run in runs)
    assert [event["data"]["cron"] for event in events] == [CRON, CRON]
