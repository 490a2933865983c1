"""`RetryAfterError` postpones the retry until the time it asks for, not the usual backoff."""

import datetime
from pathlib import Path

import inngest

from tests.engine.harness import eventually, harness
from tests.engine.timing import barrier_function, pass_barrier

RETRY_AFTER = datetime.timedelta(seconds=30)
# Beyond the engine's first default backoff (10 s + 20 %), so an ignored retry-after would show.
TOO_EARLY_MS = 20_000
# The SDK dates the retry from the real clock, which has moved on a little since the fake one
# started, so the rest of the wait gets a margin.
REST_MS = 15_000


def test_retry_waits_for_the_requested_time(tmp_path: Path) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="sync", trigger=inngest.TriggerEvent(event="app/sync"))
        async def sync(ctx: inngest.Context) -> str:
            async def call_api() -> str:
                attempts.append(ctx.attempt)
                if len(attempts) == 1:
                    raise inngest.RetryAfterError("rate limited", RETRY_AFTER)
                return f"synced {ctx.event.data['account']}"

            return await ctx.step.run("call-api", call_api)

        return [sync, barrier_function(client)]

    with harness(tmp_path, make) as h:
        run_id = h.only_run(h.send("app/sync", {"account": "acme"}))["run_id"]
        eventually(lambda: len(attempts) == 1)
        pass_barrier(h)  # the engine has taken in the failure, so a wrong retry is already due
        h.advance(TOO_EARLY_MS)
        pass_barrier(h)
        attempts_too_early = list(attempts)
        status_too_early = h.run(run_id)["status"]

        h.advance(REST_MS)
        run = h.wait_run(run_id)

    assert attempts_too_early == [0]
    assert status_too_early == "Running"
    assert run["status"] == "Completed"
    assert run["output"] == "synced acme"
    assert attempts == [0, 1]
