"""Runs can be cancelled through the REST API: one by id, or in bulk by function and expression."""

import datetime
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import inngest

from tests.engine.harness import Harness, eventually, function_uuid, harness, slug

SLEEP = datetime.timedelta(minutes=1)
PAST_SLEEP_MS = int(SLEEP.total_seconds() * 1000) + 10_000


def make_sleepers(
    before: Counter[str], after: Counter[str]
) -> Callable[[inngest.Inngest], list[inngest.Function[object]]]:
    """Two functions on the same event: each marks a step, sleeps, then marks another."""

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        def sleeper(fn_id: str) -> inngest.Function[object]:
            @client.create_function(fn_id=fn_id, trigger=inngest.TriggerEvent(event="app/nap"))
            async def fn(ctx: inngest.Context) -> int:
                key = f"{fn_id}:{ctx.event.data['n']}"

                async def mark(seen: Counter[str]) -> None:
                    seen[key] += 1

                await ctx.step.run("before", mark, before)
                await ctx.step.sleep("nap", SLEEP)
                await ctx.step.run("after", mark, after)
                return int(ctx.event.data["n"])

            return fn

        return [sleeper("sleeper"), sleeper("other")]

    return make


def both_runs(h: Harness, event_id: str) -> list[dict[str, Any]]:
    """The runs of both functions for one event, once both exist."""
    runs: list[dict[str, Any]] = eventually(lambda: len(r := h.runs(event_id)) == 2 and r)
    return runs


def test_delete_run_cancels_it_once(tmp_path: Path) -> None:
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()

    with harness(tmp_path, make_sleepers(before, after)) as h:
        event_id = h.send("app/nap", {"n": 1})
        by_fn = {run["function_id"]: run["run_id"] for run in both_runs(h, event_id)}
        target = by_fn[function_uuid(slug("sleeper"))]
        bystander = by_fn[function_uuid(slug("other"))]
        eventually(lambda: before == {"sleeper:1": 1, "other:1": 1})

        first = h.http.delete(f"/v1/runs/{target}")
        cancelled = h.run(target)
        second = h.http.delete(f"/v1/runs/{target}")

        h.advance(PAST_SLEEP_MS)
        completed = h.wait_run(bystander)
        still_cancelled = h.run(target)

    assert first.status_code == 200
    assert first.content == b""
    assert cancelled["status"] == "Cancelled"
    assert second.status_code >= 400
    body = second.json()
    assert body["status"] == second.status_code
    assert isinstance(body["error"], str) and body["error"]
    assert body["data"] is None
    assert completed["status"] == "Completed"
    assert still_cancelled["status"] == "Cancelled"
    assert after == {"other:1": 1}


def test_bulk_cancellation_cancels_only_matching_runs_of_the_function(tmp_path: Path) -> None:
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()

    with harness(tmp_path, make_sleepers(before, after)) as h:
        event_ids = {n: h.send("app/nap", {"n": n}) for n in range(4)}
        runs = {
            (run["function_id"], n): run["run_id"]
            for n, event_id in event_ids.items()
            for run in both_runs(h, event_id)
        }
        eventually(lambda: len(before) == 8)
        h.advance(1_000)
        engine_now = datetime.datetime.fromtimestamp(h.clock.now() / 1000, datetime.UTC)

        response = h.http.post(
            "/v1/cancellations",
            json={
                "app_id": "test",
                "function_id": slug("sleeper"),
                "started_before": engine_now.isoformat(),
                "if": "event.data.n % 2 == 0",
            },
        )
        statuses = {key: h.run(run_id)["status"] for key, run_id in runs.items()}

        h.advance(PAST_SLEEP_MS)
        survivors = [key for key, status in statuses.items() if status == "Running"]
        final = {key: h.wait_run(runs[key])["status"] for key in survivors}

    sleeper, other = function_uuid(slug("sleeper")), function_uuid(slug("other"))
    assert response.status_code == 200
    assert response.json()["data"]["function_id"] == slug("sleeper")
    assert statuses == {
        (sleeper, 0): "Cancelled",
        (sleeper, 1): "Running",
        (sleeper, 2): "Cancelled",
        (sleeper, 3): "Running",
        (other, 0): "Running",
        (other, 1): "Running",
        (other, 2): "Running",
        (other, 3): "Running",
    }
    assert set(final.values()) == {"Completed"}
    assert after == {
        "sleeper:1": 1,
        "sleeper:3": 1,
        "other:0": 1,
        "other:1": 1,
        "other:2": 1,
        "other:3": 1,
    }
