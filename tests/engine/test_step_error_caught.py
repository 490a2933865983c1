"""A step that has failed for good raises `StepError` in the function; code that catches it lets
the run complete."""

from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_caught_step_error_lets_the_run_complete(tmp_path: Path) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="ship", trigger=inngest.TriggerEvent(event="app/ship"), retries=0
        )
        async def ship(ctx: inngest.Context) -> dict[str, object]:
            async def book_courier() -> str:
                attempts.append(ctx.attempt)
                raise ValueError(f"no courier for {ctx.event.data['city']}")

            try:
                return {"booked": await ctx.step.run("book-courier", book_courier)}
            except inngest.StepError as err:
                return {"failed": err.name, "message": err.message}

        return [ship]

    with harness(tmp_path, make) as h:
        run = h.finished(h.send("app/ship", {"city": "Oslo"}))

    assert run["status"] == "Completed"
    assert run["output"] == {"failed": "ValueError", "message": "no courier for Oslo"}
    assert attempts == [0]
