"""History retention (--retention, default 7 days) on a fake clock: old runs and events leave
the API, a run asleep since before the cutoff stays whole, recent history stays."""

import datetime
from collections import Counter
from pathlib import Path
from typing import Any

import inngest

from tests.engine.harness import Harness, eventually, harness

DAY_MS = 86_400_000
RETENTION_MS = 7 * DAY_MS
NAP = datetime.timedelta(days=30)
executed: Counter[str] = Counter()


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="quick", trigger=inngest.TriggerEvent(event="app/quick"))
    async def quick(ctx: inngest.Context) -> int:
        async def one() -> int:
            return 1

        return await ctx.step.run("one", one)

    @client.create_function(fn_id="napper", trigger=inngest.TriggerEvent(event="app/nap"))
    async def napper(ctx: inngest.Context) -> str:
        async def before() -> str:
            executed[ctx.run_id] += 1
            return f"rested {ctx.event.data['who']}"

        rested = await ctx.step.run("before", before)
        await ctx.step.sleep("nap", NAP)
        return rested

    return [quick, napper]


def status(h: Harness, path: str) -> int:
    return h.http.get(path).status_code


def test_retention_prunes_old_history_and_keeps_running_runs_and_recent_history(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, make) as h:
        old_event = h.send("app/quick")
        old_run = h.finished(old_event)["run_id"]
        nap_event = h.send("app/nap", {"who": "ada"})
        nap_run = h.only_run(nap_event)["run_id"]
        eventually(lambda: executed[nap_run] == 1)  # asleep

        h.advance(RETENTION_MS + DAY_MS)
        new_event = h.send("app/quick")
        new_run = h.finished(new_event)["run_id"]
        eventually(lambda: status(h, f"/v1/runs/{old_run}") == 404)
        eventually(lambda: status(h, f"/v1/events/{old_event}") == 404)
        kept = {
            "napping run": h.run(nap_run)["status"],
            "its event": status(h, f"/v1/events/{nap_event}"),
            "its run list": [run["run_id"] for run in h.runs(nap_event)],
            "new run": h.run(new_run)["status"],
            "new event": status(h, f"/v1/events/{new_event}"),
        }

        h.advance(int(NAP.total_seconds() * 1000))
        woken = h.wait_run(nap_run)

    assert kept == {
        "napping run": "Running",
        "its event": 200,
        "its run list": [nap_run],
        "new run": "Completed",
        "new event": 200,
    }
    assert woken["status"] == "Completed"
    assert woken["output"] == "rested ada"  # from the step memoized before the cutoff
    assert executed[nap_run] == 1
