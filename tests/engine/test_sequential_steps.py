"""Steps run in order, each once, and the function's return value becomes the run's output."""

from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_sequential_steps_run_once_each_and_output_is_stored(tmp_path: Path) -> None:
    executed: Counter[str] = Counter()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="app/steps"))
        async def steps(ctx: inngest.Context) -> dict[str, object]:
            async def first() -> int:
                executed["first"] += 1
                return ctx.event.data["n"] + 1

            async def second(value: int) -> int:
                executed["second"] += 1
                return value * 10

            a = await ctx.step.run("first", first)
            b = await ctx.step.run("second", second, a)
            return {"a": a, "b": b}

        return [steps]

    with harness(tmp_path, make) as h:
        run = h.finished(h.send("app/steps", {"n": 1}))

    assert run["status"] == "Completed"
    assert run["output"] == {"a": 2, "b": 20}
    assert executed == {"first": 1, "second": 1}
    assert run["ended_at"] is not None
