"""`step.sleep` holds the run between two steps until engine time has passed the wake-up time."""

import datetime
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness
from tests.engine.timing import barrier_function, pass_barrier

SLEEP = datetime.timedelta(hours=1)
# The SDK dates the wake-up from the real clock, a little ahead of the fake one, so stop a minute
# short of the hour, then go a minute past it.
ALMOST_MS = int(SLEEP.total_seconds() * 1000) - 60_000
PAST_MS = 120_000


def test_sleep_holds_the_run_until_the_time_has_passed(tmp_path: Path) -> None:
    executed: list[str] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="remind", trigger=inngest.TriggerEvent(event="app/remind"))
        async def remind(ctx: inngest.Context) -> list[str]:
            async def note(what: str) -> str:
                executed.append(what)
                return f"{what} {ctx.event.data['user']}"

            first = await ctx.step.run("welcome", note, "welcome")
            await ctx.step.sleep("wait-an-hour", SLEEP)
            second = await ctx.step.run("remind", note, "remind")
            return [first, second]

        return [remind, barrier_function(client)]

    with harness(tmp_path, make) as h:
        run_id = h.only_run(h.send("app/remind", {"user": "ada"}))["run_id"]
        eventually(lambda: executed == ["welcome"])
        pass_barrier(h)
        status_before = h.run(run_id)["status"]
        executed_before = list(executed)

        h.advance(ALMOST_MS)
        pass_barrier(h)
        status_almost = h.run(run_id)["status"]
        executed_almost = list(executed)

        h.advance(PAST_MS)
        run = h.wait_run(run_id)

    assert (status_before, executed_before) == ("Running", ["welcome"])
    assert (status_almost, executed_almost) == ("Running", ["welcome"])
    assert run["status"] == "Completed"
    assert run["output"] == ["welcome ada", "remind ada"]
    assert executed == ["welcome", "remind"]
