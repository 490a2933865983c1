"""`NonRetriableError` raised in a step fails the run at once: no retry, however long one waits."""

from pathlib import Path

import inngest

from tests.engine.harness import harness
from tests.engine.timing import barrier_function, pass_barrier

A_DAY_MS = 24 * 3600 * 1000


def test_non_retriable_error_fails_the_run_without_retrying(tmp_path: Path) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="lookup", trigger=inngest.TriggerEvent(event="app/lookup"))
        async def lookup(ctx: inngest.Context) -> str:
            async def find_user() -> str:
                attempts.append(ctx.attempt)
                raise inngest.NonRetriableError(f"no user {ctx.event.data['user']}")

            return await ctx.step.run("find-user", find_user)

        return [lookup, barrier_function(client)]

    with harness(tmp_path, make) as h:
        run = h.finished(h.send("app/lookup", {"user": "ada"}))
        attempts_when_failed = list(attempts)
        h.advance(A_DAY_MS)
        pass_barrier(h)
        later = h.run(run["run_id"])

    assert run["status"] == "Failed"
    assert run["output"]["message"] == "no user ada"
    assert attempts_when_failed == [0]
    assert attempts == [0]
    assert later["status"] == "Failed"
