"""Events that share a user `id` are all accepted, but only the first starts a run."""

from collections import Counter
from pathlib import Path

import inngest

from tests.engine.harness import harness


def test_same_event_id_starts_one_run(tmp_path: Path) -> None:
    executed: Counter[str] = Counter()

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(fn_id="signup", trigger=inngest.TriggerEvent(event="app/signup"))
        async def signup(ctx: inngest.Context) -> str:
            async def record() -> str:
                executed[ctx.event.id] += 1
                return str(ctx.event.data["copy"])

            return await ctx.step.run("welcome", record)

        return [signup]

    with harness(tmp_path, make) as h:
        responses = [
            h.http.post(
                "/e/test-key",
                json={"name": "app/signup", "id": event_id, "data": {"copy": copy}},
            )
            for copy, event_id in (("first", "user-1"), ("second", "user-1"), ("third", "user-2"))
        ]
        first, second, third = (response.json()["ids"][0] for response in responses)
        first_run = h.finished(first)
        third_run = h.finished(third)
        second_runs = h.runs(second)
        stored = h.http.get(f"/v1/events/{second}").json()["data"]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert len({first, second, third}) == 3
    assert stored["id"] == "user-1"
    assert stored["data"] == {"copy": "second"}
    assert first_run["status"] == "Completed"
    assert first_run["output"] == "first"
    assert third_run["output"] == "third"
    assert second_runs == []
    assert executed == {"user-1": 1, "user-2": 1}
