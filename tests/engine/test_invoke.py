"""`step.invoke` runs another function as a run of its own and gives the caller its result, or,
when that run fails, raises `StepError` in the caller, which can catch it."""

from pathlib import Path

import inngest

from tests.engine.harness import harness, slug


def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
    @client.create_function(fn_id="price", trigger=inngest.TriggerEvent(event="app/price"))
    async def price(ctx: inngest.Context) -> dict[str, int]:
        return {"total": ctx.event.data["qty"] * 5}

    @client.create_function(fn_id="reserve", trigger=inngest.TriggerEvent(event="app/reserve"))
    async def reserve(ctx: inngest.Context) -> None:
        raise inngest.NonRetriableError(f"sku {ctx.event.data['sku']} is out of stock")

    @client.create_function(fn_id="quote", trigger=inngest.TriggerEvent(event="app/quote"))
    async def quote(ctx: inngest.Context) -> dict[str, object]:
        return {"price": await ctx.step.invoke("price", function=price, data=ctx.event.data)}

    @client.create_function(fn_id="order", trigger=inngest.TriggerEvent(event="app/order"))
    async def order(ctx: inngest.Context) -> dict[str, object]:
        try:
            await ctx.step.invoke("reserve", function=reserve, data=ctx.event.data)
        except inngest.StepError as err:
            return {"caught": err.message}
        return {"caught": None}

    return [price, reserve, quote, order]


def test_invoke_returns_the_child_output(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        parent = h.finished(h.send("app/quote", {"qty": 3}))
        children = h.runs_of(slug("price"))

    assert parent["status"] == "Completed"
    assert parent["output"] == {"price": {"total": 15}}
    assert [(c["status"], c["output"]) for c in children] == [("Completed", {"total": 15})]


def test_a_failed_child_raises_step_error_in_the_parent(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        parent = h.finished(h.send("app/order", {"sku": "X1"}))
        children = h.runs_of(slug("reserve"))

    assert [c["status"] for c in children] == ["Failed"]
    assert parent["status"] == "Completed"
    assert parent["output"] == {"caught": "sku X1 is out of stock"}
