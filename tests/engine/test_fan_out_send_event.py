"""A step that sends N events fans out: each starts its own run of the triggered function."""

from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness, slug

FAN_OUT = 5


def test_send_event_step_starts_one_child_run_per_event(tmp_path: Path) -> None:
    child_inputs: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="parent", trigger=inngest.TriggerEvent(event="app/fan"))
        async def parent(ctx: inngest.Context) -> list[str]:
            events = [inngest.Event(name="app/item", data={"n": n}) for n in range(FAN_OUT)]
            return await ctx.step.send_event("fan-out", events)

        @client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="app/item"))
        async def child(ctx: inngest.Context) -> int:
            async def square() -> int:
                child_inputs.append(ctx.event.data["n"])
                return ctx.event.data["n"] ** 2

            return await ctx.step.run("square", square)

        return [parent, child]

    with harness(tmp_path, make) as h:
        parent_run = h.finished(h.send("app/fan"))
        sent_ids = parent_run["output"]
        child_runs = eventually(
            lambda: (runs := h.runs_of(slug("child"))) and len(runs) == FAN_OUT and runs
        )
        finished = [h.wait_run(run["run_id"]) for run in child_runs]
        events = [h.http.get(f"/v1/events/{run['event_id']}").json()["data"] for run in finished]
        all_child_runs = h.runs_of(slug("child"))

    assert parent_run["status"] == "Completed"
    assert isinstance(sent_ids, list) and len(set(sent_ids)) == FAN_OUT
    assert len(all_child_runs) == FAN_OUT
    assert sorted(run["event_id"] for run in finished) == sorted(sent_ids)
    assert [run["status"] for run in finished] == ["Completed"] * FAN_OUT
    outputs = {
        event["data"]["n"]: run["output"] for event, run in zip(events, finished, strict=True)
    }
    assert outputs == {n: n**2 for n in range(FAN_OUT)}
    assert sorted(child_inputs) == list(range(FAN_OUT))
