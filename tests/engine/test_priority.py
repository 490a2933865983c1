"""`priority.run` lets a higher-priority run start before queued runs that were sent earlier."""

import asyncio
import threading
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness


def test_vip_run_starts_before_earlier_normal_runs(tmp_path: Path) -> None:
    gate = threading.Event()
    started: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="jobs",
            trigger=inngest.TriggerEvent(event="app/job"),
            concurrency=[inngest.Concurrency(limit=1)],
            priority=inngest.Priority(run="event.data.vip ? 300 : 0"),
        )
        async def jobs(ctx: inngest.Context) -> int:
            n: int = ctx.event.data["n"]

            async def work() -> int:
                started.append(n)
                if n == 0:  # holds the only concurrency slot until every event is accepted
                    await asyncio.to_thread(gate.wait, 10)
                return n

            return await ctx.step.run("work", work)

        return [jobs]

    with harness(tmp_path, make) as h:
        blocker = h.send("app/job", {"n": 0, "vip": False})
        eventually(lambda: started == [0])
        queued = [h.send("app/job", {"n": n, "vip": False}) for n in (1, 2, 3)]
        vip = h.send("app/job", {"n": 4, "vip": True})
        gate.set()
        statuses = [h.finished(event_id)["status"] for event_id in [blocker, *queued, vip]]

    assert statuses == ["Completed"] * 5
    assert started[:2] == [0, 4]
    assert sorted(started[2:]) == [1, 2, 3]
