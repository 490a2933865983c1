"""An app that streams its answers (FastAPI `Streaming.FORCE`) runs to completion like any other."""

from collections import Counter
from pathlib import Path

import httpx
import inngest

from engine.transport import EngineTransport
from tests.engine.harness import harness


class StatusRecorder(httpx.AsyncBaseTransport):
    """Passes requests through the engine's own transport and notes the status of every SDK call
    the engine makes."""

    def __init__(self) -> None:
        self.inner = EngineTransport(keepalive=8)
        self.call_statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "fnId" in request.url.params:
            self.call_statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_streamed_answers_complete_the_run(tmp_path: Path) -> None:
    executed: Counter[str] = Counter()
    recorder = StatusRecorder()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="streamed", trigger=inngest.TriggerEvent(event="app/stream"))
        async def streamed(ctx: inngest.Context) -> dict[str, int]:
            async def first() -> int:
                executed["first"] += 1
                return int(ctx.event.data["n"]) + 1

            async def second(value: int) -> int:
                executed["second"] += 1
                return value * 10

            a = await ctx.step.run("first", first)
            b = await ctx.step.run("second", second, a)
            return {"a": a, "b": b}

        return [streamed]

    with harness(tmp_path, make, streaming=inngest.Streaming.FORCE, transport=recorder) as h:
        run = h.finished(h.send("app/stream", {"n": 1}))

    assert run["status"] == "Completed"
    assert run["output"] == {"a": 2, "b": 20}
    assert executed == {"first": 1, "second": 1}
    # Every answer came through the streaming envelope, not as a plain 200/206.
    assert recorder.call_statuses
    assert set(recorder.call_statuses) == {201}
