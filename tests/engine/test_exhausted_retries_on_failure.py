"""A step that keeps failing fails the run once its retries are used up, and the function's
`on_failure` handler then runs with the original event and the error."""

from pathlib import Path
from typing import Any

import inngest

from tests.engine.harness import eventually, harness, slug
from tests.engine.timing import advance_until

RETRY_INTERVAL_S = 1


def test_run_fails_after_its_retries_and_the_failure_handler_runs(tmp_path: Path) -> None:
    attempts: list[int] = []
    received: list[dict[str, Any]] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        async def on_failure(ctx: inngest.Context) -> None:
            received.append(
                {
                    "run_id": ctx.event.data["run_id"],
                    "event_data": ctx.event.data["event"]["data"],
                    "message": ctx.event.data["error"]["message"],
                }
            )

        @client.create_function(
            fn_id="charge",
            trigger=inngest.TriggerEvent(event="app/charge"),
            retries=1,
            on_failure=on_failure,
        )
        async def charge(ctx: inngest.Context) -> None:
            async def call_bank() -> None:
                attempts.append(ctx.attempt)
                raise ValueError(f"bank refused order {ctx.event.data['order']}")

            await ctx.step.run("call-bank", call_bank)

        return [charge]

    with harness(tmp_path, make, retry_interval=RETRY_INTERVAL_S) as h:
        run_id = h.only_run(h.send("app/charge", {"order": 7}))["run_id"]
        eventually(lambda: len(attempts) == 1)
        advance_until(h, RETRY_INTERVAL_S * 1000, lambda: len(attempts) == 2)
        run = h.wait_run(run_id)
        failure_runs = eventually(
            lambda: [r for r in h.runs_of(slug("charge-failure")) if r["status"] == "Completed"]
        )

    assert run["status"] == "Failed"
    assert run["output"]["message"] == "bank refused order 7"
    assert attempts == [0, 1]
    assert len(failure_runs) == 1
    assert failure_runs[0]["run_id"] != run_id
    assert received == [
        {"run_id": run_id, "event_data": {"order": 7}, "message": "bank refused order 7"}
    ]
