"""`docs/ping`: a two-step function that shows the durable execution path end to end."""

import datetime

import inngest

from service.events import PING as PING_EVENT


def create_ping(client: inngest.Inngest) -> inngest.Function[dict[str, object]]:
    @client.create_function(fn_id="ping", trigger=inngest.TriggerEvent(event=PING_EVENT))
    async def ping(ctx: inngest.Context) -> dict[str, object]:
        async def receive() -> str:
            return datetime.datetime.now(datetime.UTC).isoformat()

        async def answer() -> str:
            return f"pong: {ctx.event.data.get('message', 'hello')}"

        received_at = await ctx.step.run("receive", receive)
        reply = await ctx.step.run("answer", answer)
        return {"received_at": received_at, "reply": reply}

    return ping
