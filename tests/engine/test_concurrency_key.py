"""A keyed concurrency limit caps runs in flight per key, while different keys run side by side."""

import asyncio
from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import harness

LIMIT = 2
PER_USER = 6
STEP_SECONDS = 0.2


def test_concurrency_limit_applies_per_key(tmp_path: Path) -> None:
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    overlaps: list[dict[str, int]] = []
    finished: Counter[str] = Counter()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="work",
            trigger=inngest.TriggerEvent(event="app/work"),
            concurrency=[inngest.Concurrency(limit=LIMIT, key="event.data.user")],
        )
        async def work(ctx: inngest.Context) -> str:
            user = ctx.event.data["user"]

            async def busy() -> None:
                in_flight[user] += 1
                peak[user] = max(peak[user], in_flight[user])
                if in_flight["A"] and in_flight["B"]:
                    overlaps.append(dict(in_flight))
                await asyncio.sleep(STEP_SECONDS)
                in_flight[user] -= 1
                finished[user] += 1

            await ctx.step.run("busy", busy)
            return user

        return [work]

    with harness(tmp_path, make, fake_clock=False) as h:
        event_ids = [
            h.send("app/work", {"user": user}) for _ in range(PER_USER) for user in ("A", "B")
        ]
        runs = [h.finished(event_id, timeout=15) for event_id in event_ids]

    assert [run["status"] for run in runs] == ["Completed"] * 2 * PER_USER
    assert finished == {"A": PER_USER, "B": PER_USER}
    assert peak == {"A": LIMIT, "B": LIMIT}
    assert overlaps
