"""A throttle of one run per 10 s delays later runs: they start a period apart, none dropped."""

import datetime
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness
from tests.engine.timing import barrier_function, pass_barrier

PERIOD = datetime.timedelta(seconds=10)
PERIOD_MS = int(PERIOD.total_seconds() * 1000)
JUST_BEFORE_MS = PERIOD_MS - 1_000


def test_throttle_starts_one_run_per_period(tmp_path: Path) -> None:
    started: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="throttled",
            trigger=inngest.TriggerEvent(event="app/throttled"),
            throttle=inngest.Throttle(limit=1, period=PERIOD),
        )
        async def throttled(ctx: inngest.Context) -> int:
            async def start() -> int:
                started.append(ctx.event.data["n"])
                return int(ctx.event.data["n"])

            return await ctx.step.run("start", start)

        return [throttled, barrier_function(client)]

    with harness(tmp_path, make) as h:
        response = h.http.post(
            "/e/test-key", json=[{"name": "app/throttled", "data": {"n": n}} for n in range(3)]
        )
        event_ids = response.json()["ids"]
        eventually(lambda: started == [0])

        h.advance(JUST_BEFORE_MS)
        pass_barrier(h)
        before_second = list(started)
        h.advance(PERIOD_MS - JUST_BEFORE_MS)
        eventually(lambda: started == [0, 1])

        h.advance(JUST_BEFORE_MS)
        pass_barrier(h)
        before_third = list(started)
        h.advance(PERIOD_MS - JUST_BEFORE_MS)
        eventually(lambda: started == [0, 1, 2])
        runs = [h.finished(event_id) for event_id in event_ids]

    assert before_second == [0]
    assert before_third == [0, 1]
    assert [run["output"] for run in runs] == [0, 1, 2]
    assert {run["status"] for run in runs} == {"Completed"}
