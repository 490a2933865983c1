"""A `cancel` rule cancels a sleeping run when a matching event arrives, and only then."""

import datetime
from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness

SLEEP = datetime.timedelta(minutes=1)
MARGIN_MS = 10_000


def test_matching_cancel_event_cancels_the_sleeping_run_only(tmp_path: Path) -> None:
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="sleeper",
            trigger=inngest.TriggerEvent(event="app/start"),
            cancel=[inngest.Cancel(event="app/cancel", if_exp="async.data.id == event.data.id")],
        )
        async def sleeper(ctx: inngest.Context) -> str:
            order = ctx.event.data["id"]

            async def mark(seen: Counter[str]) -> None:
                seen[order] += 1

            await ctx.step.run("before", mark, before)
            await ctx.step.sleep("nap", SLEEP)
            await ctx.step.run("after", mark, after)
            return order

        return [sleeper]

    with harness(tmp_path, make) as h:
        target = h.only_run(h.send("app/start", {"id": "a"}))["run_id"]
        bystander = h.only_run(h.send("app/start", {"id": "c"}))["run_id"]
        eventually(lambda: before == {"a": 1, "c": 1})

        h.send("app/cancel", {"id": "b"})
        unmatched = (h.run(target)["status"], h.run(bystander)["status"])

        h.send("app/cancel", {"id": "a"})
        cancelled = h.wait_run(target)

        h.advance(int(SLEEP.total_seconds() * 1000) + MARGIN_MS)
        completed = h.wait_run(bystander)
        still_cancelled = h.run(target)

    assert unmatched == ("Running", "Running")
    assert cancelled["status"] == "Cancelled"
    assert completed["status"] == "Completed"
    assert completed["output"] == "c"
    assert still_cancelled["status"] == "Cancelled"
    assert after == {"c": 1}
