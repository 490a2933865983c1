"""How fast the console API answers with a large history: 100,000 finished runs and 200 running.

Builds an engine file through the engine's own Store (runs of 10 functions in 2 apps over a week,
90 % completed, 8 % failed, 2 % cancelled; 200 running, a quarter of them not started yet; one
run with 200 steps, each with one attempt and some with a failed first attempt), then asks the
console API in process (httpx over ASGI, no network) for the runs list with each filter and for
the 200-step run's details, and prints the p50 and p95 of each. Target: p95 < 50 ms each.

Run with `.venv/bin/python -m bench.console` (`--runs` to change the size; as a module, so that
`bench/engine.py` does not hide the `engine` package). Not a test: nothing
imports it.
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from engine.clock import FakeClock
from engine.console_api import console_app
from engine.consts import RunStatus
from engine.ids import new_ulid
from engine.server import Engine
from engine.store import Run, StoredEvent

APPS = ("shop", "mail")
FUNCTIONS = [f"{app}-fn{n}" for app in APPS for n in range(5)]
START = 1_760_000_000_000
WEEK_MS = 7 * 86_400_000
TARGET_MS = 50.0
NEXT = {"cursor": "next"}  # replaced by the first page's next_cursor


def seed(engine: Engine, finished: int, running: int, rng: random.Random) -> str:
    """Fill the engine file; the id of the run with 200 steps."""
    store, history = engine.store, engine.machine.history
    for app in APPS:
        fns = [fn for fn in FUNCTIONS if fn.startswith(app)]
        store.save_app(app, f"http://127.0.0.1:9/{app}", "py:v0.5.19", "fastapi", START)
        store.replace_functions(app, {fn: _config(fn) for fn in fns})
    engine.machine._load_functions()
    step = WEEK_MS // (finished + running)
    with store.transaction():
        for index in range(finished + running):
            queued = START + index * step
            run = _run(rng, queued, index)
            store.insert_event(_event(run.event_id, queued, index))
            store.insert_run(run, [run.event_id])
            if index < finished:
                history.began(run.run_id, queued + rng.randint(0, 50))
                roll = rng.random()
                status = (
                    RunStatus.COMPLETED
                    if roll < 0.9
                    else RunStatus.FAILED
                    if roll < 0.98
                    else RunStatus.CANCELLED
                )
                output = {"chunks": index % 13} if status is RunStatus.COMPLETED else None
                if status is RunStatus.FAILED:
                    output = {"name": "ValueError", "message": f"bad input {index}", "stack": "…"}
                store.finish_run(run.run_id, status, output, queued + rng.randint(60, 5000))
            elif index % 4:
                history.began(run.run_id, queued + 10)
        return _long_run(engine, START + WEEK_MS + 1)


def _config(slug: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:9/api?fnId={slug}&stepId=step"
    return {
        "id": slug,
        "name": slug,
        "triggers": [{"event": f"bench/{slug}"}],
        "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": url}}},
    }


def _run(rng: random.Random, queued: int, index: int) -> Run:
    fn = FUNCTIONS[index % len(FUNCTIONS)]
    event_id = new_ulid(queued)
    payload = _event(event_id, queued, index).payload()
    return Run(
        run_id=new_ulid(queued),
        fn_slug=fn,
        event_id=event_id,
        events=[payload],
        batch_id=None,
        cron=None,
        status=RunStatus.RUNNING,
        output=None,
        started_at=queued,
        ended_at=None,
        concurrency=[],
        priority=0,
        parent=None,
    )


def _event(event_id: str, at: int, index: int) -> StoredEvent:
    data = {"repo": f"org/repo{index % 37}", "path": f"docs/page-{index}.md", "n": index % 100}
    return StoredEvent(
        event_id, "", f"bench/{FUNCTIONS[index % len(FUNCTIONS)]}", data, {}, at, None, at
    )


def _long_run(engine: Engine, at: int) -> str:
    store, history = engine.store, engine.machine.history
    run = _run(random.Random(1), at, 0)
    store.insert_event(_event(run.event_id, at, 0))
    store.insert_run(run, [run.event_id])
    history.began(run.run_id, at)
    for n in range(200):
        op = {"id": f"{n:040x}", "op": "StepRun", "displayName": f"step {n}"}
        t = at + n * 100
        history.step_seen(run.run_id, op, t)
        if n % 10 == 0:
            error = {"name": "RuntimeError", "message": "flaky", "stack": "Traceback …\n" * 20}
            history.attempt(run.run_id, op["id"], 0, (t, t + 5, t + 20), error)
        history.attempt(run.run_id, op["id"], 1 if n % 10 == 0 else 0, (t + 20, t + 25, t + 90))
        store.memoize(run.run_id, op["id"], {"data": {"n": n, "text": "x" * 200}})
        history.step_ended(run.run_id, op["id"], t + 90)
    store.finish_run(run.run_id, RunStatus.COMPLETED, {"steps": 200}, at + 20_000)
    return run.run_id


def queries(
    long_run: str, sample_run: str, sample_event: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    day = START + 3 * 86_400_000
    return {
        "all runs": ("/runs", {}),
        "status running": ("/runs", {"status": "running"}),
        "status queued": ("/runs", {"status": "queued"}),
        "status failed,cancelled": ("/runs", {"status": "failed,cancelled"}),
        "status completed": ("/runs", {"status": "completed"}),
        "function": ("/runs", {"function": "shop-fn1"}),
        "function + failed": ("/runs", {"function": "shop-fn1", "status": "failed"}),
        "app": ("/runs", {"app": "mail"}),
        "queued in one hour": ("/runs", {"from": day, "until": day + 3_600_000}),
        "started in one hour": (
            "/runs",
            {"time_field": "started", "from": day, "until": day + 3_600_000},
        ),
        "ended in one day": (
            "/runs",
            {"time_field": "ended", "from": day, "until": day + 86_400_000},
        ),
        "run id": ("/runs", {"run_id": sample_run}),
        "event id": ("/runs", {"event_id": sample_event}),
        "query event.data (common)": ("/runs", {"query": 'event.data.repo == "org/repo3"'}),
        "query output (rare)": ("/runs", {"query": "output.chunks == 12 && event.data.n == 99"}),
        "query, its next page": ("/runs", {"query": 'event.data.repo == "org/repo3"', **NEXT}),
        "query + function + day": (
            "/runs",
            {
                "query": "event.data.n > 50",
                "function": "mail-fn2",
                "from": day,
                "until": day + 86_400_000,
            },
        ),
        "200-step run details": (f"/runs/{long_run}", {}),
        "events": ("/events", {}),
    }


async def measure(
    engine: Engine, paths: dict[str, tuple[str, dict[str, Any]]], rounds: int
) -> None:
    transport = httpx.ASGITransport(app=console_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        print(f"{'request':32} {'p50 ms':>8} {'p95 ms':>8}  answer")
        for label, (path, params) in paths.items():
            if params.get("cursor") == NEXT["cursor"]:
                first = await client.get(path, params={**params, "cursor": ""})
                params = {**params, "cursor": first.json()["next_cursor"]}
            times = []
            for _ in range(rounds):
                began = time.perf_counter()
                response = await client.get(path, params=params)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
            body = response.json()
            answer = (
                f"{len(body['runs'])} runs of {body['total_count']}"
                f"{'' if body['total_count_exact'] else ' (counted in the search window)'}"
                if "runs" in body
                else f"{len(body['steps'])} steps"
                if "steps" in body
                else f"{len(body.get('events', []))} events"
            )
            p95 = statistics.quantiles(times, n=20)[18]
            flag = "" if p95 < TARGET_MS else "  OVER TARGET"
            print(f"{label:32} {statistics.median(times):8.1f} {p95:8.1f}  {answer}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="finished runs")
    parser.add_argument("--running", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40, help="requests per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(
            Path(folder) / "engine.db", clock=FakeClock(START + WEEK_MS), poll_interval=None
        )
        began = time.perf_counter()
        long_run = seed(engine, args.runs, args.running, random.Random(7))
        seconds = time.perf_counter() - began
        print(f"seeded {args.runs:,} finished and {args.running} running runs in {seconds:.1f} s")
        sample = engine.store._one("SELECT run_id, event_id FROM runs LIMIT 1 OFFSET 5000")
        assert sample is not None
        asyncio.run(
            measure(engine, queries(long_run, sample["run_id"], sample["event_id"]), args.rounds)
        )
        engine.close()


if __name__ == "__main__":
    main()
