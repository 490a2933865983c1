"""How fast the embedded engine runs a 2-step function, measured only through its public HTTP API.

Starts two processes on free loopback ports: an SDK app (FastAPI + inngest 0.5.19, one function
with two `step.run`s) and `docs-ingest engine --no-discovery --no-poll` on a fresh SQLite file.
Then it measures:

* sequential: one run at a time, from just before `POST /e` to the poll of
  `GET /v1/events/{id}/runs` that first shows `Completed` (poll interval --poll-ms);
* bursts: N events in one `POST /e` array; throughput = N / (time until every run was seen
  Completed); per-run latency = the run's `ended_at` (from the API) minus the send time;
* engine overhead: the median event-to-Completed time minus the time the SDK app itself spent
  handling the run's calls (timed by a middleware in the app), per SDK call and per step. It
  includes the loopback HTTP round trips and the polling;
* CPU: user + system CPU of each process per run (Linux /proc); the engine's includes answering
  this script's polls.

Targets: p50 <= 50 ms for one 2-step run (the Inngest dev server needs 0.4-0.6 s: its 150 ms queue
tick); 1,000 runs at >= 20 runs/s (10x the dev server's ~2 runs/s); engine overhead < 5 ms per
step. Run with `.venv/bin/python bench/engine.py` (or `make bench`). Not a test: nothing imports it.

`--retention` measures history retention instead: the engine runs with `--retention 1m` under
steady load (--rate runs/s for --minutes), and the size of its SQLite file (with its WAL) is
printed every --sample-s seconds, with the rows it holds. Target: once a retention period and a
pruning pass have gone by, the file stops growing.
"""

import argparse
import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from processes import free_port, wait_until

APP_ID = "bench"
FUNCTION_ID = "two-steps"
EVENT_NAME = "bench/two-steps"
STEPS_PER_RUN = 2
TERMINAL = {"Completed", "Failed", "Cancelled"}
TARGET_P50_MS = 50.0
TARGET_RUNS_PER_S = 20.0
TARGET_OVERHEAD_MS = 5.0
RETENTION = "1m"
RETENTION_S = 60


# The SDK app, run in its own process (`--serve-app`), so that it does not share a GIL with the
# engine or with this driver.


def serve_app(port: int, engine_url: str) -> None:
    import fastapi
    import inngest
    import inngest.fast_api
    import uvicorn

    client = inngest.Inngest(
        app_id=APP_ID, is_production=False, api_base_url=engine_url, event_api_base_url=engine_url
    )

    @client.create_function(fn_id=FUNCTION_ID, trigger=inngest.TriggerEvent(event=EVENT_NAME))
    async def two_steps(ctx: inngest.Context) -> int:
        async def first() -> int:
            return int(ctx.event.data.get("n", 0)) + 1

        async def second(value: int) -> int:
            return value * 2

        value = await ctx.step.run("first", first)
        return await ctx.step.run("second", second, value)

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [two_steps])
    timed = CallTimer(app)

    @app.get("/bench/stats")
    async def stats() -> dict[str, float]:
        return {"calls": timed.calls, "seconds": timed.seconds}

    @app.post("/bench/reset")
    async def reset() -> None:
        timed.calls, timed.seconds = 0, 0.0

    uvicorn.run(timed, host="127.0.0.1", port=port, log_level="warning")


class CallTimer:
    """ASGI wrapper that adds up how long the app takes to answer the engine's calls (POSTs)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0
        self.seconds = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/api/inngest":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


# The driver.


@dataclass(frozen=True)
class Setup:
    engine_url: str
    app_origin: str
    engine_pid: int
    app_pid: int

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by (engine, SDK app)."""
        return cpu_seconds(self.engine_pid), cpu_seconds(self.app_pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def processes(args: argparse.Namespace, workdir: Path) -> Iterator["Setup"]:
    """Start the SDK app and the engine; stop both afterwards."""
    engine_port, app_port = free_port(), free_port()
    engine_url = f"http://127.0.0.1:{engine_port}"
    app_origin = f"http://127.0.0.1:{app_port}"
    config = workdir / "inngest.json"
    config.write_text("{}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "DOCS_INGEST_"))}
    env["DOCS_INGEST_LOG_LEVEL"] = args.engine_log_level
    engine_cmd = [
        str(Path(sys.executable).parent / "docs-ingest"),
        "engine",
        *("--config", str(config), "--db", str(workdir / "engine.db")),
        *("--host", "127.0.0.1", "--port", str(engine_port)),
        *("-u", f"{app_origin}/api/inngest", "--no-discovery", "--no-poll"),
        *("--queue-workers", str(args.queue_workers)),
        *(("--retention", RETENTION) if args.retention else ()),
    ]
    if args.profile:
        engine_cmd = [
            sys.executable,
            "-c",
            "import cProfile, sys; from cli.main import main; sys.argv = sys.argv[1:];"
            f" cProfile.run('main()', {str(args.profile)!r})",
            *engine_cmd,
        ]
    app_cmd = [sys.executable, __file__, "--serve-app", str(app_port), "--engine-url", engine_url]
    log = (workdir / "processes.log").open("w")
    app = subprocess.Popen(app_cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    engine = None
    try:
        wait_until(lambda: httpx.get(f"{app_origin}/bench/stats").is_success, "the SDK app")
        engine = subprocess.Popen(
            engine_cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_until(lambda: httpx.get(f"{engine_url}/dev").json()["functions"], "the engine to sync")
        yield Setup(engine_url, app_origin, engine.pid, app.pid)
    finally:
        if engine is not None:
            engine.send_signal(signal.SIGINT)  # a clean stop, so that --profile gets written
            try:
                engine.wait(30)
            except subprocess.TimeoutExpired:
                engine.kill()
        app.terminate()
        app.wait(10)
        log.close()


def send(http: httpx.Client, count: int) -> list[str]:
    events = [{"name": EVENT_NAME, "data": {"n": n}} for n in range(count)]
    response = http.post("/e/bench", json=events)
    response.raise_for_status()
    ids: list[str] = response.json()["ids"]
    return ids


def runs_of(http: httpx.Client, event_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = http.get(f"/v1/events/{event_id}/runs").json()["data"]
    return runs


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def completed(run: dict[str, Any]) -> dict[str, Any]:
    if run["status"] != "Completed":
        raise SystemExit(f"run {run['run_id']} ended {run['status']}: {run.get('output')}")
    return run


@dataclass
class Phase:
    label: str
    runs: int
    latencies: list[float]  # seconds, event sent -> run Completed
    elapsed: float = 0.0  # seconds, first event sent -> last run seen Completed
    accepted: float = 0.0  # seconds the POST /e took
    engine_side: list[float] = field(default_factory=list)  # run_started_at -> ended_at
    sdk_calls: int = 0
    sdk_seconds: float = 0.0  # summed handling time of the SDK calls (overlapping in bursts)
    engine_cpu: float = 0.0
    app_cpu: float = 0.0


def measured(setup: Setup, app: httpx.Client, run: Callable[[], Phase]) -> Phase:
    """Run one phase, adding the SDK app's call timings and both processes' CPU time."""
    app.post("/bench/reset")
    engine_cpu, app_cpu = setup.cpu()
    phase = run()
    stats = app.get("/bench/stats").json()
    phase.sdk_calls, phase.sdk_seconds = int(stats["calls"]), float(stats["seconds"])
    after = setup.cpu()
    phase.engine_cpu, phase.app_cpu = after[0] - engine_cpu, after[1] - app_cpu
    return phase


def sequential(http: httpx.Client, runs: int, poll_s: float) -> Phase:
    """One run at a time: event POST -> Completed, as a client polling the API sees it."""
    phase = Phase(f"{runs} runs, one at a time", runs, [])
    start_all = time.perf_counter()
    for _ in range(runs):
        start = time.perf_counter()
        (event_id,) = send(http, 1)
        while not ((found := runs_of(http, event_id)) and found[0]["status"] in TERMINAL):
            time.sleep(poll_s)
        phase.latencies.append(time.perf_counter() - start)
        run = completed(found[0])
        phase.engine_side.append(timestamp(run["ended_at"]) - timestamp(run["run_started_at"]))
    phase.elapsed = time.perf_counter() - start_all
    return phase


def burst(http: httpx.Client, count: int, poll_s: float) -> Phase:
    """`count` events in one POST /e, until every run has been seen Completed."""
    phase = Phase(f"{count} runs sent at once", count, [])
    sent_at = time.time()
    start = time.perf_counter()
    pending = send(http, count)
    phase.accepted = time.perf_counter() - start
    finished = []
    while pending:  # runs finish roughly in order: a sweep stops at the first unfinished one
        while pending and (found := runs_of(http, pending[0])) and found[0]["status"] in TERMINAL:
            finished.append(completed(found[0]))
            pending.pop(0)
        if pending:
            time.sleep(poll_s)
    phase.elapsed = time.perf_counter() - start
    # ms precision from the API; a run's own end time, not when the sweep reached it
    phase.latencies = [timestamp(run["ended_at"]) - sent_at for run in finished]
    phase.engine_side = [
        timestamp(run["ended_at"]) - timestamp(run["run_started_at"]) for run in finished
    ]
    return phase


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def report(phases: list[Phase], poll_ms: float) -> None:
    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:.1f}"

    table: list[tuple[str, Callable[[Phase], str]]] = [
        ("event -> Completed p50 (ms)", lambda p: ms(statistics.median(p.latencies))),
        ("event -> Completed p95 (ms)", lambda p: ms(p95(p.latencies))),
        ("run start -> end p50 (ms)", lambda p: ms(statistics.median(p.engine_side))),
        ("throughput (runs/s)", lambda p: f"{p.runs / p.elapsed:.1f}"),
        ("POST /e accepted in (ms)", lambda p: ms(p.accepted) if p.accepted else "-"),
        ("SDK calls per run", lambda p: f"{p.sdk_calls / p.runs:.2f}"),
        ("engine CPU per run (ms)", lambda p: f"{p.engine_cpu / p.runs * 1e3:.2f}"),
        ("SDK app CPU per run (ms)", lambda p: f"{p.app_cpu / p.runs * 1e3:.2f}"),
    ]
    rows = [("", *(p.label for p in phases))]
    rows += [(name, *(cell(p) for p in phases)) for name, cell in table]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))

    seq = phases[0]
    per_call = seq.sdk_seconds / seq.sdk_calls
    calls_per_run = seq.sdk_calls / seq.runs
    overhead = statistics.median(seq.latencies) - per_call * calls_per_run
    print(
        f"\nOne at a time, the SDK app spends {per_call * 1e3:.2f} ms handling each of the"
        f" {calls_per_run:.0f} calls of a run. The rest\nof the median event -> Completed time,"
        f" {ms(overhead)} ms, is engine + loopback HTTP + polling (every {poll_ms} ms):"
        f"\n{overhead / calls_per_run * 1e3:.2f} ms per SDK call,"
        f" {overhead / STEPS_PER_RUN * 1e3:.2f} ms per step."
    )
    print("\nTargets")
    p50 = statistics.median(seq.latencies) * 1e3
    target(f"one 2-step run p50 <= {TARGET_P50_MS:.0f} ms", f"{p50:.1f} ms", p50 <= TARGET_P50_MS)
    for phase in phases[1:]:
        rate = phase.runs / phase.elapsed
        goal = f"{phase.label}: >= {TARGET_RUNS_PER_S:.0f} runs/s"
        target(goal, f"{rate:.1f} runs/s", rate >= TARGET_RUNS_PER_S)
    per_step = overhead / STEPS_PER_RUN * 1e3
    goal = f"engine overhead per step < {TARGET_OVERHEAD_MS:.0f} ms"
    target(goal, f"{per_step:.2f} ms", per_step < TARGET_OVERHEAD_MS)


def target(goal: str, measured: str, ok: bool) -> None:
    print(f"  {goal:<40} {measured:>14}  {'ok' if ok else 'MISSED'}")


# The retention scenario.


@dataclass(frozen=True)
class Sample:
    elapsed_s: float
    db_bytes: int
    wal_bytes: int
    free_pages: int
    runs: int
    running: int
    steps: int
    events: int
    queue: int

    @property
    def total_bytes(self) -> int:
        return self.db_bytes + self.wal_bytes


def sample(http: httpx.Client, db: Path, elapsed_s: float) -> Sample:
    """File sizes from the file system; row counts through a read-only connection."""
    wal = db.with_name(db.name + "-wal")
    uri = f"file:{db}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:

        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        conn.execute("BEGIN")  # one snapshot for all the counts
        counts = [
            one("PRAGMA freelist_count"),
            one("SELECT COUNT(*) FROM runs"),
            one("SELECT COUNT(*) FROM runs WHERE status = 'Running'"),
            one("SELECT COUNT(*) FROM steps"),
            one("SELECT COUNT(*) FROM events"),
        ]
        conn.execute("COMMIT")
    queue = int(http.get("/dev").json()["queue"])
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    return Sample(elapsed_s, db.stat().st_size, wal_bytes, *counts, queue)


def steady_load(http: httpx.Client, db: Path, args: argparse.Namespace) -> list[Sample]:
    """Send --rate events per second for --minutes, sampling the file every --sample-s."""
    tick_s, duration_s = 0.25, args.minutes * 60
    per_tick = max(1, round(args.rate * tick_s))
    samples: list[Sample] = []
    start = time.monotonic()
    next_tick = next_sample = start
    print(
        f"\n{'elapsed':>8} {'db+wal MB':>10} {'wal MB':>7} {'free pg':>8} {'runs':>7}"
        f" {'running':>8} {'steps':>7} {'events':>7} {'queue':>6}"
    )
    while True:
        now = time.monotonic()
        last = now - start >= duration_s
        if now >= next_sample or last:
            s = sample(http, db, now - start)
            samples.append(s)
            print(
                f"{s.elapsed_s:>7.0f}s {s.total_bytes / 1e6:>10.2f} {s.wal_bytes / 1e6:>7.2f}"
                f" {s.free_pages:>8} {s.runs:>7} {s.running:>8} {s.steps:>7} {s.events:>7}"
                f" {s.queue:>6}",
                flush=True,
            )
            next_sample += args.sample_s
        if last:
            return samples
        send(http, per_tick)
        next_tick += tick_s
        time.sleep(max(0.0, next_tick - time.monotonic()))


def report_retention(samples: list[Sample], rate: float) -> None:
    # Steady from one retention period plus one pass (a quarter period) plus a margin.
    settled = [s for s in samples if s.elapsed_s >= RETENTION_S * 1.5]
    if len(settled) < 2:
        print("\nToo short to see the steady state: run for at least 3 minutes.")
        return
    sizes = [s.total_bytes for s in settled]
    first, last = settled[0], settled[-1]
    growth = (last.total_bytes - first.total_bytes) / first.total_bytes
    print(
        f"\nAt {rate:g} runs/s with --retention {RETENTION}: after {first.elapsed_s:.0f} s the file"
        f" holds {min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB; from {first.elapsed_s:.0f} s"
        f" to {last.elapsed_s:.0f} s it went {first.total_bytes / 1e6:.2f} ->"
        f" {last.total_bytes / 1e6:.2f} MB ({growth:+.1%}); runs held"
        f" {min(s.runs for s in settled)}-{max(s.runs for s in settled)}."
    )
    target("file size flat once settled (<= +10%)", f"{growth:+.1%}", growth <= 0.10)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100, help="sequential runs (default 100)")
    parser.add_argument(
        "--burst",
        type=int,
        action="append",
        help="runs sent at once; repeatable (default: 200 and 1000; 0 = none)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=2.0,
        help="pause between polls of a sequential run (default 2)",
    )
    parser.add_argument(
        "--burst-poll-ms",
        type=float,
        default=50.0,
        help="pause between sweeps over a burst's runs (default 50; latencies come from"
        " ended_at, so this only rounds the throughput figure, and polling costs engine CPU)",
    )
    parser.add_argument(
        "--queue-workers", type=int, default=100, help="engine --queue-workers (default 100)"
    )
    parser.add_argument(
        "--engine-log-level",
        default="INFO",
        help="DOCS_INGEST_LOG_LEVEL of the engine (default INFO, as users run it)",
    )
    parser.add_argument(
        "--profile", type=Path, help="run the engine under cProfile and write the stats here"
    )
    parser.add_argument(
        "--retention",
        action="store_true",
        help=f"measure history retention instead: steady load, engine --retention {RETENTION}",
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="--retention: minutes of load (default 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=20.0, help="--retention: runs sent per second (default 20)"
    )
    parser.add_argument(
        "--sample-s", type=float, default=15.0, help="--retention: seconds between samples (15)"
    )
    parser.add_argument("--serve-app", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--engine-url", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve_app:
        serve_app(args.serve_app, args.engine_url)
        return
    poll_s = args.poll_ms / 1000
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        if args.retention:
            with (
                processes(args, Path(tmp)) as setup,
                httpx.Client(base_url=setup.engine_url, timeout=60) as http,
            ):
                samples = steady_load(http, Path(tmp) / "engine.db", args)
            report_retention(samples, args.rate)
            return
        with (
            processes(args, Path(tmp)) as setup,
            httpx.Client(base_url=setup.engine_url, timeout=60) as http,
            httpx.Client(base_url=setup.app_origin, timeout=10) as app,
        ):
            sequential(http, args.warmup, poll_s)
            phases = [measured(setup, app, lambda: sequential(http, args.runs, poll_s))]
            for count in [n for n in args.burst or [200, 1000] if n > 1]:
                phases.append(
                    measured(setup, app, lambda n=count: burst(http, n, args.burst_poll_ms / 1000))
                )
        report(phases, args.poll_ms)


if __name__ == "__main__":
    main()
