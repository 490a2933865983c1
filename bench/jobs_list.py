"""How fast `jobs.list` and `jobs.get` answer while many tabs poll, and what that costs Inngest.

Sets up, straight into a fresh SQLite database with bulk inserts: --repositories repositories
(half GitHub, half local), --history finished jobs (100,000; processed, skipped, failed, cancelled,
each with an Inngest event and run id, spread over a year), --running running jobs of 45 files
each (50), and one running job of --big-files files (2,000), half of them done. A fake Inngest
REST API (Starlette under uvicorn on a loopback port, in a thread of this process) answers
`GET /v1/runs/{id}` and `GET /v1/events/{id}/runs` after --latency-ms (50) and counts every call
by id. The service is `docs-ingest serve` in a subprocess, with INNGEST_DEV pointing at the fake,
so the router's live status asks the fake.

--pollers (20) pollers, each with its own HTTP client like a browser tab, do what the Jobs tab does
every --interval (3 s), each at its own random phase: both sections' `jobs.list` at once (Running
Jobs: queued + running, 25; Completed Jobs: the other statuses, 25); every other poller also has
the 2,000-file job's details open (`jobs.get`, its first 100 files). Three phases:

1. Inngest up, --duration (60 s): `jobs.list` p50/p95 (target p95 < 30 ms), `jobs.get` p95 (target
   < 50 ms), Inngest calls per cache window (target: at most one per unfinished job shown, none for
   finished jobs);
2. Inngest hung (it takes connections and never answers), --outage-duration (15 s);
3. Inngest down (its port closed), --outage-duration: `jobs.list` p95 (target: the same budget)
   and `live.stale` true on every Running Jobs answer.
An outage phase starts one cache window after the change, so that every job's answer has expired;
answers say stale once the service has seen a call fail (when hung: one timeout after the first
poll; until then the service gives the last answer while its refresh waits).

Run with `.venv/bin/python bench/jobs_list.py` (about two minutes; --duration 10 for a quick
look). Not a test: nothing imports it.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
import uvicorn
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from router.live import TTL_S
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import (
    FileAction,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    Provider,
)
from service.repositories import connect, ensure_org
from service.settings import Settings
from service.tokens import issue_token

TARGET_LIST_P95_MS = 30.0
TARGET_GET_P95_MS = 50.0
RUNNING_FILES = 45
HISTORY_RUN_PREFIX = "01HISTORY"
LIVE_RUN_PREFIX = "01LIVE"
RUNNING_SECTION = {"status": ["queued", "running"], "limit": 25}
COMPLETED_SECTION = {"status": ["processed", "skipped", "failed", "cancelled"], "limit": 25}
HISTORY_MIX = (  # finished statuses, by weight
    (IngestionStatus.PROCESSED, 85),
    (IngestionStatus.SKIPPED, 5),
    (IngestionStatus.FAILED, 7),
    (IngestionStatus.CANCELLED, 3),
)
LIST_RUNNING, LIST_COMPLETED, GET_BIG = "jobs.list running", "jobs.list completed", "jobs.get"
RUNNING_NOW = col(IngestionCommit.status) == IngestionStatus.RUNNING


# --- the database ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    token: str
    big_job_id: int
    unfinished: int


def seed(settings: Settings, args: argparse.Namespace, rng: random.Random) -> Seeded:
    migrate(settings.sqlalchemy_url)
    db = create_db_engine(settings.sqlalchemy_url)
    try:
        with session_scope(db) as session:
            repositories = []
            for number in range(args.repositories):
                github = number % 2 == 0
                row = connect(
                    session,
                    provider=Provider.GITHUB if github else Provider.LOCAL,
                    full_name=f"acme/docs-{number:02d}",
                    external_id=str(1000 + number) if github else f"local-{number}",
                    default_branch="main",
                    embedder=LocalEmbedder(),
                    local_path=None if github else Path(f"/srv/docs-{number:02d}"),
                )
                repositories.append(
                    {
                        "organization_id": row.organization_id,
                        "repository_id": row.id,
                        "store_id": row.store_id,
                    }
                )
            token = issue_token(session, ensure_org(session, "default"), name="bench").token
        now = datetime.now(UTC)
        with session_scope(db) as session:
            session.execute(
                sa.insert(IngestionCommit), history(args.history, repositories, now, rng)
            )
            running = running_jobs(args.running + 1, repositories, now, rng)
            running[0]["files_total"] = args.big_files  # the oldest running job is the big one
            session.execute(sa.insert(IngestionCommit), running)
            ids = [
                job_id
                for job_id in session.scalars(
                    sa.select(IngestionCommit.id).where(RUNNING_NOW)
                ).all()
                if job_id is not None
            ]
            big_job_id = min(ids)
            files = [
                file
                for job_id in ids
                for file in job_files(job_id, args.big_files if job_id == big_job_id else None, now)
            ]
            session.execute(sa.insert(IngestionFile), files)
            counts_from_files(session)
    finally:
        db.dispose()
    return Seeded(token, big_job_id, args.running + 1)


def history(
    count: int, repositories: Sequence[dict[str, Any]], now: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    statuses = [status for status, _ in HISTORY_MIX]
    weights = [weight for _, weight in HISTORY_MIX]
    rows = []
    for n in range(count):
        created = now - timedelta(days=365) + timedelta(seconds=n * 365 * 86400 / count)
        status = rng.choices(statuses, weights)[0]
        total = rng.randint(1, 60)
        failed = rng.randint(1, 3) if status is IngestionStatus.FAILED else 0
        rows.append(
            {
                **repositories[n % len(repositories)],
                **job_row(n, created, status, HISTORY_RUN_PREFIX, rng),
                "files_total": total,
                "files_processed": total - failed,
                "files_failed": failed,
                "error_message": "3 files failed: cannot be decoded" if failed else None,
                "processed_at": created + timedelta(seconds=rng.uniform(2, 90)),
            }
        )
    return rows


def running_jobs(
    count: int, repositories: Sequence[dict[str, Any]], now: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    return [
        {
            **repositories[n % len(repositories)],
            **job_row(
                n,
                now - timedelta(minutes=10) + timedelta(seconds=n),
                IngestionStatus.RUNNING,
                LIVE_RUN_PREFIX,
                rng,
            ),
            "files_total": RUNNING_FILES,
        }
        for n in range(count)
    ]


def job_row(
    n: int,
    created: datetime,
    status: IngestionStatus,
    run_prefix: str,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "delivery_id": f"{run_prefix}-delivery-{n}",
        "before_sha": rng.randbytes(20).hex(),
        "after_sha": rng.randbytes(20).hex(),
        "ref": "refs/heads/main",
        "trigger": IngestionTrigger.PUSH,
        "event_id": f"{run_prefix}EV{n:015d}",
        "run_id": f"{run_prefix}{n:017d}",
        "status": status,
        "created_at": created,
        "started_at": created + timedelta(seconds=0.2),
        "planned_at": created + timedelta(seconds=0.5),
    }


def job_files(job_id: int, count: int | None, now: datetime) -> list[dict[str, Any]]:
    """A running job's files: the first half done (a few failed or skipped), the rest pending."""
    count = count or RUNNING_FILES
    files = []
    for n in range(count):
        done = n < count // 2
        status = FileStatus.PENDING
        if done:
            status = {7: FileStatus.FAILED, 11: FileStatus.SKIPPED}.get(
                n % 50, FileStatus.PROCESSED
            )
        files.append(
            {
                "ingestion_id": job_id,
                "path": f"docs/section-{n % 40:02d}/page-{n:04d}.md",
                "action": FileAction.PROCESS,
                "status": status,
                "chunks": 4 if status is FileStatus.PROCESSED else 0,
                "error": "cannot be decoded as UTF-8" if status is FileStatus.FAILED else None,
                "started_at": now - timedelta(seconds=60) if done else None,
                "finished_at": now - timedelta(seconds=59) if done else None,
            }
        )
    return files


def counts_from_files(session: Any) -> None:
    """The running jobs' counters, recounted from their file rows as the service keeps them."""
    file = IngestionFile.__table__
    for column, status in (
        ("files_processed", FileStatus.PROCESSED),
        ("files_failed", FileStatus.FAILED),
        ("files_skipped", FileStatus.SKIPPED),
    ):
        counted = (
            sa.select(sa.func.count())
            .where(file.c.ingestion_id == IngestionCommit.id, file.c.status == status)
            .scalar_subquery()
        )
        session.execute(sa.update(IngestionCommit).where(RUNNING_NOW).values({column: counted}))


# --- the fake Inngest -----------------------------------------------------------------------------


class FakeInngest:
    """Inngest's REST v1 runs API, in which every run is Running; counts the calls by id."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()
        self.hung = False
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/v1/runs/{id}", self.run, methods=["GET"]),
                Route("/v1/events/{id}/runs", self.event_runs, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the fake Inngest API")

    async def run(self, request: Request) -> JSONResponse:
        run_id = request.path_params["id"]
        await self.answer(run_id)
        return envelope(run_json(run_id, f"event-of-{run_id}"))

    async def event_runs(self, request: Request) -> JSONResponse:
        event_id = request.path_params["id"]
        await self.answer(event_id)
        return envelope([run_json(f"run-of-{event_id}", event_id)])

    async def answer(self, what: str) -> None:
        self.calls[what] += 1
        await asyncio.sleep(self.latency_s)
        # Polled, not an asyncio.Event: the flag is flipped from another thread.
        while self.hung:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self.hung = False
        self.server.should_exit = True
        self.thread.join(10)


def run_json(run_id: str, event_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "run_started_at": "2026-11-30T02:03:04.123Z",
        "function_id": "00000000-0000-4000-8000-000000000001",
        "function_version": 1,
        "environment_id": "00000000-0000-0000-0000-000000000000",
        "event_id": event_id,
        "status": "Running",
        "ended_at": None,
    }


def envelope(data: Any) -> JSONResponse:
    fetched = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return JSONResponse({"data": data, "metadata": {"fetched_at": fetched, "cached_until": None}})


# --- the service ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def clean_environment() -> dict[str, str]:
    """This process's environment without settings that would point the service elsewhere."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCS_INGEST_", "INNGEST_", "OPENAI_", "QDRANT_"))
        and key != "DATABASE_URL"
    }


def start_service(env: dict[str, str], log: Path, url: str) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "docs-ingest"), "serve"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env={**clean_environment(), **env}, stdout=out, stderr=subprocess.STDOUT
        )
    wait_until(lambda: httpx.get(f"{url}/health").is_success, "docs-ingest serve")
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process; Linux only."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


# --- the pollers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: str
    seconds: float
    ok: bool
    stale: bool | None  # live.stale of a jobs.list answer
    error: str | None = None


class Tab:
    """One browser tab's connections: a keep-alive HTTP/1.1 connection per kind of call, on bare
    asyncio streams. 20 httpx clients cost this process more CPU than the service spends on the
    answers, on the same two cores (see bench/ingest.py's acks), which would time the client."""

    def __init__(self, url: str, token: str) -> None:
        self.url = httpx.URL(url)
        self.token = token
        self.connections: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def get(self, kind: str, path: str) -> tuple[int, bytes]:
        if kind not in self.connections:
            self.connections[kind] = await asyncio.open_connection(self.url.host, self.url.port)
        reader, writer = self.connections[kind]
        head = [
            f"GET {path} HTTP/1.1",
            f"host: {self.url.host}:{self.url.port}",
            f"authorization: Bearer {self.token}",
            "",
            "",
        ]
        writer.write("\r\n".join(head).encode())
        answer = await reader.readuntil(b"\r\n\r\n")
        status_line, *fields = answer.decode("latin-1").split("\r\n")
        named = dict(field.lower().split(":", 1) for field in fields if ":" in field)
        body = await reader.readexactly(int(named["content-length"]))
        return int(status_line.split(" ", 2)[1]), body

    async def aclose(self) -> None:
        for _, writer in self.connections.values():
            writer.close()


async def poll_phase(
    url: str,
    seeded: Seeded,
    args: argparse.Namespace,
    duration: float,
    on_start: Callable[[], None],
) -> list[Sample]:
    """Every poller ticks every --interval at its own phase until `duration` is over;
    `on_start` runs once the untimed first tick is done."""
    rng = random.Random(args.seed)
    samples: list[Sample] = []
    tabs = [Tab(url, seeded.token) for _ in range(args.pollers)]
    try:
        # One untimed tick each: connections open, and the service has run every code path once.
        await asyncio.gather(*(tick(tab, n, seeded, []) for n, tab in enumerate(tabs)))
        on_start()
        start = time.monotonic()
        end = start + duration
        await asyncio.gather(
            *(
                poller(tab, n, seeded, start + rng.uniform(0, args.interval), end, args, samples)
                for n, tab in enumerate(tabs)
            )
        )
    finally:
        await asyncio.gather(*(tab.aclose() for tab in tabs))
    return samples


async def poller(
    tab: Tab,
    number: int,
    seeded: Seeded,
    first: float,
    end: float,
    args: argparse.Namespace,
    samples: list[Sample],
) -> None:
    at = first
    while at < end:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await tick(tab, number, seeded, samples)
        at += args.interval


async def tick(tab: Tab, number: int, seeded: Seeded, samples: list[Sample]) -> None:
    """What one Jobs tab asks in one poll."""
    calls = [
        timed(tab, LIST_RUNNING, "jobs.list", RUNNING_SECTION),
        timed(tab, LIST_COMPLETED, "jobs.list", COMPLETED_SECTION),
    ]
    if number % 2:
        calls.append(timed(tab, GET_BIG, "jobs.get", {"id": seeded.big_job_id}))
    samples.extend(await asyncio.gather(*calls))


async def timed(tab: Tab, kind: str, procedure: str, input: dict[str, Any]) -> Sample:
    path = f"/api/trpc/{procedure}?" + urlencode({"input": json.dumps(input)})
    start = time.perf_counter()
    try:
        status, body = await tab.get(kind, path)
    except (OSError, asyncio.IncompleteReadError, KeyError, ValueError) as exc:
        tab.connections.pop(kind, None)
        return Sample(kind, time.perf_counter() - start, False, None, f"{kind}: {exc!r}")
    seconds = time.perf_counter() - start
    if status != 200:
        return Sample(kind, seconds, False, None, f"{kind}: {status} {body[:300]!r}")
    live = json.loads(body)["result"]["data"].get("live") or {}
    return Sample(kind, seconds, True, live.get("stale"))


# --- the report -----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(fraction * 100) - 1]


def ms(samples: list[Sample], kinds: Sequence[str], fraction: float) -> float:
    times = [s.seconds for s in samples if s.kind in kinds and s.ok]
    return percentile(times, fraction) * 1e3 if times else float("nan")


def latency_rows(phase: str, samples: list[Sample], cpu: float, duration: float) -> list[str]:
    lists = (LIST_RUNNING, LIST_COMPLETED)
    failed = sum(not s.ok for s in samples)
    running = [s for s in samples if s.kind == LIST_RUNNING and s.ok]
    stale = sum(bool(s.stale) for s in running)
    return [
        phase,
        str(len(samples)),
        str(failed),
        f"{ms(samples, lists, 0.5):.1f}",
        f"{ms(samples, lists, 0.95):.1f}",
        f"{ms(samples, [LIST_RUNNING], 0.5):.1f}",
        f"{ms(samples, [LIST_RUNNING], 0.95):.1f}",
        f"{ms(samples, [LIST_COMPLETED], 0.5):.1f}",
        f"{ms(samples, [LIST_COMPLETED], 0.95):.1f}",
        f"{ms(samples, [GET_BIG], 0.5):.1f}",
        f"{ms(samples, [GET_BIG], 0.95):.1f}",
        f"{stale}/{len(running)}",
        f"{100 * cpu / duration:.0f} %",
    ]


def table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  " + "  ".join(cells))


def target(goal: str, measured: str, ok: bool) -> None:
    print(f"  {goal:<58} {measured:>18}  {'ok' if ok else 'MISSED'}")


# --- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--history", type=int, default=100_000, help="finished jobs in the table (100000)")
    add("--running", type=int, default=50, help="running jobs of 45 files (50)")
    add("--big-files", type=int, default=2000, help="files of the big running job (2000)")
    add("--repositories", type=int, default=10, help="repositories the jobs belong to (10)")
    add("--latency-ms", type=float, default=50.0, help="fake Inngest time per call (50)")
    add("--pollers", type=int, default=20, help="polling tabs (20)")
    add("--interval", type=float, default=3.0, help="seconds between a tab's polls (3)")
    add("--duration", type=float, default=60.0, help="seconds of polling, Inngest up (60)")
    add("--outage-duration", type=float, default=15.0, help="seconds per outage phase (15)")
    add("--seed", type=int, default=11, help="seed of the generated rows and phases (11)")
    add("--keep", action="store_true", help="keep the work folder (database, service log)")
    args = parser.parse_args()
    for name in ("history", "running", "big_files", "repositories", "pollers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobs-list-bench-"))
    try:
        run(args, workdir)
    finally:
        if args.keep:
            print(f"\nwork folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    fake = FakeInngest(args.latency_ms / 1000)
    port = free_port()
    env = {
        "DOCS_INGEST_DATA_DIR": str(workdir / "data"),
        "DOCS_INGEST_PORT": str(port),
        "DOCS_INGEST_LOG_LEVEL": "WARNING",
        "INNGEST_DEV": fake.url,
    }
    values: dict[str, Any] = {"_env_file": None, **env}
    settings = Settings(**values)
    url = settings.app_url
    started = time.perf_counter()
    seeded = seed(settings, args, random.Random(args.seed))
    files = args.running * RUNNING_FILES + args.big_files
    print(
        f"table: {args.history:,} finished jobs, {seeded.unfinished} running "
        f"({files:,} file rows) in {time.perf_counter() - started:.1f} s"
    )
    service = start_service(env, workdir / "serve.log", url)
    phases: list[tuple[str, list[Sample], float, float]] = []
    calls: Counter[str] = Counter()
    cpu_marks: list[float] = []

    def start_measuring() -> None:
        fake.calls.clear()
        cpu_marks.append(cpu_seconds(service.pid))

    try:
        for phase, duration in (
            ("Inngest up", args.duration),
            ("Inngest hung", args.outage_duration),
            ("Inngest down", args.outage_duration),
        ):
            if phase == "Inngest hung":
                fake.hung = True
                time.sleep(TTL_S + 0.5)
            elif phase == "Inngest down":
                fake.stop()
                time.sleep(TTL_S + 0.5)
            samples = asyncio.run(poll_phase(url, seeded, args, duration, start_measuring))
            cpu = cpu_seconds(service.pid) - cpu_marks[-1]
            phases.append((phase, samples, cpu, duration))
            if phase == "Inngest up":
                calls = Counter(fake.calls)
            print(f"{phase}: {len(samples)} calls in {duration:.0f} s", flush=True)
    finally:
        fake.stop()
        service.send_signal(signal.SIGINT)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    report(args, seeded, phases, calls)


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    phases: list[tuple[str, list[Sample], float, float]],
    calls: Counter[str],
) -> None:
    print(
        f"\n{args.pollers} pollers every {args.interval:.0f} s; fake Inngest "
        f"{args.latency_ms:.0f} ms per call; live-status cache window {TTL_S:.0f} s"
    )
    header = ["phase", "calls", "failed", "list p50", "list p95", "running p50", "running p95"]
    header += ["completed p50", "completed p95"]
    header += ["get p50", "get p95", "stale answers", "service CPU"]
    table([header] + [latency_rows(*phase) for phase in phases])
    print(
        "  (ms; `list` = both sections' jobs.list, `running` / `completed` = one section's;"
        " `stale answers` = Running Jobs answers)"
    )

    up_samples, up_duration = phases[0][1], phases[0][3]
    windows = up_duration / TTL_S
    finished_calls = sum(n for key, n in calls.items() if key.startswith(HISTORY_RUN_PREFIX))
    busiest = max(calls.values(), default=0)
    print(
        f"\nInngest calls, Inngest up: {calls.total()} for {len(calls)} jobs in {windows:.0f} "
        f"cache windows = {calls.total() / windows:.1f} per window; the most for one job: "
        f"{busiest} ({busiest / windows:.2f} per window); for finished jobs: {finished_calls}"
    )
    print(f"  ({seeded.unfinished} jobs unfinished; the pages polled show {len(calls)} of them)")

    list_p95 = ms(up_samples, (LIST_RUNNING, LIST_COMPLETED), 0.95)
    get_p95 = ms(up_samples, [GET_BIG], 0.95)
    down_samples = phases[2][1]
    down_p95 = ms(down_samples, (LIST_RUNNING, LIST_COMPLETED), 0.95)
    down_running = [s for s in down_samples if s.kind == LIST_RUNNING]
    all_stale = bool(down_running) and all(s.ok and s.stale for s in down_running)
    failures = sum(not s.ok for _, samples, _, _ in phases for s in samples)
    print("\nTargets")
    target(
        f"jobs.list p95 < {TARGET_LIST_P95_MS:.0f} ms",
        f"{list_p95:.1f} ms",
        list_p95 < TARGET_LIST_P95_MS,
    )
    target(
        f"jobs.get (2,000 files) p95 < {TARGET_GET_P95_MS:.0f} ms",
        f"{get_p95:.1f} ms",
        get_p95 < TARGET_GET_P95_MS,
    )
    target(
        "Inngest calls: <= 1 per unfinished job per window",
        f"{busiest / windows:.2f}",
        busiest <= windows + 1,  # a window starts at the first call after the previous one ends
    )
    target("Inngest calls for finished jobs: none", str(finished_calls), finished_calls == 0)
    target(
        f"jobs.list p95, Inngest down < {TARGET_LIST_P95_MS:.0f} ms",
        f"{down_p95:.1f} ms",
        down_p95 < TARGET_LIST_P95_MS,
    )
    target("Inngest down: every Running Jobs answer stale", str(all_stale).lower(), all_stale)
    target("no failed calls", str(failures), failures == 0)
    errors = Counter(s.error for _, samples, _, _ in phases for s in samples if s.error)
    for error, count in errors.most_common(3):
        print(f"  {count} x {error}")


if __name__ == "__main__":
    main()
