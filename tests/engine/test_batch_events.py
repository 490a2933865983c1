"""`batch_events` starts one run per full batch, or per partial batch once its timeout passes."""

from datetime import timedelta
from pathlib import Path

import inngest

from tests.engine.harness import harness

TIMEOUT_MS = 10_000


def test_batch_runs_when_full_or_when_the_timeout_passes(tmp_path: Path) -> None:
    batches: list[list[int]] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="batched",
            trigger=inngest.TriggerEvent(event="app/item"),
            batch_events=inngest.Batch(max_size=3, timeout=timedelta(seconds=10)),
        )
        async def batched(ctx: inngest.Context) -> int:
            batch = [event.data["n"] for event in ctx.events]
            batches.append(batch)
            return len(batch)

        @client.create_function(fn_id="ping", trigger=inngest.TriggerEvent(event="app/ping"))
        async def ping(ctx: inngest.Context) -> None:
            return None

        return [batched, ping]

    with harness(tmp_path, make) as h:
        full = [h.send("app/item", {"n": n}) for n in (1, 2, 3)]
        first = h.finished(full[0])
        assert [h.only_run(event_id)["run_id"] for event_id in full] == [first["run_id"]] * 3

        partial = [h.send("app/item", {"n": n}) for n in (4, 5)]
        h.advance(TIMEOUT_MS - 1_000)
        # A run started after the advance proves the engine has looked at the queue since.
        assert h.finished(h.send("app/ping"))["status"] == "Completed"
        assert [h.runs(event_id) for event_id in partial] == [[], []]

        h.advance(2_000)
        second = h.finished(partial[0])
        assert h.only_run(partial[1])["run_id"] == second["run_id"]

    assert batches == [[1, 2, 3], [4, 5]]
    assert (first["status"], first["output"]) == ("Completed", 3)
    assert (second["status"], second["output"]) == ("Completed", 2)
    assert first["batch_id"] and second["batch_id"]
    assert first["batch_id"] != second["batch_id"]
