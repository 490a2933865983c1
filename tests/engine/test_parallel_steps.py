"""Steps in a parallel group each run once and their results come back in the group's order; a
step after the group runs once, after all of them."""

from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_parallel_steps_then_a_sequential_step(tmp_path: Path) -> None:
    executed: list[str] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="fan-out", trigger=inngest.TriggerEvent(event="app/fan-out"))
        async def fan_out(ctx: inngest.Context) -> dict[str, object]:
            base: int = ctx.event.data["base"]

            async def part(name: str, offset: int) -> int:
                executed.append(name)
                return base + offset

            async def total(values: list[int]) -> int:
                executed.append("total")
                return sum(values)

            parts = await ctx.group.parallel(
                (
                    lambda: ctx.step.run("a", part, "a", 1),
                    lambda: ctx.step.run("b", part, "b", 2),
                    lambda: ctx.step.run("c", part, "c", 3),
                )
            )
            summed = await ctx.step.run("total", total, list(parts))
            return {"parts": list(parts), "total": summed}

        return [fan_out]

    with harness(tmp_path, make) as h:
        run = h.finished(h.send("app/fan-out", {"base": 10}))

    assert run["status"] == "Completed"
    assert run["output"] == {"parts": [11, 12, 13], "total": 36}
    assert Counter(executed) == {"a": 1, "b": 1, "c": 1, "total": 1}
    assert executed[-1] == "total"
