"""An SDK answer over 8 MiB (the Go server's MaxSDKResponseBodySize) fails its run at once, naming
the limit: the same step would answer the same again, and the engine holds none of it."""

from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_a_step_output_over_the_answer_limit_fails_the_run_without_retrying(
    tmp_path: Path,
) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="export", trigger=inngest.TriggerEvent(event="app/export"))
        async def export(ctx: inngest.Context) -> int:
            async def dump() -> str:
                attempts.append(ctx.attempt)
                return "x" * (9 * 1024 * 1024)

            return len(await ctx.step.run("dump", dump))

        return [export]

    with harness(tmp_path, make) as h:
        run = h.finished(h.send("app/export", {}))

    assert run["status"] == "Failed"
    assert run["output"]["message"] == "the app's answer is over 8 MiB, the most it may be"
    assert attempts == [0]
