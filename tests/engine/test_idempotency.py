"""An `idempotency` key starts at most one run per key value; other values start their own runs."""

from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_idempotency_key_starts_one_run_per_value(tmp_path: Path) -> None:
    executed: Counter[str] = Counter()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="charge",
            trigger=inngest.TriggerEvent(event="app/order"),
            idempotency="event.data.order",
        )
        async def charge(ctx: inngest.Context) -> str:
            async def record() -> str:
                executed[ctx.event.data["order"]] += 1
                return str(ctx.event.data["attempt"])

            return await ctx.step.run("charge", record)

        return [charge]

    with harness(tmp_path, make) as h:
        first = h.send("app/order", {"order": "o-1", "attempt": "first"})
        repeat = h.send("app/order", {"order": "o-1", "attempt": "repeat"})
        other = h.send("app/order", {"order": "o-2", "attempt": "other"})
        first_run = h.finished(first)
        other_run = h.finished(other)
        repeat_runs = h.runs(repeat)

    assert first_run["status"] == "Completed"
    assert first_run["output"] == "first"
    assert other_run["status"] == "Completed"
    assert other_run["output"] == "other"
    assert repeat_runs == []
    assert executed == {"o-1": 1, "o-2": 1}
