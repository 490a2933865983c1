"""A job's rows on a real migrated database (SQLite and PostgreSQL): its plan, its counts, how it
ends, its store."""

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from service import jobs
from service.config import RepoConfig
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import EmbedderMismatch, LocalEmbedder, OpenAIEmbedder
from service.models import (
    ConfigStatus,
    ConnectedRepository,
    FileAction,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    Provider,
    Store,
    utc_now,
)
from service.planner import PlannedFile
from service.repositories import RepositoryError, connect
from tests.races import while_open

BEFORE = hashlib.sha1(b"before", usedforsecurity=False).hexdigest()
AFTER = hashlib.sha1(b"after", usedforsecurity=False).hexdigest()
CHUNKING = RepoConfig(chunk_size=200).chunking
PLAN = [
    PlannedFile("docs/a.md", FileAction.PROCESS, "a" * 40, 120),
    PlannedFile("docs/b.md", FileAction.PROCESS, "b" * 40, 80),
    PlannedFile("docs/gone.md", FileAction.DELETE),
    PlannedFile("docs/same.md", FileAction.PROCESS, "c" * 40, 60, skip_reason="unchanged"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(database_url: str) -> Iterator[sa.Engine]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def job_id(db: sa.Engine) -> int:
    """A queued push job of a connected repository, started as the orchestrator does."""
    with session_scope(db) as session:
        repository = connect(
            session,
            provider=Provider.GITHUB,
            full_name="acme/handbook",
            external_id="1296269",
            default_branch="main",
            embedder=LocalEmbedder(),
        )
        assert repository.id is not None
        job = IngestionCommit(
            organization_id=repository.organization_id,
            store_id=repository.store_id,
            repository_id=repository.id,
            delivery_id="delivery-1",
            before_sha=BEFORE,
            after_sha=AFTER,
            trigger=IngestionTrigger.PUSH,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        jobs.start(session, job.id, "run-1")
        return job.id


def job_of(db: sa.Engine, job_id: int) -> IngestionCommit:
    with Session(db) as session:
        return jobs.get_job(session, job_id)


def repository_of(db: sa.Engine, job_id: int) -> ConnectedRepository:
    with Session(db) as session:
        return jobs.get_repository(session, jobs.get_job(session, job_id).repository_id)


def files_of(db: sa.Engine, job_id: int) -> dict[str, IngestionFile]:
    with Session(db) as session:
        rows = session.exec(select(IngestionFile).where(IngestionFile.ingestion_id == job_id))
        return {row.path: row for row in rows}


def record_plan(db: sa.Engine, job_id: int, planned: list[PlannedFile] = PLAN) -> None:
    with session_scope(db) as session:
        jobs.record_plan(session, job_id, planned)


def finish(
    db: sa.Engine,
    job_id: int,
    path: str,
    status: FileStatus,
    chunks: int = 0,
    error: str | None = None,
) -> None:
    with session_scope(db) as session:
        jobs.finish_files(session, job_id, [jobs.FileOutcome(path, status, chunks, error)])


def counts(job: IngestionCommit) -> tuple[int, int, int, int]:
    return (job.files_total, job.files_processed, job.files_failed, job.files_skipped)


def test_start_marks_the_job_running_and_keeps_the_first_start_time(
    db: sa.Engine, job_id: int
) -> None:
    started = job_of(db, job_id)
    with session_scope(db) as session:
        jobs.start(session, job_id, "run-2")

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.RUNNING and job.run_id == "run-2"
    assert started.started_at is not None
    assert job.started_at == started.started_at
    assert repository_of(db, job_id).config_status is ConfigStatus.INGESTING


def test_recording_a_plan_twice_leaves_the_same_rows(db: sa.Engine, job_id: int) -> None:
    record_plan(db, job_id)
    first = {path: (row.id, row.status, row.error) for path, row in files_of(db, job_id).items()}
    record_plan(db, job_id)

    again = {path: (row.id, row.status, row.error) for path, row in files_of(db, job_id).items()}
    assert again == first
    assert first["docs/a.md"][1:] == (FileStatus.PENDING, None)
    assert first["docs/same.md"][1:] == (FileStatus.SKIPPED, "unchanged")
    assert files_of(db, job_id)["docs/gone.md"].action is FileAction.DELETE
    assert counts(job_of(db, job_id)) == (4, 0, 0, 1)


def test_counts_come_from_the_rows_so_a_retried_file_counts_once(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)

    finish(db, job_id, "docs/a.md", FileStatus.PROCESSED, chunks=3)
    finish(db, job_id, "docs/a.md", FileStatus.PROCESSED, chunks=3)
    finish(db, job_id, "docs/b.md", FileStatus.FAILED, error="boom")
    finish(db, job_id, "docs/b.md", FileStatus.PROCESSED, chunks=2)  # its retry succeeded

    assert counts(job_of(db, job_id)) == (4, 2, 0, 1)
    row = files_of(db, job_id)["docs/b.md"]
    assert (row.chunks, row.error, row.finished_at is not None) == (2, None, True)


def test_a_run_that_fails_after_its_file_was_recorded_leaves_the_file_done(
    db: sa.Engine, job_id: int
) -> None:
    """Its answer was lost (the app died), and every retry failed: the file is indexed."""
    record_plan(db, job_id)

    finish(db, job_id, "docs/a.md", FileStatus.PROCESSED, chunks=3)
    finish(db, job_id, "docs/a.md", FileStatus.FAILED, error="the app did not answer")

    assert counts(job_of(db, job_id)) == (4, 1, 0, 1)
    row = files_of(db, job_id)["docs/a.md"]
    assert (row.status, row.chunks, row.error) == (FileStatus.PROCESSED, 3, None)


def test_a_session_locking_its_job_again_in_a_later_transaction_reads_it_afresh(
    db: sa.Engine, job_id: int
) -> None:
    """Within a transaction a locked job is not read again; in the next one it must be: another
    transaction may have changed it in between (rows outlive commits here)."""
    with Session(db, expire_on_commit=False) as session:
        job = jobs.lock_job(session, job_id)  # kept, as callers keep it: the session's copy
        assert jobs.lock_job(session, job_id) is job and job.files_total == 0
        session.commit()
        with session_scope(db) as other:
            jobs.lock_job(other, job_id).files_total = 7
        assert jobs.lock_job(session, job_id).files_total == 7
        session.rollback()
        with session_scope(db) as other:
            jobs.lock_job(other, job_id).files_total = 8
        assert jobs.lock_job(session, job_id).files_total == 8 == job.files_total


def test_files_finished_together_each_see_the_files_pending_after_them(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)  # a, b and gone pending; same skipped
    finish(db, job_id, "docs/a.md", FileStatus.PROCESSED, chunks=3)

    with session_scope(db) as session:
        left = jobs.finish_files(
            session,
            job_id,
            [
                jobs.FileOutcome("docs/gone.md", FileStatus.PROCESSED),
                jobs.FileOutcome("docs/a.md", FileStatus.PROCESSED, 3),  # a retry: was done
                jobs.FileOutcome("docs/b.md", FileStatus.FAILED, error="boom"),
            ],
        )

    # Only the file that finished the job sees 0, so the orchestrator is told once.
    assert left == [1, 1, 0]
    assert counts(job_of(db, job_id)) == (4, 2, 1, 1)


# Transactions that change one job at once, on PostgreSQL: READ COMMITTED lets each read before
# the other commits. (SQLite's single writer orders them; the tests above run there too.)
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def finishing(job_id: int, path: str) -> Callable[[Session], list[int]]:
    outcome = jobs.FileOutcome(path, FileStatus.PROCESSED, 1)
    return lambda session: jobs.finish_files(session, job_id, [outcome])


@ON_POSTGRESQL
def test_of_the_last_two_files_finished_at_once_one_sees_none_left(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id, PLAN[:2])

    first, second = while_open(db, finishing(job_id, "docs/a.md"), finishing(job_id, "docs/b.md"))

    assert (first, second) == ([1], [0])  # so the orchestrator is told, once
    assert counts(job_of(db, job_id)) == (2, 2, 0, 0)


@ON_POSTGRESQL
def test_a_cancel_while_the_job_is_finalized_leaves_it_finalized(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)
    for path in ("docs/a.md", "docs/b.md", "docs/gone.md"):
        finish(db, job_id, path, FileStatus.PROCESSED)

    while_open(
        db,
        lambda session: jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING),
        lambda session: jobs.cancel(session, job_id),
    )

    assert job_of(db, job_id).status is IngestionStatus.PROCESSED
    assert repository_of(db, job_id).last_ingested_sha == AFTER


@ON_POSTGRESQL
def test_a_finalize_while_the_job_is_cancelled_leaves_it_cancelled(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)

    while_open(
        db,
        lambda session: jobs.cancel(session, job_id),
        lambda session: jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING),
    )

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.CANCELLED
    assert counts(job) == (4, 0, 0, 4)
    assert repository_of(db, job_id).last_ingested_sha is None


def test_finishing_an_unplanned_file_is_an_error(db: sa.Engine, job_id: int) -> None:
    record_plan(db, job_id)

    with pytest.raises(jobs.JobNotFound, match=re.escape("docs/unknown.md")):
        finish(db, job_id, "docs/unknown.md", FileStatus.PROCESSED)


@pytest.mark.parametrize(
    ("config_found", "config_status"),
    [(True, ConfigStatus.CONFIGURED), (False, ConfigStatus.UNCONFIGURED)],
)
def test_finalize_ends_the_job_and_moves_the_ingested_sha(
    db: sa.Engine, job_id: int, config_found: bool, config_status: ConfigStatus
) -> None:
    record_plan(db, job_id)
    for path in ("docs/a.md", "docs/b.md", "docs/gone.md"):
        finish(db, job_id, path, FileStatus.PROCESSED)

    with session_scope(db) as session:
        jobs.finalize(session, job_id, config_found=config_found, chunking=CHUNKING)

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.PROCESSED
    assert counts(job) == (4, 3, 0, 1)
    assert job.processed_at is not None and job.error_message is None
    repository = repository_of(db, job_id)
    assert repository.last_ingested_sha == AFTER
    assert repository.chunking == CHUNKING
    assert repository.config_status is config_status


def test_a_job_whose_files_were_all_skipped_is_skipped(db: sa.Engine, job_id: int) -> None:
    record_plan(db, job_id, [item for item in PLAN if item.skip_reason])

    with session_scope(db) as session:
        jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING)

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.SKIPPED
    assert counts(job) == (1, 0, 0, 1)
    assert repository_of(db, job_id).last_ingested_sha == AFTER


def test_failed_files_are_listed_in_the_job_error(db: sa.Engine, job_id: int) -> None:
    many = [PlannedFile(f"docs/{n}.md", FileAction.PROCESS, f"{n:040x}", 10) for n in range(8)]
    record_plan(db, job_id, many)
    for n in range(7):
        finish(db, job_id, f"docs/{n}.md", FileStatus.FAILED, error=f"error {n}")
    finish(db, job_id, "docs/7.md", FileStatus.PROCESSED)

    with session_scope(db) as session:
        jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING)

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.PROCESSED
    assert counts(job) == (8, 1, 7, 0)
    message = job.error_message or ""
    assert message.startswith("7 file(s) failed")
    assert "docs/0.md: error 0" in message and "docs/4.md: error 4" in message
    assert "docs/5.md" not in message and "and 2 more" in message


def test_fail_ends_the_job_with_its_message_and_keeps_the_ingested_sha(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)

    with session_scope(db) as session:
        jobs.fail(session, job_id, "lightfast.yml line 2: store must be text")

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.FAILED
    assert job.error_message == "lightfast.yml line 2: store must be text"
    assert job.processed_at is not None
    repository = repository_of(db, job_id)
    assert repository.last_ingested_sha is None
    assert repository.config_status is not ConfigStatus.INGESTING


def test_cancel_skips_the_pending_files_and_keeps_the_finished_ones(
    db: sa.Engine, job_id: int
) -> None:
    record_plan(db, job_id)
    finish(db, job_id, "docs/a.md", FileStatus.PROCESSED, chunks=1)

    with session_scope(db) as session:
        jobs.cancel(session, job_id)

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.CANCELLED
    assert counts(job) == (4, 1, 0, 3)
    files = files_of(db, job_id)
    assert files["docs/a.md"].status is FileStatus.PROCESSED
    for path in ("docs/b.md", "docs/gone.md"):
        assert (files[path].status, files[path].error) == (FileStatus.SKIPPED, "job cancelled")
    assert files["docs/same.md"].error == "unchanged"
    assert repository_of(db, job_id).config_status is not ConfigStatus.INGESTING


def test_a_cancelled_job_stays_cancelled(db: sa.Engine, job_id: int) -> None:
    record_plan(db, job_id)
    with session_scope(db) as session:
        jobs.cancel(session, job_id)

    with session_scope(db) as session:
        jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING)
    with session_scope(db) as session:
        jobs.fail(session, job_id, "the orchestrator was cancelled")

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.CANCELLED and job.error_message is None
    assert repository_of(db, job_id).last_ingested_sha is None


def test_a_finished_job_cannot_be_cancelled(db: sa.Engine, job_id: int) -> None:
    record_plan(db, job_id, [item for item in PLAN if item.skip_reason])
    with session_scope(db) as session:
        jobs.finalize(session, job_id, config_found=True, chunking=CHUNKING)

    with session_scope(db) as session:
        jobs.cancel(session, job_id)

    assert job_of(db, job_id).status is IngestionStatus.SKIPPED


def test_store_for_creates_the_store_the_config_names(db: sa.Engine, job_id: int) -> None:
    embedder = LocalEmbedder()
    config = RepoConfig(store="handbook_v2")

    with session_scope(db) as session:
        first = jobs.store_for(session, jobs.get_job(session, job_id), config, embedder)
    with session_scope(db) as session:
        again = jobs.store_for(session, jobs.get_job(session, job_id), config, embedder)

    assert again.id == first.id
    assert (first.name, first.collection) == ("handbook_v2", "default-handbook_v2")
    assert (first.embedding_model, first.dimension) == (embedder.model, embedder.dimension)
    assert job_of(db, job_id).store_id == first.id
    assert repository_of(db, job_id).store_id == first.id
    with Session(db) as session:
        assert sorted(store.name for store in session.exec(select(Store))) == [
            "docs",
            "handbook_v2",
        ]


def test_stores_whose_names_read_alike_get_collections_of_their_own(db: sa.Engine) -> None:
    """Organization `a`'s store `b-docs` and organization `a-b`'s default store `docs` would both
    be `a-b-docs`: the second gets another collection, not an error (or the first's points)."""
    embedder = LocalEmbedder()
    with session_scope(db) as session:
        first = connect(
            session,
            provider=Provider.GITHUB,
            full_name="a/handbook",
            external_id="1",
            default_branch="main",
            embedder=embedder,
            org_slug="a",
        )
        job = jobs.record_job(
            session, first, delivery_id="d-1", after="a" * 40, trigger=IngestionTrigger.PUSH
        )
        taken = jobs.store_for(session, job, RepoConfig(store="b-docs"), embedder).collection
    with session_scope(db) as session:
        second = connect(
            session,
            provider=Provider.GITHUB,
            full_name="a-b/handbook",
            external_id="2",
            default_branch="main",
            embedder=embedder,
            org_slug="a-b",
        )
        default = session.get(Store, second.store_id)
        assert default is not None

    assert taken == "a-b-docs"
    assert default.collection.startswith("a-b-docs-")
    assert default.name == "docs"


@pytest.mark.anyio
async def test_store_for_refuses_an_embedder_of_another_model(db: sa.Engine, job_id: int) -> None:
    async with httpx.AsyncClient() as http:
        openai = OpenAIEmbedder(http, api_key="sk-test", model="text-embedding-3-small")
        with Session(db) as session, pytest.raises(EmbedderMismatch) as refused:
            jobs.store_for(session, jobs.get_job(session, job_id), RepoConfig(), openai)

    assert LocalEmbedder().model in str(refused.value)
    assert "text-embedding-3-small" in str(refused.value)


@pytest.mark.anyio
async def test_store_for_refuses_an_embedder_of_another_dimension(
    db: sa.Engine, job_id: int
) -> None:
    config = RepoConfig(store="openai")
    async with httpx.AsyncClient() as http:
        full = OpenAIEmbedder(http, api_key="sk-test", model="text-embedding-3-small")
        shortened = OpenAIEmbedder(
            http, api_key="sk-test", model="text-embedding-3-small", dimension=512
        )
        with session_scope(db) as session:
            jobs.store_for(session, jobs.get_job(session, job_id), config, full)
        with Session(db) as session, pytest.raises(EmbedderMismatch, match="512"):
            jobs.store_for(session, jobs.get_job(session, job_id), config, shortened)


def test_a_repository_is_connected_once_whichever_organization_asks(db: sa.Engine) -> None:
    """Its pushes are found by GitHub's id and checked with one connection's secret: a second
    connection would never receive one."""
    github = {"provider": Provider.GITHUB, "external_id": "1296269", "default_branch": "main"}
    with session_scope(db) as session:
        connect(session, full_name="acme/handbook", embedder=LocalEmbedder(), **github)
    with session_scope(db) as session, pytest.raises(RepositoryError) as refused:
        connect(
            session, full_name="acme/handbook", embedder=LocalEmbedder(), org_slug="b", **github
        )

    assert str(refused.value) == "acme/handbook is already connected by another organization"


def test_a_job_waits_for_the_earlier_jobs_that_will_run(db: sa.Engine, job_id: int) -> None:
    """Sent, running, or young enough to be in the middle of being sent; not one whose event
    could not be sent a while ago, which may never run."""

    def later() -> int:
        with session_scope(db) as session:
            job = jobs.record_job(
                session,
                jobs.get_repository(session, jobs.get_job(session, job_id).repository_id),
                delivery_id=f"later-{uuid.uuid4()}",
                after="b" * 40,
                trigger=IngestionTrigger.PUSH,
            )
            assert job.id is not None
            return job.id

    def earlier_of(job: int) -> int | None:
        with session_scope(db) as session:
            return jobs.earlier_unfinished(session, job)

    def change(**values: object) -> int | None:
        with session_scope(db) as session:
            session.execute(
                sa.update(IngestionCommit).where(col(IngestionCommit.id) == job_id).values(values)
            )
        return earlier_of(probe)

    probe = later()
    young = change(status=IngestionStatus.QUEUED, event_id=None)  # its event id not recorded yet
    unsent = change(created_at=utc_now() - jobs.BEING_SENT * 2)
    sent = change(event_id="01EVENT")
    running = change(event_id=None, status=IngestionStatus.RUNNING)
    ended = change(status=IngestionStatus.PROCESSED)

    assert (young, unsent, sent, running, ended) == (job_id, None, job_id, job_id, None)
    assert earlier_of(later()) == probe  # the latest earlier one


def test_a_job_started_as_overtaken_ends_skipped_leaving_the_index(
    db: sa.Engine, job_id: int
) -> None:
    """Its commit is behind the one indexed (a push delivered late; the orchestrator asks the
    source, tests/e2e/test_late_push.py): starting it would index an older commit."""
    with session_scope(db) as session:
        repository = jobs.get_repository(session, jobs.get_job(session, job_id).repository_id)
        repository.last_ingested_sha = "c" * 40
        session.add(repository)
    reason = "job #7 of a later push already indexed cccccccccccc"
    with session_scope(db) as session:
        jobs.start(session, job_id, "01RUN", overtaken=reason)

    job = job_of(db, job_id)
    assert job.status is IngestionStatus.SKIPPED
    assert job.error_message == f"overtaken: {reason}"
    assert repository_of(db, job_id).last_ingested_sha == "c" * 40
