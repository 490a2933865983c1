"""Debounce waits until events stop for the period, then starts one run with the last event."""

import datetime
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness
from tests.engine.timing import barrier_function, pass_barrier

PERIOD = datetime.timedelta(seconds=5)
PERIOD_MS = int(PERIOD.total_seconds() * 1000)
GAP_MS = 2_000


def test_debounce_runs_once_with_the_last_event(tmp_path: Path) -> None:
    seen: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="debounced",
            trigger=inngest.TriggerEvent(event="app/typed"),
            debounce=inngest.Debounce(period=PERIOD),
        )
        async def debounced(ctx: inngest.Context) -> int:
            async def record() -> int:
                seen.append(ctx.event.data["n"])
                return int(ctx.event.data["n"])

            return await ctx.step.run("record", record)

        return [debounced, barrier_function(client)]

    with harness(tmp_path, make) as h:
        event_ids = []
        for n in range(3):
            if n:
                h.advance(GAP_MS)
            event_ids.append(h.send("app/typed", {"n": n}))

        h.advance(PERIOD_MS - 1_000)
        pass_barrier(h)
        before_period = list(seen)
        runs_before = [h.runs(event_id) for event_id in event_ids]

        h.advance(1_000)
        eventually(lambda: seen)
        run = h.finished(event_ids[-1])
        earlier_runs = [h.runs(event_id) for event_id in event_ids[:-1]]
        pass_barrier(h)
        after_period = list(seen)

    assert before_period == []
    assert runs_before == [[], [], []]
    assert run["status"] == "Completed"
    assert run["output"] == 2
    assert earlier_runs == [[], []]
    assert after_period == [2]
