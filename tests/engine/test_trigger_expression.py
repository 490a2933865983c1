"""A trigger starts runs only for events it matches: its `expression`, or a wildcard name."""

from pathlib import Path

import inngest

from tests.engine.harness import harness


def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
    @client.create_function(
        fn_id="big-spender",
        trigger=inngest.TriggerEvent(event="app/expr", expression="event.data.amount > 100"),
    )
    async def big_spender(ctx: inngest.Context) -> int:
        return int(ctx.event.data["amount"])

    @client.create_function(fn_id="wild", trigger=inngest.TriggerEvent(event="app/wild.*"))
    async def wild(ctx: inngest.Context) -> str:
        return ctx.event.name

    return [big_spender, wild]


def test_expression_filters_which_events_start_runs(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        small = h.send("app/expr", {"amount": 50})
        large = h.send("app/expr", {"amount": 150})
        large_run = h.finished(large)
        small_runs = h.runs(small)

    assert small_runs == []
    assert large_run["status"] == "Completed"
    assert large_run["output"] == 150


def test_wildcard_name_matches_the_prefix_only(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        other = h.send("app/other", {})
        one = h.send("app/wild.one", {})
        one_run = h.finished(one)
        other_runs = h.runs(other)

    assert other_runs == []
    assert one_run["status"] == "Completed"
    assert one_run["output"] == "app/wild.one"
