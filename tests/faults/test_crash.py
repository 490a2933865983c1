"""Crash: SIGKILL the engine, the app or both during a 300-file ingestion, then start them again.

The engine (`docs-ingest engine`) and the app (`docs-ingest serve` with INNGEST_DEV naming the
engine) run as separate processes, as a deployment runs them; the app's database, its Qdrant Edge
folder and the engine's SQLite file outlive every kill. Whenever the kill comes, the job must end
`processed` with every file indexed once: the exact point count, no duplicate point, one history
row per file, counters equal to the rows, one engine run per file.

The kill points are found by polling the app's database every few milliseconds:

* fan-out: the plan is recorded (a pending row per file) and no file is done. The orchestrator
  is sending, or about to send, the file events; no file can be done before the app has loaded
  its model, so this window is wide.
* mid-file: a quarter to three quarters of the files are done. The runs in flight record at most
  `files_at_once` (64 on the local model) files at once, fewer than the window's 150, so it
  cannot be skipped.
* finalize: every file row is final and the job is not. The orchestrator still has to wake,
  count and finalize, a few calls; should the job be found already final, the kill comes after
  it and the case says so.

Each case prints what it saw at the kill (the rows, and the engine's runs read from its file
right after) and how the job ended, so `pytest -s` tells what happened.
"""

import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import qdrant_edge
from sqlalchemy import Engine, make_url
from sqlmodel import Session, col, func, select

from cli.pushes import head_of, push_payload
from cli.serve import engine_workers
from service.config import RepoConfig
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.indexing import chunk_text
from service.models import (
    FileStatus,
    IndexedFile,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    Provider,
    Store,
)
from service.repositories import connect, local_external_id
from service.settings import Settings
from service.vectors import PayloadField, point_id
from tests.e2e.system import BRANCH, TERMINAL, GitRepo, page
from tests.engine.harness import eventually, free_port
from tests.faults.processes import START_TIMEOUT_S, Process, app_process, engine_process
from web.webhooks import signature_of

FILES = 300
REPOSITORY = "handbook"
POLL_S = 0.002
KILL_POINT_TIMEOUT_S = 120
END_TIMEOUT_S = 180
INGESTION = "docs-ingest-docs-ingestion"
FILE_PROCESS = "docs-ingest-docs-file-process"
RUNNING = "Running"
COMPLETED = "Completed"


@dataclass(frozen=True)
class Handbook:
    """The repository every case ingests, and the chunks the service's chunker makes of it."""

    repo: GitRepo
    chunks: dict[str, int]  # path -> chunks

    @property
    def points(self) -> set[tuple[str, int]]:
        return {(path, index) for path, n in self.chunks.items() for index in range(n)}


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory) -> Handbook:
    # A line of text each: the local model embeds 300 of them in about a second.
    files = {f"docs/page-{n:03d}.md": page(f"Topic {n}") for n in range(FILES)}
    repo = GitRepo(tmp_path_factory.mktemp("crash") / REPOSITORY)
    repo.write(files)
    repo.commit(f"{FILES} pages")
    config, embedder = RepoConfig(), LocalEmbedder()  # counting tokens loads no model
    chunks = {
        path: len(chunk_text(content, embedder, config.chunk_size, config.chunk_overlap).chunks)
        for path, content in files.items()
    }
    return Handbook(repo, chunks)


@dataclass(frozen=True)
class Progress:
    """A job as the app's database has it at one moment."""

    job: IngestionStatus
    files: Counter[FileStatus]

    @property
    def rows(self) -> int:
        return self.files.total()

    @property
    def pending(self) -> int:
        return self.files[FileStatus.PENDING]

    @property
    def done(self) -> int:
        return self.rows - self.pending

    def __str__(self) -> str:
        rows = ", ".join(f"{n} {status.value}" for status, n in sorted(self.files.items()))
        return f"job {self.job.value}, file rows: {rows or 'none'}"


def fan_out(progress: Progress) -> bool:
    return progress.rows == FILES and progress.done == 0


def mid_file(progress: Progress) -> bool:
    return progress.done >= FILES // 4 and progress.pending >= FILES // 4


def finalize(progress: Progress) -> bool:
    return progress.rows == FILES and progress.pending == 0


KILL_POINTS: dict[str, Callable[[Progress], bool]] = {
    "fan-out": fan_out,
    "mid-file": mid_file,
    "finalize": finalize,
}


class Deployment:
    """The app and the engine on one set of state, the repository connected, and readers of
    that state for the test."""

    def __init__(self, folder: Path, database_url: str, handbook: Handbook) -> None:
        self.folder = folder
        app_port, engine_port = free_port(), free_port()
        self.app = app_process(folder, app_port, f"http://127.0.0.1:{engine_port}", database_url)
        # As many queue workers as `serve` gives the engine it runs for this app.
        workers = engine_workers(Settings.model_validate(self.app.env))
        self.engine = engine_process(folder, engine_port, self.app.url, workers)
        migrate(database_url)
        self.db: Engine = create_db_engine(database_url)
        with session_scope(self.db) as session:
            self.repository = connect(
                session,
                provider=Provider.LOCAL,
                full_name=REPOSITORY,
                external_id=local_external_id(handbook.repo.path),
                default_branch=BRANCH,
                embedder=LocalEmbedder(),
                local_path=handbook.repo.path,
            )
            store = session.get(Store, self.repository.store_id)
            assert store is not None
            self.collection = store.collection

    def start(self, processes: list[Process]) -> None:
        """Start `processes` one after the other: the app first, as the engine calls it as soon
        as it starts (an app still starting would cost every call a retry's backoff); the
        engine syncs the app when it starts."""
        for process in sorted(processes, key=lambda process: process is self.engine):
            process.start()

    def stop(self) -> None:
        self.engine.stop()
        self.app.stop()

    def synced(self) -> bool:
        """Whether the engine knows the app's functions."""
        return bool(httpx.get(f"{self.engine.url}/dev", timeout=2).json()["functions"])

    def push(self, repo: GitRepo) -> int:
        """Deliver the signed push of the whole branch, as GitHub would; the job's id."""
        payload = push_payload(
            repo.path,
            branch=BRANCH,
            before=None,
            after=head_of(repo.path, BRANCH),
            repository_id=self.repository.external_id,
            full_name=self.repository.full_name,
        )
        body = httpx.Request("POST", "/", json=payload).content
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": "crash-delivery-1",
            "x-hub-signature-256": signature_of(self.repository.webhook_secret, body),
        }
        response = httpx.post(f"{self.app.url}/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202, response.text
        return int(response.json()["job_id"])

    def progress(self, job_id: int) -> Progress:
        with Session(self.db) as session:
            job = session.exec(
                select(IngestionCommit.status).where(IngestionCommit.id == job_id)
            ).one()
            files = session.exec(
                select(IngestionFile.status, func.count())
                .where(IngestionFile.ingestion_id == job_id)
                .group_by(col(IngestionFile.status))
            ).all()
        return Progress(IngestionStatus(job), Counter({FileStatus(s): n for s, n in files}))

    def engine_runs(self) -> Counter[tuple[str, str]]:
        """The engine's runs by (function, status), read from its file: the engine may be dead.
        Read-only, so that no checkpoint of ours changes the file a dead engine left."""
        uri = f"file:{self.folder / 'engine.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            rows = connection.execute(
                "SELECT fn_slug, status, COUNT(*) FROM runs GROUP BY fn_slug, status"
            ).fetchall()
        return Counter({(function, status): n for function, status, n in rows})

    def points(self) -> list[tuple[str, str, int]]:
        """(id, path, chunk index) of every point in the store's collection; the app must be
        stopped, as a Qdrant Edge shard is one process's at a time."""
        shard = qdrant_edge.EdgeShard.load(str(self.folder / "data" / "qdrant" / self.collection))
        found: list[tuple[str, str, int]] = []
        offset = None
        try:
            while True:
                records, offset = shard.scroll(
                    qdrant_edge.ScrollRequest(offset=offset, limit=1000, with_payload=True)
                )
                for record in records:
                    payload = record.payload or {}
                    path, index = payload[PayloadField.PATH], payload[PayloadField.CHUNK_INDEX]
                    found.append((str(record.id), str(path), int(index)))
                if offset is None:
                    return found
        finally:
            shard.close()


@pytest.fixture
def deployment(tmp_path: Path, database_url: str, handbook: Handbook) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, database_url, handbook)
    try:
        deployment.start([deployment.app, deployment.engine])
        # The engine syncs the app as it starts; a push it took before that would start no run,
        # as on any Inngest server.
        eventually(deployment.synced, START_TIMEOUT_S, interval=0.05)
        yield deployment
    finally:
        deployment.stop()
        deployment.db.dispose()


def describe_runs(runs: Counter[tuple[str, str]]) -> str:
    by_function: dict[str, list[str]] = {}
    for (function, status), n in sorted(runs.items()):
        by_function.setdefault(function.removeprefix("docs-ingest-"), []).append(f"{n} {status}")
    return "; ".join(f"{fn}: {', '.join(counts)}" for fn, counts in by_function.items()) or "none"


def reached(point: str, at_kill: Progress, runs: Counter[tuple[str, str]]) -> str:
    """The moment the kill actually came, in words."""
    if at_kill.job in TERMINAL:
        return f"MISSED {point}: the job had already ended"
    file_runs = sum(n for (function, _), n in runs.items() if function == FILE_PROCESS)
    if point == "fan-out":
        sent = "not yet sent" if file_runs == 0 else f"sent, {file_runs} file runs started"
        return f"fan-out: the plan recorded, no file done, the file events {sent}"
    if point == "mid-file":
        unfinished = runs[FILE_PROCESS, RUNNING]
        return f"mid-file: {at_kill.done} files done, {unfinished} file runs not finished"
    return "finalize: every file row final, the job not yet"


def kill_at(deployment: Deployment, job_id: int, point: str, victims: list[Process]) -> float:
    """Poll the job until `point` (or its end), then SIGKILL `victims`; seconds since called."""
    is_reached = KILL_POINTS[point]
    started = time.monotonic()
    while not is_reached(progress := deployment.progress(job_id)) and progress.job not in TERMINAL:
        assert time.monotonic() - started < KILL_POINT_TIMEOUT_S, f"no {point}: {progress}"
        time.sleep(POLL_S)
    for victim in victims:
        victim.kill()
    return time.monotonic() - started


def wait_until_over(deployment: Deployment, job_id: int) -> Counter[tuple[str, str]]:
    """Wait for the job's row to end, then for its runs: a run whose file is recorded may still
    be retrying a call the kill cut off, and what it does then is part of the outcome."""
    eventually(lambda: deployment.progress(job_id).job in TERMINAL, END_TIMEOUT_S, interval=0.1)

    def runs_over() -> Counter[tuple[str, str]] | None:
        runs = deployment.engine_runs()
        return None if runs[INGESTION, RUNNING] or runs[FILE_PROCESS, RUNNING] else runs

    runs: Counter[tuple[str, str]] = eventually(runs_over, END_TIMEOUT_S, interval=0.1)
    return runs


VICTIMS = ("engine", "app", "both")
# Every point and victim on SQLite. On PostgreSQL, the engine alone: the restarted engine calls
# again what the living app is still running, so two runs of a file, or two finalizes, meet under
# READ COMMITTED (the other cases add no concurrency of their own, and each costs 5-20 s).
CASES = [
    *(pytest.param("sqlite", point, victim) for point in KILL_POINTS for victim in VICTIMS),
    pytest.param("postgresql", "mid-file", "engine"),
    pytest.param("postgresql", "finalize", "engine"),
]


@pytest.mark.parametrize(("database_url", "point", "victim"), CASES, indirect=["database_url"])
def test_a_killed_process_loses_and_repeats_nothing(
    deployment: Deployment, handbook: Handbook, database_url: str, point: str, victim: str
) -> None:
    victims = {
        "engine": [deployment.engine],
        "app": [deployment.app],
        # The engine first: killed second, it would see the app's death and record retries.
        "both": [deployment.engine, deployment.app],
    }[victim]
    expected = handbook.points
    leg = make_url(database_url).get_backend_name()
    print(f"\ncrash on {leg}: SIGKILL {victim} at {point} ({FILES} files, {len(expected)} chunks)")

    job_id = deployment.push(handbook.repo)
    after = kill_at(deployment, job_id, point, victims)
    at_kill, runs_at_kill = deployment.progress(job_id), deployment.engine_runs()
    print(f"  killed {after:.2f} s after the push, at {reached(point, at_kill, runs_at_kill)}")
    print(f"  the rows at the kill: {at_kill}")
    print(f"  the engine's runs at the kill: {describe_runs(runs_at_kill)}")

    restarted = time.monotonic()
    deployment.start(victims)
    print(f"  {victim} started again in {time.monotonic() - restarted:.1f} s")
    runs = wait_until_over(deployment, job_id)
    deployment.app.stop()
    points = deployment.points()
    with Session(deployment.db) as session:
        jobs = session.exec(
            select(IngestionCommit).where(IngestionCommit.repository_id == deployment.repository.id)
        ).all()
        rows = session.exec(select(IngestionFile).where(IngestionFile.ingestion_id == job_id)).all()
        indexed = session.exec(
            select(IndexedFile).where(IndexedFile.repository_id == deployment.repository.id)
        ).all()
    found = Counter((path, index) for _, path, index in points)
    ended = "; ".join(f"job {job.id} {job.status.value}" for job in jobs)
    print(f"  over {time.monotonic() - restarted:.1f} s after the restart: {ended}")
    print(f"  the engine's runs at the end: {describe_runs(runs)}")
    print(
        f"  points: {len(points)} of {len(expected)} expected, {len(found)} distinct"
        f" (path, chunk); history: {len(jobs)} job(s), {len(rows)} file rows"
    )

    [job] = jobs
    assert (job.id, job.status) == (job_id, IngestionStatus.PROCESSED), job.error_message
    assert len(points) == len(expected)
    assert {key: n for key, n in found.items() if n > 1} == {}, "duplicate points"
    assert set(found) == expected
    assert all(
        pid == point_id(deployment.collection, REPOSITORY, path, index)
        for pid, path, index in points
    )
    assert Counter(row.path for row in rows) == dict.fromkeys(handbook.chunks, 1), "each file once"
    assert {row.path: (row.status, row.chunks) for row in rows} == {
        path: (FileStatus.PROCESSED, chunks) for path, chunks in handbook.chunks.items()
    }
    by_status = Counter(row.status for row in rows)
    counters = (job.files_total, job.files_processed, job.files_failed, job.files_skipped)
    assert counters == (
        len(rows),
        by_status[FileStatus.PROCESSED],
        by_status[FileStatus.FAILED],
        by_status[FileStatus.SKIPPED],
    )
    assert {row.path: row.chunk_count for row in indexed} == handbook.chunks
    assert runs == Counter({(INGESTION, COMPLETED): 1, (FILE_PROCESS, COMPLETED): FILES}), runs
