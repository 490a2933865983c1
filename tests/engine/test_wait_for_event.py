"""`step.wait_for_event` resumes on the first later event that matches its `if` expression, with
that event, or with None once its timeout has passed."""

import datetime
from pathlib import Path

import inngest

from tests.engine.harness import harness
from tests.engine.timing import barrier_function, pass_barrier

TIMEOUT = datetime.timedelta(minutes=5)
TIMEOUT_MS = int(TIMEOUT.total_seconds() * 1000)


def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
    @client.create_function(fn_id="approve", trigger=inngest.TriggerEvent(event="app/order"))
    async def approve(ctx: inngest.Context) -> dict[str, object]:
        approval = await ctx.step.wait_for_event(
            "approval",
            event="app/approved",
            if_exp="async.data.id == event.data.id",
            timeout=TIMEOUT,
        )
        return {"approval": None if approval is None else approval.data}

    return [approve, barrier_function(client)]


def test_only_the_matching_event_resumes_the_wait(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        run_id = h.only_run(h.send("app/order", {"id": "o-1"}))["run_id"]
        pass_barrier(h)  # the run is now waiting

        h.send("app/approved", {"id": "o-2", "by": "mallory"})
        pass_barrier(h)
        status_after_other = h.run(run_id)["status"]

        h.send("app/approved", {"id": "o-1", "by": "ada"})
        run = h.wait_run(run_id)

    assert status_after_other == "Running"
    assert run["status"] == "Completed"
    assert run["output"] == {"approval": {"id": "o-1", "by": "ada"}}


def test_the_wait_times_out_with_none(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        run_id = h.only_run(h.send("app/order", {"id": "o-1"}))["run_id"]
        pass_barrier(h)  # the run is now waiting, its timeout counted from this engine time

        h.advance(TIMEOUT_MS - 60_000)
        pass_barrier(h)
        status_before_timeout = h.run(run_id)["status"]

        h.advance(60_000 + 1_000)
        run = h.wait_run(run_id)

    assert status_before_timeout == "Running"
    assert run["status"] == "Completed"
    assert run["output"] == {"approval": None}
