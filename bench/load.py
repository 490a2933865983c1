"""Load: many small repositories pushed at once through the webhook, to the last point in Qdrant.

--jobs real git repositories of --files markdown pages each (bench/ingest.py's generated pages,
1-4 KB, a few chunks each) are made in a temporary folder and connected to a fresh
`docs-ingest serve` (embedded engine, Qdrant Edge, the app database in SQLite or, with
--database-url, in a fresh PostgreSQL database), which embeds through the fake OpenAI-compatible
server (bench/fake_embeddings.py, --latency-ms a request). Then one signed push delivery per
repository, exactly as GitHub sends it (`cli.pushes.push_payload`), all at once, at most
--concurrency in flight, each on a new connection (after a few pushes to another branch, which
make no job, have warmed the webhook up). Printed:

- the webhook's answers: how many were 2xx, p50/p99/max ack time (client-side, connection
  included);
- jobs/s = jobs / (last job's end - first send), and job latency p50/p95/max: from the delivery's
  ack to its job row's `processed_at`;
- the engine's queued SDK calls over time (`docs_ingest_engine_queued_calls` of its /metrics,
  scraped every second, shown every --series-every seconds: ready, in flight, delayed, parked)
  beside the engine's running runs and the jobs finished by then, and the peaks;
- peak resident memory of the app and of the engine (bench/serve_probe.py);
- what the fake server embedded, and the engine's retries and failed SDK calls.

Then `serve` is stopped (Qdrant Edge flushes) and checked: every job ended `processed` with all
its files processed and none failed, each repository's points in Qdrant equal its expected
chunks (the service's chunker, `service.indexing.chunk_text`, over the files as committed), and
the collection holds exactly their sum. Any mismatch is printed and the exit status is 1.

--rounds N repeats the run on the same repositories, each with a fresh `serve`, data folder and
database, and shows every round with the median. Every process it starts (the fake server,
`serve` and the engine under it) is stopped, and every database it made dropped, on Ctrl-C or a
failure too. Run with `.venv/bin/python bench/load.py`; start small (--jobs 50). Not a test.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from ingest import chunked, make_repository, percentile, table
from processes import FAKE_API_KEY, EmbedStats, FakeEmbeddings, Serve, free_port, model_of, post
from prometheus_client.parser import text_string_to_metric_families
from serve_probe import PeakRss, Peaks
from sqlalchemy import create_engine, func
from sqlalchemy.engine import make_url
from sqlmodel import select

from cli.pushes import head_of, push_payload
from service.config import RepoConfig
from service.db import create_db_engine, database_url, migrate, session_scope
from service.embeddings import Embedder
from service.models import IngestionCommit, IngestionStatus, Provider, Store
from service.repositories import connect, local_external_id
from service.settings import OPENAI_FILE_CONCURRENCY, Settings
from service.vectors import EdgeVectorStore
from web.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_of

BRANCH = "main"
OTHER_BRANCH = "bench-other"
WARM_UP = 5  # deliveries
NAME_PREFIX = "bench-load-"
QUEUE_STATES = ("ready", "in_flight", "delayed", "parked")
QUEUED_CALLS = "docs_ingest_engine_queued_calls"
ENGINE_RUNS = "docs_ingest_engine_runs"
RUN_RUNNING = "Running"  # engine.consts.RunStatus.RUNNING (bench/engine.py hides the package here)
ENGINE_RETRIES = "docs_ingest_engine_retries_total"
ENGINE_CALL_ERRORS = "docs_ingest_engine_call_errors_total"
TERMINAL = {
    IngestionStatus.PROCESSED,
    IngestionStatus.SKIPPED,
    IngestionStatus.FAILED,
    IngestionStatus.CANCELLED,
}
SCRAPE_EVERY_S = 1.0
POLL_S = 1.0
ACK_TIMEOUT_S = 30.0
MAKERS = 8  # threads making repositories: each waits on git processes
SHOWN_PROBLEMS = 20
MB = 1024 * 1024
NAN = float("nan")


# --- the repositories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    name: str  # its full name, and the `repository` of its points
    path: Path
    payload: dict[str, Any]  # the push of its branch, as GitHub would send it
    expected_points: int


def make_repositories(
    root: Path, count: int, files: int, seed: int, embedder: Embedder
) -> list[Repository]:
    """`count` committed repositories of `files` pages each, made a few at a time."""
    config = RepoConfig()  # they have no lightfast.yml

    def make(number: int) -> Repository:
        name = f"{NAME_PREFIX}{number:04d}"
        path = root / name
        paths = make_repository(path, files, seed + number)
        payload = push_payload(
            path,
            branch=BRANCH,
            before=None,
            after=head_of(path, BRANCH),
            repository_id=local_external_id(path),
            full_name=name,
        )
        expected = sum(
            len(chunked((path / relative).read_text(), embedder, config).chunks)
            for relative in paths
        )
        return Repository(name, path, payload, expected)

    with ThreadPoolExecutor(MAKERS) as pool:
        return list(pool.map(make, range(count)))


# --- the app database ---------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server_url: str | None, name: str) -> Iterator[str | None]:
    """A new PostgreSQL database `name` on the server of `server_url`, dropped afterwards; None
    (the app's SQLite file in the data folder) without a server."""
    if server_url is None:
        yield None
        return
    admin = create_engine(database_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def connect_all(
    settings: Settings, repositories: Sequence[Repository], embedder: Embedder
) -> tuple[list[str], str]:
    """Migrate the fresh database and connect every repository: their webhook secrets, in
    order, and the collection of their store."""
    migrate(settings.sqlalchemy_url)
    db = create_db_engine(settings.sqlalchemy_url)
    try:
        with session_scope(db) as session:
            rows = [
                connect(
                    session,
                    provider=Provider.LOCAL,
                    full_name=repository.name,
                    external_id=local_external_id(repository.path),
                    default_branch=BRANCH,
                    embedder=embedder,
                    local_path=repository.path,
                )
                for repository in repositories
            ]
            secrets = [row.webhook_secret for row in rows]
            store = session.get(Store, rows[0].store_id)
            assert store is not None
            collection = store.collection
    finally:
        db.dispose()
    return secrets, collection


# --- the engine's queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSample:
    at: float  # time.time()
    queued: dict[str, int]  # state -> SDK calls
    running: int  # the engine's runs in status Running


def engine_figures(text: str) -> dict[str, dict[tuple[str, ...], float]]:
    """Each sample of the engine's /metrics: name -> (label values) -> value."""
    figures: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sample.labels.values())
            figures.setdefault(sample.name, {})[labels] = sample.value
    return figures


class QueueSampler:
    """Scrapes the engine's /metrics every SCRAPE_EVERY_S in a thread while the `with` runs."""

    def __init__(self, engine_url: str) -> None:
        self.http = httpx.Client(base_url=engine_url, timeout=5)
        self.samples: list[QueueSample] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="queue-sampler", daemon=True)

    def __enter__(self) -> "QueueSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.http.close()

    def _sample(self) -> None:
        """Scrape until stopped, and once more then: the queue as the run ends."""
        while True:
            try:
                figures = engine_figures(self.http.get("/metrics").text)
            except (httpx.HTTPError, ValueError):
                self.failures += 1
            else:
                queued = figures.get(QUEUED_CALLS, {})
                self.samples.append(
                    QueueSample(
                        time.time(),
                        {state: int(queued.get((state,), 0)) for state in QUEUE_STATES},
                        int(figures.get(ENGINE_RUNS, {}).get((RUN_RUNNING,), 0)),
                    )
                )
            if self._stop.is_set():
                return
            self._stop.wait(SCRAPE_EVERY_S)


def engine_counters(engine_url: str) -> tuple[int, Counter[str]] | None:
    """The engine's retries, and its failed SDK calls by kind, since it started; None when it
    does not answer (it stopped with `serve`)."""
    try:
        figures = engine_figures(httpx.get(f"{engine_url}/metrics", timeout=10).text)
    except httpx.HTTPError:
        return None
    retries = int(sum(figures.get(ENGINE_RETRIES, {}).values()))
    errors: Counter[str] = Counter()
    for (_, kind), value in figures.get(ENGINE_CALL_ERRORS, {}).items():
        errors[kind] += int(value)
    return retries, errors


# --- one round ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    delivery: str
    status: int | None  # None: no answer
    seconds: float
    acked_at: float  # time.time()
    problem: str  # what went wrong; "" for a 2xx


@dataclass(frozen=True)
class Job:
    status: IngestionStatus
    files_processed: int
    files_failed: int
    error: str | None
    finished_at: float | None  # time.time() of `processed_at`


@dataclass
class Round:
    first_sent: float
    acks: list[Ack]
    jobs: dict[str, Job]  # by delivery id
    samples: list[QueueSample]
    rss: Peaks
    embed: EmbedStats
    engine: tuple[int, Counter[str]] | None  # retries, failed SDK calls by kind
    scrape_failures: int
    points: dict[str, int]  # by repository name
    total_points: int
    stuck: str | None  # why the wait for the jobs ended early
    problems: list[str] = field(default_factory=list)

    def ack_times(self) -> list[float]:
        return [ack.seconds for ack in self.acks if not ack.problem]

    def latencies(self) -> list[float]:
        acked = {ack.delivery: ack.acked_at for ack in self.acks if not ack.problem}
        return [
            job.finished_at - acked[delivery]
            for delivery, job in self.jobs.items()
            if job.finished_at is not None and delivery in acked
        ]

    def last_finish(self) -> float | None:
        ends = [job.finished_at for job in self.jobs.values() if job.finished_at is not None]
        return max(ends) if ends else None

    def jobs_per_s(self) -> float:
        last = self.last_finish()
        finished = sum(1 for job in self.jobs.values() if job.finished_at is not None)
        return finished / (last - self.first_sent) if last else NAN


async def deliver_all(
    app_url: str, deliveries: Sequence[tuple[str, bytes, dict[str, str]]], concurrency: int
) -> list[Ack]:
    """Every delivery at once, at most `concurrency` connections open."""
    slots = asyncio.Semaphore(concurrency)

    async def deliver(delivery: str, body: bytes, headers: dict[str, str]) -> Ack:
        async with slots:
            start = time.perf_counter()
            try:
                status, seconds, answer = await asyncio.wait_for(
                    post(app_url, body, headers), ACK_TIMEOUT_S
                )
            except TimeoutError:
                problem = f"no answer in {ACK_TIMEOUT_S:.0f} s"
                return Ack(delivery, None, time.perf_counter() - start, time.time(), problem)
            except (OSError, asyncio.IncompleteReadError, KeyError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                return Ack(delivery, None, time.perf_counter() - start, time.time(), problem)
        return Ack(delivery, status, seconds, time.time(), answer_problem(status, answer))

    return await asyncio.gather(*(deliver(*one) for one in deliveries))


def answer_problem(status: int, answer: bytes) -> str:
    """What is wrong with the webhook's answer to a push of the ingested branch ("" if none)."""
    text = answer.decode(errors="replace")
    if not 200 <= status < 300:
        return f"HTTP {status}: {text}"
    with contextlib.suppress(ValueError):
        if "job_id" in json.loads(text):
            return ""
    return f"HTTP {status} without a job: {text}"


def signed_deliveries(
    repositories: Sequence[Repository], secrets: Sequence[str], branch: str = BRANCH
) -> list[tuple[str, bytes, dict[str, str]]]:
    """A signed delivery of each repository's push, to `branch`."""
    deliveries = []
    for repository, secret in zip(repositories, secrets, strict=True):
        body = json.dumps({**repository.payload, "ref": f"refs/heads/{branch}"}).encode()
        delivery = str(uuid.uuid4())
        headers = {
            "content-type": "application/json",
            EVENT_HEADER: "push",
            DELIVERY_HEADER: delivery,
            SIGNATURE_HEADER: signature_of(secret, body),
        }
        deliveries.append((delivery, body, headers))
    return deliveries


def wait_for_jobs(serve: Serve, expected: int, args: argparse.Namespace) -> str | None:
    """Poll the job rows until `expected` of them are terminal; why it stopped early, if so."""
    start = time.monotonic()
    last_progress, finished = start, -1
    while True:
        with serve.session() as session:
            counts = dict(
                session.exec(
                    select(IngestionCommit.status, func.count()).group_by(IngestionCommit.status)
                ).all()
            )
        now_finished = sum(count for status, count in counts.items() if status in TERMINAL)
        if now_finished >= expected:
            return None
        now = time.monotonic()
        if now_finished != finished:
            finished, last_progress = now_finished, now
        waiting = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        if serve.process.poll() is not None:
            return f"docs-ingest serve exited ({serve.process.returncode}) with jobs {waiting}"
        if now - last_progress > args.stall_s:
            return f"no job finished in {args.stall_s:.0f} s; jobs: {waiting}"
        if now - start > args.timeout_s:
            return f"not all jobs finished in {args.timeout_s:.0f} s; jobs: {waiting}"
        time.sleep(POLL_S)


def read_jobs(serve: Serve) -> dict[str, Job]:
    with serve.session() as session:
        rows = session.exec(select(IngestionCommit)).all()
        return {
            row.delivery_id: Job(
                row.status,
                row.files_processed,
                row.files_failed,
                row.error_message,
                row.processed_at.timestamp() if row.processed_at is not None else None,
            )
            for row in rows
        }


async def count_points(
    qdrant: Path, collection: str, names: Sequence[str]
) -> tuple[dict[str, int], int]:
    """Each repository's points, and the collection's, read from the stopped service's shards."""
    vectors = EdgeVectorStore(qdrant)
    try:
        counts = await asyncio.gather(
            *(vectors.count(collection, repository=name) for name in names)
        )
        total = await vectors.count(collection)
    finally:
        await vectors.close()
    return dict(zip(names, counts, strict=True)), total


def service_env(
    data: Path, fake: FakeEmbeddings, db_url: str | None, args: argparse.Namespace
) -> dict[str, str]:
    env = {
        "DOCS_INGEST_DATA_DIR": str(data),
        "DOCS_INGEST_PORT": str(free_port()),
        "DOCS_INGEST_ENGINE_PORT": str(free_port()),
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": FAKE_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
    }
    if db_url is not None:
        env["DATABASE_URL"] = db_url
    if args.file_concurrency is not None:
        env["DOCS_INGEST_FILE_CONCURRENCY"] = str(args.file_concurrency)
    if args.requests is not None:
        env["DOCS_INGEST_EMBEDDING_REQUESTS"] = str(args.requests)
    return env


def run_round(
    number: int,
    workdir: Path,
    repositories: Sequence[Repository],
    fake: FakeEmbeddings,
    args: argparse.Namespace,
) -> Round:
    round_dir = workdir / f"round-{number}"
    round_dir.mkdir()
    database = f"{args.database_prefix}_{os.getpid()}_{number}"
    with fresh_database(args.database_url, database) as db_url:
        env = service_env(round_dir / "data", fake, db_url, args)
        # No .env file: the settings are exactly `env`, here and in `serve`.
        values: dict[str, Any] = {"_env_file": None, **env}
        settings = Settings(**values)
        embedder = model_of(fake)
        secrets, collection = connect_all(settings, repositories, embedder)
        deliveries = signed_deliveries(repositories, secrets)
        fake.reset()
        serve = Serve(round_dir, env, settings)
        try:
            # Pushes to another branch (answered without a job) open the webhook's code paths
            # and pools, so that the first real deliveries do not pay for that.
            warm_up = signed_deliveries(repositories[:WARM_UP], secrets[:WARM_UP], OTHER_BRANCH)
            for ack in asyncio.run(deliver_all(settings.app_url, warm_up, args.concurrency)):
                if ack.status != 202:
                    raise SystemExit(f"a warm-up delivery was answered {ack.problem}")
            with PeakRss(serve.process.pid) as rss, QueueSampler(settings.engine_url) as queue:
                first_sent = time.time()
                acks = asyncio.run(deliver_all(settings.app_url, deliveries, args.concurrency))
                jobs_made = sum(1 for ack in acks if not ack.problem)
                stuck = wait_for_jobs(serve, jobs_made, args)
            jobs = read_jobs(serve)
            embed = fake.stats()
            engine = engine_counters(settings.engine_url)
        finally:
            serve.stop()
        names = [repository.name for repository in repositories]
        points, total = asyncio.run(count_points(settings.qdrant_path, collection, names))
    result = Round(
        first_sent,
        acks,
        jobs,
        queue.samples,
        rss.peaks,
        embed,
        engine,
        queue.failures,
        points,
        total,
        stuck,
    )
    result.problems = check(result, repositories, deliveries, args.files)
    if args.keep:
        print(f"round {number} logs: {round_dir}/serve-1.log", flush=True)
    return result


def check(
    result: Round,
    repositories: Sequence[Repository],
    deliveries: Sequence[tuple[str, bytes, dict[str, str]]],
    files: int,
) -> list[str]:
    """Everything that is not as it must be: acks, jobs, point counts."""
    problems = []
    if result.stuck:
        problems.append(result.stuck)
    acks = {ack.delivery: ack for ack in result.acks}
    for repository, (delivery, *_) in zip(repositories, deliveries, strict=True):
        name, ack, job = repository.name, acks[delivery], result.jobs.get(delivery)
        if ack.problem:
            problems.append(f"{name}: webhook {ack.problem}")
        if job is None:
            if not ack.problem:
                problems.append(f"{name}: acked, but no job row for delivery {delivery}")
        elif job.status is not IngestionStatus.PROCESSED:
            problems.append(f"{name}: job {job.status}: {job.error or '-'}")
        elif job.files_processed != files or job.files_failed:
            problems.append(
                f"{name}: {job.files_processed} of {files} files processed,"
                f" {job.files_failed} failed: {job.error or '-'}"
            )
        points = result.points.get(name, 0)
        if points != repository.expected_points:
            expected = repository.expected_points
            problems.append(f"{name}: {points} points in Qdrant, {expected} expected")
    expected = sum(repository.expected_points for repository in repositories)
    if result.total_points != expected:
        problems.append(f"collection: {result.total_points} points, {expected} expected")
    return problems


# --- report -------------------------------------------------------------------------------------


def figure_rows(rounds: Sequence[Round], jobs: int, expected_points: int) -> list[tuple[str, ...]]:
    """One row per figure, a column per round and, for several rounds, their median."""

    def row(label: str, values: Sequence[float], shape: str) -> tuple[str, ...]:
        cells = ["-" if math.isnan(value) else format(value, shape) for value in values]
        if len(values) > 1:
            known = [value for value in values if not math.isnan(value)]
            cells.append(format(statistics.median(known), shape) if known else "-")
        return (label, *cells)

    def each(figure: Callable[[Round], float]) -> list[float]:
        return [figure(result) for result in rounds]

    def quantile(samples: list[float], fraction: float, scale: float = 1.0) -> float:
        return percentile(samples, fraction) * scale if samples else NAN

    def last_finish(result: Round) -> float:
        last = result.last_finish()
        return last - result.first_sent if last is not None else NAN

    def peak_running(result: Round) -> float:
        return max((sample.running for sample in result.samples), default=0)

    def peak(result: Round, states: Sequence[str]) -> float:
        return max((sum(s.queued[state] for state in states) for s in result.samples), default=0)

    header = ("", *(f"round {n}" for n in range(1, len(rounds) + 1)))
    if len(rounds) > 1:
        header = (*header, "median")
    return [
        header,
        row("webhook answers 2xx", each(lambda r: len(r.ack_times())), ",.0f"),
        row("ack p50 (ms)", each(lambda r: quantile(r.ack_times(), 0.5, 1e3)), ".1f"),
        row("ack p99 (ms)", each(lambda r: quantile(r.ack_times(), 0.99, 1e3)), ".1f"),
        row("ack max (ms)", each(lambda r: max(r.ack_times(), default=0) * 1e3), ".1f"),
        row(
            "all acked after (s)",
            each(lambda r: max(a.acked_at for a in r.acks) - r.first_sent),
            ".2f",
        ),
        row(
            f"jobs processed (of {jobs})",
            each(lambda r: sum(j.status is IngestionStatus.PROCESSED for j in r.jobs.values())),
            ",.0f",
        ),
        row("all done after (s)", each(last_finish), ".2f"),
        row("jobs/s", each(Round.jobs_per_s), ".2f"),
        row("job latency p50 (s)", each(lambda r: quantile(r.latencies(), 0.5)), ".2f"),
        row("job latency p95 (s)", each(lambda r: quantile(r.latencies(), 0.95)), ".2f"),
        row("job latency max (s)", each(lambda r: max(r.latencies(), default=NAN)), ".2f"),
        row("peak queued calls (all states)", each(lambda r: peak(r, QUEUE_STATES)), ",.0f"),
        row("peak ready", each(lambda r: peak(r, ("ready",))), ",.0f"),
        row("peak in flight", each(lambda r: peak(r, ("in_flight",))), ",.0f"),
        row("peak delayed", each(lambda r: peak(r, ("delayed",))), ",.0f"),
        row("peak parked", each(lambda r: peak(r, ("parked",))), ",.0f"),
        row("peak engine runs running", each(peak_running), ",.0f"),
        row("peak RSS, app (MB)", each(lambda r: r.rss.app / MB), ".0f"),
        row("peak RSS, engine (MB)", each(lambda r: r.rss.engine / MB), ".0f"),
        row("peak RSS, app + engine (MB)", each(lambda r: r.rss.together / MB), ".0f"),
        row("embedding requests", each(lambda r: r.embed.requests), ",.0f"),
        row(
            f"embedded inputs ({expected_points:,} chunks)", each(lambda r: r.embed.inputs), ",.0f"
        ),
        row("engine retries", each(lambda r: r.engine[0] if r.engine else NAN), ",.0f"),
        row(
            "engine failed SDK calls",
            each(lambda r: r.engine[1].total() if r.engine else NAN),
            ",.0f",
        ),
        row(
            f"points in Qdrant ({expected_points:,} expected)",
            each(lambda r: r.total_points),
            ",.0f",
        ),
        row("problems", each(lambda r: len(r.problems)), ",.0f"),
    ]


def print_series(result: Round, every_s: float, which: str = "") -> None:
    """A snapshot of the engine's queue every `every_s`, with the jobs finished by then; a
    stretch of equal snapshots (a quiet tail) is one row."""
    print(
        f"\n  Engine queue over time{which} (SDK calls; a /metrics scrape every"
        f" {SCRAPE_EVERY_S:.0f} s, one shown every {every_s:.0f} s):"
    )
    ends = [job.finished_at for job in result.jobs.values() if job.finished_at is not None]
    snapshots: list[tuple[float, tuple[str, ...]]] = []
    next_at = 0.0
    shown = [sample for sample in result.samples if sample.at >= result.first_sent]
    for index, sample in enumerate(shown):
        at = sample.at - result.first_sent
        if at < next_at and index != len(shown) - 1:
            continue
        next_at = (at // every_s + 1) * every_s
        done = sum(1 for end in ends if end <= sample.at)
        queued = (f"{sample.queued[state]:,}" for state in QUEUE_STATES)
        snapshots.append((at, (*queued, f"{sample.running:,}", f"{done:,}")))
    if not snapshots:
        print("  no sample")
        return
    rows: list[tuple[str, ...]] = [("t (s)", *QUEUE_STATES, "runs running", "jobs done")]
    first = 0
    for index, (at, cells) in enumerate(snapshots):
        if index + 1 < len(snapshots) and snapshots[index + 1][1] == cells:
            continue
        start = snapshots[first][0]
        when = f"{start:.0f}" if round(start) == round(at) else f"{start:.0f}-{at:.0f}"
        rows.append((when, *cells))
        first = index + 1
    table(rows)


def report(
    rounds: Sequence[Round], repositories: Sequence[Repository], args: argparse.Namespace
) -> None:
    expected = sum(repository.expected_points for repository in repositories)
    print("\nResults" + (f" (median of {len(rounds)} rounds)" if len(rounds) > 1 else ""))
    table(figure_rows(rounds, args.jobs, expected))
    shown = sorted(rounds, key=Round.jobs_per_s)[(len(rounds) - 1) // 2]
    which = f", round {rounds.index(shown) + 1} (the median jobs/s)" if len(rounds) > 1 else ""
    print_series(shown, args.series_every, which)
    for number, result in enumerate(rounds, 1):
        if result.scrape_failures:
            print(f"  round {number}: {result.scrape_failures} scrapes of /metrics failed")
        if result.engine and result.engine[1]:
            kinds = ", ".join(f"{count} {kind}" for kind, count in result.engine[1].items())
            print(f"  round {number}: the engine's failed SDK calls by kind: {kinds}")
        if result.problems:
            print(f"\n  round {number}: {len(result.problems)} PROBLEM(S):")
            for problem in result.problems[:SHOWN_PROBLEMS]:
                print(f"    {problem}")
            if len(result.problems) > SHOWN_PROBLEMS:
                print(f"    ... and {len(result.problems) - SHOWN_PROBLEMS} more")
    if not any(result.problems for result in rounds):
        print(
            f"\n  checked: every job processed with its {args.files} files, and each"
            f" repository's points in Qdrant exactly its chunks ({expected:,} in all)"
        )


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--jobs", type=int, default=1000, help="repositories, one push (one job) each (1000)")
    add("--files", type=int, default=3, help="markdown pages per repository (3)")
    add("--latency-ms", type=float, default=100.0, help="fake server time per request (100)")
    add(
        "--concurrency",
        type=int,
        default=100,
        help="webhook deliveries in flight at once, one connection each (100)",
    )
    add(
        "--file-concurrency",
        type=int,
        help="DOCS_INGEST_FILE_CONCURRENCY of the service (its default with OpenAI, 128)",
    )
    add(
        "--requests",
        type=int,
        help="DOCS_INGEST_EMBEDDING_REQUESTS of the service (its default, 4)",
    )
    add(
        "--database-url",
        help="a PostgreSQL server (postgresql://user@host:port/db): each round's app database"
        " is a new database on it (the user needs CREATEDB), dropped afterwards;"
        " default: SQLite in the round's folder",
    )
    add("--rounds", type=int, default=1, help="runs on the same repositories, fresh each (1)")
    add("--series-every", type=float, default=5.0, help="seconds between queue rows shown (5)")
    add(
        "--stall-s",
        type=float,
        default=400.0,
        help="give up when no job has finished for this long; above the 5 minutes a job may"
        " wait for a wake-up it missed (400)",
    )
    add("--timeout-s", type=float, default=1800.0, help="give up on a round after this (1800)")
    add("--seed", type=int, default=11, help="seed of the generated pages (11)")
    add("--keep", action="store_true", help="keep the work folder (repositories, logs, data)")
    args = parser.parse_args()
    for name in ("jobs", "files", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    for name in ("file_concurrency", "requests"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.database_prefix = "docs_ingest_load"
    if args.database_url is not None:
        url = make_url(args.database_url)
        if url.get_backend_name() != "postgresql":
            parser.error("--database-url must be a PostgreSQL URL (SQLite is the default)")
        args.database_prefix = f"{url.database or 'docs_ingest'}_load"
    return args


def header(args: argparse.Namespace) -> None:
    defaults = Settings(_env_file=None)
    database = "SQLite (the round's folder)"
    if args.database_url is not None:
        shown = make_url(args.database_url).render_as_string(hide_password=True)
        database = f"PostgreSQL, a fresh database per round on {shown}"
    print("Load: one push per repository, all at once through the webhook")
    rows = [
        ("jobs (repositories)", f"{args.jobs:,}"),
        ("files per repository", str(args.files)),
        ("fake embedding latency", f"{args.latency_ms:.0f} ms a request"),
        ("webhook connections at once", str(args.concurrency)),
        ("file concurrency (service)", str(args.file_concurrency or OPENAI_FILE_CONCURRENCY)),
        ("requests in flight (service)", str(args.requests or defaults.embedding_requests)),
        ("app database", database),
        ("rounds", str(args.rounds)),
        ("cores", str(os.cpu_count())),
    ]
    for label, value in rows:
        print(f"  {label:<30} {value}")


def interrupt(_signal: int, _frame: FrameType | None) -> None:
    """Ctrl-C stops the benchmark wherever it is, inside `asyncio.run` too: asyncio's own
    handler only cancels the running task, and the interrupt is lost if that task ends anyway
    (the deliveries do, at once, when Ctrl-C has stopped `serve` too)."""
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGINT, interrupt)
    header(args)
    workdir = Path(tempfile.mkdtemp(prefix="load-bench-"))
    failed = True
    try:
        failed = run(args, workdir)
    except KeyboardInterrupt:
        print("\ninterrupted: everything it started is stopped", flush=True)
        raise SystemExit(130) from None
    finally:
        if args.keep:
            print(f"\nwork folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    raise SystemExit(1 if failed else 0)


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """All rounds; True when something was wrong."""
    fake = FakeEmbeddings(args.latency_ms, workdir / "fake-embeddings.log")
    try:
        start = time.perf_counter()
        embedder = model_of(fake)
        repositories = make_repositories(
            workdir / "repositories", args.jobs, args.files, args.seed, embedder
        )
        expected = sum(repository.expected_points for repository in repositories)
        print(
            f"\n{len(repositories):,} repositories of {args.files} files made in"
            f" {time.perf_counter() - start:.1f} s: {expected:,} chunks expected",
            flush=True,
        )
        rounds = []
        for number in range(1, args.rounds + 1):
            start = time.perf_counter()
            rounds.append(run_round(number, workdir, repositories, fake, args))
            took = time.perf_counter() - start
            print(
                f"round {number}: {rounds[-1].jobs_per_s():.2f} jobs/s,"
                f" {len(rounds[-1].problems)} problem(s); the round took {took:.0f} s",
                flush=True,
            )
    finally:
        fake.close()
    report(rounds, repositories, args)
    return any(result.problems for result in rounds)


if __name__ == "__main__":
    main()
