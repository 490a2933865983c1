"""A finished run emits `inngest/function.finished`; a function subscribed to it runs once per
finished run and does not trigger itself."""

from pathlib import Path
from typing import Any

import inngest

from tests.engine.harness import eventually, harness, slug

FINISHED = "inngest/function.finished"


def test_function_finished_event_is_emitted_once_per_user_run(tmp_path: Path) -> None:
    heard: list[str] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="work", trigger=inngest.TriggerEvent(event="app/work"))
        async def work(ctx: inngest.Context) -> dict[str, int]:
            return {"doubled": ctx.event.data["n"] * 2}

        @client.create_function(fn_id="on-finished", trigger=inngest.TriggerEvent(event=FINISHED))
        async def on_finished(ctx: inngest.Context) -> str:
            heard.append(ctx.event.data["run_id"])
            return "noted"

        return [work, on_finished]

    with harness(tmp_path, make) as h:
        work_runs = [h.finished(h.send("app/work", {"n": n})) for n in (1, 2)]
        eventually(lambda: len(heard) >= 2)
        for run in h.runs_of(slug("on-finished")):
            h.wait_run(run["run_id"])
        # A listener run that emitted its own finished event would have started another run by now.
        listener_runs = h.runs_of(slug("on-finished"))
        events = h.http.get("/v1/events", params={"name": FINISHED}).json()["data"]

    assert [run["output"] for run in work_runs] == [{"doubled": 2}, {"doubled": 4}]
    finished: dict[str, dict[str, Any]] = {e["data"]["run_id"]: e["data"] for e in events}
    assert len(events) == 2
    assert {run_id: (data["function_id"], data["result"]) for run_id, data in finished.items()} == {
        run["run_id"]: (slug("work"), run["output"]) for run in work_runs
    }
    assert [run["status"] for run in listener_runs] == ["Completed"] * 2
    assert sorted(heard) == sorted(run["run_id"] for run in work_runs)
