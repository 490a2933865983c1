"""When a concurrency limit backs the queue up, runs move on in the order they started: a run whose
first step is done takes its next step before later runs take their first, so the first runs of a
fan-out finish first instead of all runs finishing together at the end."""

import asyncio
import threading
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness

LIMIT = 2
RUNS = 10


def test_started_runs_finish_before_later_runs_begin(tmp_path: Path) -> None:
    gate = threading.Event()
    steps: list[tuple[str, int]] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="file",
            trigger=inngest.TriggerEvent(event="app/file"),
            concurrency=[inngest.Concurrency(limit=LIMIT)],
            retries=0,
        )
        async def file(ctx: inngest.Context) -> int:
            n: int = ctx.event.data["n"]

            async def fetch() -> None:
                steps.append(("fetch", n))
                # the first runs hold every slot until all runs are queued behind them
                await asyncio.to_thread(gate.wait, 10)

            async def embed() -> None:
                steps.append(("embed", n))

            await ctx.step.run("fetch", fetch)
            await ctx.step.run("embed", embed)
            return n

        return [file]

    with harness(tmp_path, make) as h:
        event_ids = []
        for n in range(RUNS):
            event_ids.append(h.send("app/file", {"n": n}))
            h.advance(1)  # each run starts a millisecond after the one before
        eventually(lambda: len(steps) == LIMIT)
        gate.set()
        statuses = [h.finished(event_id)["status"] for event_id in event_ids]

    assert statuses == ["Completed"] * RUNS
    last_begins = steps.index(("fetch", RUNS - 1))
    done_before_last = {n for step, n in steps[:last_begins] if step == "embed"}
    assert set(range(RUNS // 2)) <= done_before_last, steps
