"""A step that fails is retried, with `ctx.attempt` counting up, until it succeeds; the run then
completes with the step's result."""

from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness
from tests.engine.timing import advance_until

RETRY_INTERVAL_S = 1
FAILURES = 2


def test_failing_step_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="flaky", trigger=inngest.TriggerEvent(event="app/flaky"))
        async def flaky(ctx: inngest.Context) -> dict[str, object]:
            async def call_upstream() -> str:
                attempts.append(ctx.attempt)
                if len(attempts) <= FAILURES:
                    raise ConnectionError(f"upstream down (call {len(attempts)})")
                return f"answer for {ctx.event.data['q']}"

            return {"answer": await ctx.step.run("call-upstream", call_upstream)}

        return [flaky]

    with harness(tmp_path, make, retry_interval=RETRY_INTERVAL_S) as h:
        run_id = h.only_run(h.send("app/flaky", {"q": "x"}))["run_id"]
        eventually(lambda: len(attempts) == 1)
        advance_until(h, RETRY_INTERVAL_S * 1000, lambda: len(attempts) == 2)
        advance_until(h, RETRY_INTERVAL_S * 1000, lambda: len(attempts) == 3)
        run = h.wait_run(run_id)

    assert run["status"] == "Completed"
    assert run["output"] == {"answer": "answer for x"}
    assert attempts == [0, 1, 2]
