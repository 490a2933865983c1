"""An expression whose evaluation cost could blow up is refused with a 400 that names it, before
anything evaluates it; the engine goes on answering, and ordinary expressions go on working."""

import datetime
from pathlib import Path
from typing import Any

import inngest
import pytest

from engine.expressions import MAX_LENGTH
from tests.engine.console_app import API
from tests.engine.harness import Harness, eventually, function_uuid, harness, slug
from tests.engine.test_register import register_payload

NUMBERS = "[" + ",".join(str(n) for n in range(40)) + "]"
# 40 ** 4 evaluations of the innermost comparison: about ten minutes of celpy on the event loop.
NESTED_EXISTS = (
    f"{NUMBERS}.exists(a, {NUMBERS}.exists(b, {NUMBERS}.exists(c, {NUMBERS}.exists(d, a == -1))))"
)
DEEP = "(" * 300 + "event.data.n == 1" + ")" * 300  # celpy recurses past Python's limit


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="app/nap"))
    async def sleeper(ctx: inngest.Context) -> str:
        await ctx.step.sleep("nap", datetime.timedelta(days=1))
        return "woke"

    @client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event="app/wait"))
    async def waiter(ctx: inngest.Context) -> object:
        reply = await ctx.step.wait_for_event(
            "reply",
            event="app/reply",
            if_exp="async.data.tags.exists(t, t == event.data.tag)",
            timeout=datetime.timedelta(hours=1),
        )
        return None if reply is None else reply.data

    @client.create_function(
        fn_id="deep", trigger=inngest.TriggerEvent(event="app/n", expression=DEEP)
    )
    async def deep(ctx: inngest.Context) -> str:
        return "deep"

    @client.create_function(
        fn_id="shallow",
        trigger=inngest.TriggerEvent(event="app/n", expression="event.data.n == 1"),
    )
    async def shallow(ctx: inngest.Context) -> str:
        return "shallow"

    return [sleeper, waiter, deep, shallow]


def sleeping_run(h: Harness, n: int) -> str:
    run_id: str = h.only_run(h.send("app/nap", {"n": n}))["run_id"]
    h.advance(1_000)  # so that "started before now" takes it in
    return run_id


def cancellation(h: Harness, expression: str) -> dict[str, Any]:
    now = datetime.datetime.fromtimestamp(h.clock.now() / 1000, datetime.UTC)
    return {
        "app_id": "test",
        "function_id": slug("sleeper"),
        "started_before": now.isoformat(),
        "if": expression,
    }


def test_a_bulk_cancellation_with_nested_macros_is_refused_and_the_engine_answers(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, make) as h:
        run_id = sleeping_run(h, 1)
        refused = h.http.post("/v1/cancellations", json=cancellation(h, NESTED_EXISTS))
        health = h.http.get("/health")
        status_after_refusal = h.run(run_id)["status"]
        done = h.http.post("/v1/cancellations", json=cancellation(h, "event.data.n == 1"))
        status_after_cancel = h.run(run_id)["status"]

    assert len(NESTED_EXISTS) < 500
    assert refused.status_code == 400
    assert "uses `exists`" in refused.json()["error"]
    assert health.status_code == 200
    assert status_after_refusal == "Running"
    assert done.status_code == 200
    assert done.json()["data"]["cancelled_runs"] == 1
    assert status_after_cancel == "Cancelled"


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("[1, 2].all(x, x > 0)", "`all`"),
        ("[1, 2].exists_one(x, x == event.data.n)", "`exists_one`"),
        ("size([1, 2].map(x, [x, x])) == 2", "`map`"),
        ("size([1, 2].filter(x, x == event.data.n)) == 1", "`filter`"),
        ("event.data.n == 1 || " * (MAX_LENGTH // 20) + "true", f"at most {MAX_LENGTH}"),
    ],
    ids=["all", "exists_one", "map", "filter", "too-long"],
)
def test_the_console_refuses_the_same_expressions_even_for_a_dry_run(
    tmp_path: Path, expression: str, named: str
) -> None:
    with harness(tmp_path, make) as h:
        run_id = sleeping_run(h, 1)
        body = {"function_id": slug("sleeper"), "if": expression}
        dry = h.http.post(f"{API}/cancellations", json={**body, "dry_run": True})
        real = h.http.post(f"{API}/cancellations", json=body)
        status = h.run(run_id)["status"]

    assert (dry.status_code, real.status_code) == (400, 400)
    assert named in dry.json()["error"]
    assert named in real.json()["error"]
    assert status == "Running"


@pytest.mark.parametrize(
    "options",
    [
        {"triggers": [{"event": "app/hello", "expression": "event.data.l.all(x, x > 0)"}]},
        {"cancel": [{"event": "app/stop", "if": "async.data.l.all(x, x == event.data.id)"}]},
        {"concurrency": [{"limit": 1, "key": "event.data.l.all(x, x > 0)"}]},
    ],
    ids=["trigger", "cancel", "concurrency-key"],
)
def test_a_function_with_a_macro_is_refused_at_registration(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    with harness(tmp_path, make) as h:
        response = h.http.post("/fn/register", json=register_payload(**options))

    assert response.status_code == 400
    assert "uses `all`" in response.json()["error"]


def test_a_wait_with_a_macro_fails_its_run_by_name(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        run_id = h.only_run(h.send("app/wait", {"tag": "a"}))["run_id"]
        run = h.wait_run(run_id)

    assert run["status"] == "Failed"
    assert "uses `exists`" in run["output"]["message"]


def test_an_expression_nested_too_deeply_to_evaluate_matches_nothing(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        event_id = h.send("app/n", {"n": 1})
        started = eventually(lambda: h.runs(event_id))
        health = h.http.get("/health")

    assert len(DEEP) < MAX_LENGTH
    assert [run["function_id"] for run in started] == [function_uuid(slug("shallow"))]
    assert health.status_code == 200
