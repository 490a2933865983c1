"""An SDK app with one function of each kind the console shows, and helpers for console tests.

Every run kind the step timeline knows appears here: sequential steps, a failure with a stack, a
step that fails once and then succeeds, a sleep, a parallel group, an invoke, a send-event step, a
wait for an event, a cron trigger, and a function with every flow-control option and a failure
handler (triggered by an event the tests never send).
"""

import datetime
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import inngest

from tests.engine.harness import Harness, eventually, harness

API = "/api/console"
STEPS = "console/steps"
FAIL = "console/fail"
FLAKY = "console/flaky"
SLEEP = "console/sleep"
PARALLEL = "console/parallel"
INVOKE = "console/invoke"
SEND = "console/send"
WAIT = "console/wait"
BIG = "console/big"
BIG_OUTPUT = 70_000
GO = "console/go"
NAP = datetime.timedelta(minutes=1)


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event=STEPS))
    async def steps(ctx: inngest.Context) -> dict[str, Any]:
        n: int = ctx.event.data.get("n", 0)  # type: ignore[assignment]

        async def first() -> int:
            return n + 1

        async def second(value: int) -> int:
            return value * 2

        total = await ctx.step.run("second", second, await ctx.step.run("first", first))
        return {"total": total, "label": ctx.event.data.get("label")}

    @client.create_function(fn_id="fails", retries=0, trigger=inngest.TriggerEvent(event=FAIL))
    async def fails(ctx: inngest.Context) -> None:
        raise ValueError(f"cannot handle {ctx.event.data.get('what')}")

    @client.create_function(fn_id="flaky", retries=2, trigger=inngest.TriggerEvent(event=FLAKY))
    async def flaky(ctx: inngest.Context) -> str:
        async def wobble() -> str:
            if ctx.attempt == 0:
                raise RuntimeError("first attempt fails")
            return "steady"

        return await ctx.step.run("wobble", wobble)

    @client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event=SLEEP))
    async def sleeper(ctx: inngest.Context) -> str:
        async def before() -> str:
            return "awake"

        await ctx.step.run("before", before)
        await ctx.step.sleep("nap", NAP)
        return "rested"

    @client.create_function(fn_id="parallel", trigger=inngest.TriggerEvent(event=PARALLEL))
    async def parallel(ctx: inngest.Context) -> list[int]:
        async def part(value: int) -> int:
            return value

        parts = await ctx.group.parallel(
            (lambda: ctx.step.run("left", part, 1), lambda: ctx.step.run("right", part, 2))
        )
        return list(parts)

    @client.create_function(fn_id="invoker", trigger=inngest.TriggerEvent(event=INVOKE))
    async def invoker(ctx: inngest.Context) -> Any:
        return await ctx.step.invoke("call-steps", function=steps, data={"n": 10})

    @client.create_function(fn_id="sender", trigger=inngest.TriggerEvent(event=SEND))
    async def sender(ctx: inngest.Context) -> list[str]:
        event = inngest.Event(name=STEPS, data={"n": 100, "label": "sent"})
        return await ctx.step.send_event("send", [event])

    @client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event=WAIT))
    async def waiter(ctx: inngest.Context) -> Any:
        found = await ctx.step.wait_for_event(
            "wait-go",
            event=GO,
            timeout=datetime.timedelta(hours=1),
            if_exp="async.data.k == event.data.k",
        )
        return None if found is None else found.data

    @client.create_function(fn_id="big", trigger=inngest.TriggerEvent(event=BIG))
    async def big(ctx: inngest.Context) -> int:
        async def write() -> str:
            return "x" * BIG_OUTPUT

        return len(await ctx.step.run("write", write))

    @client.create_function(fn_id="nightly", trigger=inngest.TriggerCron(cron="0 3 * * *"))
    async def nightly(ctx: inngest.Context) -> str:
        return "done"

    async def on_failure(ctx: inngest.Context) -> None:
        return None

    @client.create_function(
        fn_id="configured",
        name="Configured function",
        trigger=inngest.TriggerEvent(event="console/never", expression="event.data.ok == true"),
        retries=7,
        concurrency=[inngest.Concurrency(limit=2, key="event.data.user")],
        throttle=inngest.Throttle(
            limit=5, period=datetime.timedelta(minutes=1), key="event.data.user"
        ),
        rate_limit=inngest.RateLimit(limit=100, period=datetime.timedelta(hours=1)),
        priority=inngest.Priority(run="event.data.vip ? 60 : 0"),
        idempotency="event.data.order",
        cancel=[
            inngest.Cancel(event="console/stop", if_exp="async.data.order == event.data.order")
        ],
        on_failure=on_failure,
    )
    async def configured(ctx: inngest.Context) -> None:
        return None

    return [
        steps,
        fails,
        flaky,
        sleeper,
        parallel,
        invoker,
        sender,
        waiter,
        big,
        nightly,
        configured,
    ]


def get(h: Harness, path: str, **params: Any) -> Any:
    """The JSON of a console GET that must succeed."""
    response = h.http.get(API + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def problem(response: httpx.Response, status: int) -> str:
    """The message of a console error answer, after checking its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status"}, body
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    message: str = body["error"]
    return message


def runs(h: Harness, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get(h, "/runs", limit=200, **params)["runs"]
    return found


def ended(h: Harness, run_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """A run's console details once it has ended."""
    detail: dict[str, Any] = eventually(
        lambda: (d := get(h, f"/runs/{run_id}"))["run"]["ended_at"] and d, timeout
    )
    return detail


def console_harness(tmp_path: Path, **options: Any) -> AbstractContextManager[Harness]:
    """A real engine (FakeClock) with this app synced."""
    return harness(tmp_path, make, **options)
