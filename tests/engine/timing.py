"""Helpers for checks that depend on engine time, none of which sleep.

`pass_barrier(h)` comes before a check that something did *not* happen (include
`barrier_function(client)` in the test app). It starts a probe run and waits for it to complete.
The engine takes due work oldest first and the probe needs three SDK round trips one after
another, so by then every SDK call that was due when the barrier began (after `h.advance(...)`,
everything the new time made due) has long been made and answered. What has not happened by then
was not going to happen at that engine time.

`advance_until(h, step_ms, done)` moves engine time in steps until `done()` holds: for a timer the
engine sets a moment after something the test can see (a retry is due one interval after the
engine *received* the failure, which can be just after the step body ran).
"""

from collections.abc import Callable

import inngest

from tests.engine.harness import Harness, eventually

BARRIER_EVENT = "test/barrier"


def barrier_function(client: inngest.Inngest) -> inngest.Function[object]:
    @client.create_function(fn_id="barrier", trigger=inngest.TriggerEvent(event=BARRIER_EVENT))
    async def barrier(ctx: inngest.Context) -> int:
        async def echo(n: int) -> int:
            return n

        first = await ctx.step.run("first", echo, 1)
        return await ctx.step.run("second", echo, first + 1)

    return barrier


def pass_barrier(h: Harness) -> None:
    run = h.finished(h.send(BARRIER_EVENT))
    assert run["status"] == "Completed", run


def advance_until(h: Harness, step_ms: int, done: Callable[[], object]) -> None:
    eventually(lambda: done() or h.advance(step_ms))
