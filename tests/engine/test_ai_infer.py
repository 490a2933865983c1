"""`step.ai.infer`: the engine calls the provider, whose JSON becomes the step result."""

from pathlib import Path
from typing import Any

import fastapi
import inngest
from inngest.experimental.ai import openai

from tests.engine.harness import AppThread, harness

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "fake-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "pong"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def fake_provider(received: list[dict[str, Any]]) -> fastapi.FastAPI:
    provider = fastapi.FastAPI()

    @provider.post("/v1/chat/completions")
    async def complete(request: fastapi.Request) -> dict[str, Any]:
        received.append(
            {"body": await request.json(), "authorization": request.headers.get("authorization")}
        )
        return COMPLETION

    return provider


def test_ai_infer_step_returns_the_provider_response(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    seen: list[dict[str, object]] = []
    provider = AppThread(fake_provider(received))
    messages = [{"role": "user", "content": "ping"}]

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        adapter = openai.Adapter(
            auth_key="sk-test",
            base_url=f"http://127.0.0.1:{provider.port}/v1",
            model="fake-model",
        )

        @client.create_function(fn_id="ask", trigger=inngest.TriggerEvent(event="app/ask"))
        async def ask(ctx: inngest.Context) -> object:
            answer = await ctx.step.ai.infer(
                "ask-llm", adapter=adapter, body={"messages": messages}
            )
            seen.append(answer)
            return answer["choices"]

        return [ask]

    try:
        with harness(tmp_path, make) as h:
            run = h.finished(h.send("app/ask"))
    finally:
        provider.stop()

    assert run["status"] == "Completed"
    assert run["output"] == COMPLETION["choices"]
    assert seen == [COMPLETION]
    assert received == [
        {"body": {"messages": messages, "model": "fake-model"}, "authorization": "Bearer sk-test"}
    ]
