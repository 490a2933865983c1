"""An ingestion job's rows: its `ingestion_commit` row, its files, and the index they change.

Every function here takes a session and leaves committing to the caller's `session_scope`, so one
durable step, or one batch of the file runs in flight, is one transaction. Counters are always
recounted from `ingestion_file` rows, so a retried run never counts a file twice.

Transactions that change a job run at once: file runs of several app processes, a cancel, the
orchestrator. Under PostgreSQL's READ COMMITTED each would decide from what it read before the
others committed (two last files that each still see the other pending, a finalize that
overwrites a cancel), so every change to a job first locks its row (`lock_job`) and reads after.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from service.config import RepoConfig
from service.db import upsert
from service.embeddings import Embedder, check_store_model
from service.models import (
    ConfigStatus,
    ConnectedRepository,
    FileStatus,
    IndexedFile,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    Organization,
    Store,
    utc_now,
)
from service.planner import PlannedFile
from service.repositories import ensure_store

CANCELLED_REASON = "job cancelled"  # the error of a file its cancelled job never ran


class JobNotFound(LookupError):
    """An ingestion id that has no row: the job was deleted, or the event is not ours."""


@dataclass(frozen=True, slots=True)
class JobCounts:
    total: int
    processed: int
    failed: int
    skipped: int
    pending: int


def get_job(session: Session, ingestion_id: int) -> IngestionCommit:
    job = session.get(IngestionCommit, ingestion_id)
    if job is None:
        raise JobNotFound(f"ingestion {ingestion_id} does not exist")
    return job


def lock_job(session: Session, ingestion_id: int) -> IngestionCommit:
    """The job's row, read again and locked until the transaction ends: a transaction that
    changes the job waits here for any other doing so, then sees what that one committed.

    PostgreSQL locks the row (FOR UPDATE). SQLite has no row locks, and its driver starts the
    transaction only at the first write, so a write that changes nothing takes its one writer's
    lock before the read instead. A job this transaction has locked already is not read again:
    nobody else can have changed it since.
    """
    session.connection()  # begins the transaction, when it has not begun yet
    transaction = session.get_transaction()
    held_by, locked = session.info.get("locked_jobs", (None, set()))
    if held_by is not transaction:  # a new transaction has locked none yet
        locked = set()
        session.info["locked_jobs"] = (transaction, locked)
    if ingestion_id in locked:
        return get_job(session, ingestion_id)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            sa.update(IngestionCommit)
            .where(col(IngestionCommit.id) == ingestion_id)
            .values(status=col(IngestionCommit.status))
            .execution_options(synchronize_session=False)
        )
    job = session.get(IngestionCommit, ingestion_id, with_for_update=True, populate_existing=True)
    if job is None:
        raise JobNotFound(f"ingestion {ingestion_id} does not exist")
    locked.add(ingestion_id)
    return job


def get_repository(session: Session, repository_id: int) -> ConnectedRepository:
    repository = session.get(ConnectedRepository, repository_id)
    if repository is None:
        raise JobNotFound(f"repository {repository_id} does not exist")
    return repository


FINISHED = frozenset(
    {
        IngestionStatus.PROCESSED,
        IngestionStatus.SKIPPED,
        IngestionStatus.FAILED,
        IngestionStatus.CANCELLED,
    }
)
UNFINISHED = frozenset({IngestionStatus.QUEUED, IngestionStatus.RUNNING})
BEING_SENT = timedelta(minutes=1)  # a new job's event is sent, or has failed to be, by then
INDEXED = frozenset({FileStatus.PROCESSED, FileStatus.SKIPPED})  # a file's outcomes that stand


def start(
    session: Session, ingestion_id: int, run_id: str, *, overtaken: str | None = None
) -> IngestionCommit:
    """Mark the job running (again, on a retried step: the first start time stays).

    A job that ended before its run started (cancelled while queued) stays as it ended. One given
    an `overtaken` reason (its commit is behind the one indexed: a push delivered late, see
    functions/ingestion.py) ends skipped with it: running it would take the index back.
    """
    job = lock_job(session, ingestion_id)
    if job.status in FINISHED:
        return job
    if overtaken is not None:
        job.status = IngestionStatus.SKIPPED
        job.error_message = f"overtaken: {overtaken}"
        job.processed_at = utc_now()
        session.add(job)
        return job
    job.status = IngestionStatus.RUNNING
    job.run_id = run_id
    job.started_at = job.started_at or utc_now()
    repository = get_repository(session, job.repository_id)
    repository.config_status = ConfigStatus.INGESTING
    session.add_all([job, repository])
    return job


@dataclass(frozen=True, slots=True)
class NewerCommit:
    """A commit a job must not take its repository's index back from."""

    sha: str
    job_id: int | None  # the job that indexed it or is indexing it, when known
    running: bool  # a later job is indexing it now; else the index holds it


def newer_commits(session: Session, ingestion_id: int) -> list[NewerCommit]:
    """The commit the repository's index holds, and those later jobs of the repository are
    indexing now (a job whose event was sent late starts after them), for a job to compare its
    own commit with before it starts."""
    job = get_job(session, ingestion_id)
    repository = get_repository(session, job.repository_id)
    newer = []
    if repository.last_ingested_sha is not None:
        indexed_by = session.exec(
            select(IngestionCommit.id)
            .where(
                IngestionCommit.repository_id == job.repository_id,
                IngestionCommit.after_sha == repository.last_ingested_sha,
                col(IngestionCommit.status).in_(
                    [IngestionStatus.PROCESSED, IngestionStatus.SKIPPED]
                ),
            )
            .order_by(col(IngestionCommit.id).desc())
        ).first()
        newer.append(NewerCommit(repository.last_ingested_sha, indexed_by, running=False))
    running = session.exec(
        select(IngestionCommit.id, IngestionCommit.after_sha).where(
            IngestionCommit.repository_id == job.repository_id,
            col(IngestionCommit.id) > ingestion_id,
            IngestionCommit.status == IngestionStatus.RUNNING,
        )
    ).all()
    newer += [NewerCommit(sha, job_id, running=True) for job_id, sha in running]
    return newer


def record_job(
    session: Session,
    repository: ConnectedRepository,
    *,
    delivery_id: str,
    after: str,
    trigger: IngestionTrigger,
    before: str | None = None,
    retry_of: int | None = None,
) -> IngestionCommit:
    """A new queued job of `repository`, before its event is sent."""
    assert repository.id is not None
    job = IngestionCommit(
        organization_id=repository.organization_id,
        store_id=repository.store_id,
        repository_id=repository.id,
        delivery_id=delivery_id,
        before_sha=before,
        after_sha=after,
        ref=f"refs/heads/{repository.default_branch}",
        trigger=trigger,
        retry_of=retry_of,
    )
    session.add(job)
    session.flush()
    return job


def record_event_ids(session: Session, sent: Sequence[tuple[int, str | None]]) -> None:
    """Keep the Inngest event id that started each job: (job id, event id) pairs."""
    session.execute(
        sa.update(IngestionCommit),
        [{"id": job_id, "event_id": event_id} for job_id, event_id in sent],
    )


def record_config_error(session: Session, repository_id: int, message: str) -> None:
    repository = get_repository(session, repository_id)
    repository.config_status = ConfigStatus.ERROR
    repository.config_error = message
    session.add(repository)


def store_for(
    session: Session, job: IngestionCommit, config: RepoConfig, embedder: Embedder
) -> Store:
    """The store `config` names, created on first use; the job and repository move to it.

    The repository's chunks in the store it leaves stay there (unsearched, see router/search.py)
    until the job has indexed it into the new one: then `stores_left` finds them.
    """
    repository = get_repository(session, job.repository_id)
    organization = session.get(Organization, repository.organization_id)
    assert organization is not None
    store = ensure_store(session, organization, config.store, embedder)
    check_store_model(store.embedding_model, store.dimension, embedder)
    assert store.id is not None
    job.store_id = repository.store_id = store.id
    session.add_all([job, repository])
    return store


def indexed_shas(
    session: Session, store_id: int, repository_id: int, paths: Collection[str] | None = None
) -> dict[str, str]:
    """Path -> blob sha of the repository's files in the store; only `paths` when given."""
    query = select(IndexedFile.path, IndexedFile.content_sha).where(
        IndexedFile.store_id == store_id, IndexedFile.repository_id == repository_id
    )
    if paths is not None:
        query = query.where(col(IndexedFile.path).in_(paths))
    return dict(session.exec(query).all())


def record_plan(session: Session, ingestion_id: int, planned: Sequence[PlannedFile]) -> None:
    """One row per planned path; a retried step finds its rows and adds none."""
    job = lock_job(session, ingestion_id)
    existing = set(
        session.exec(
            select(IngestionFile.path).where(IngestionFile.ingestion_id == ingestion_id)
        ).all()
    )
    now = utc_now()
    for item in planned:
        if item.path in existing:
            continue
        skipped = item.skip_reason is not None
        session.add(
            IngestionFile(
                ingestion_id=ingestion_id,
                path=item.path,
                action=item.action,
                status=FileStatus.SKIPPED if skipped else FileStatus.PENDING,
                blob_sha=item.blob_sha,
                error=item.skip_reason,
                finished_at=now if skipped else None,
            )
        )
    job.planned_at = job.planned_at or now
    session.add(job)
    session.flush()
    update_counts(session, ingestion_id)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: str
    status: FileStatus
    chunks: int = 0
    error: str | None = None
    started_at: datetime | None = None


def file_rows(
    session: Session, ingestion_id: int, paths: Collection[str]
) -> dict[str, IngestionFile]:
    """Path -> row of the job's files among `paths`."""
    rows = session.exec(
        select(IngestionFile).where(
            IngestionFile.ingestion_id == ingestion_id, col(IngestionFile.path).in_(paths)
        )
    ).all()
    return {row.path: row for row in rows}


def finish_files(session: Session, ingestion_id: int, outcomes: Sequence[FileOutcome]) -> list[int]:
    """Record the outcomes of some of the job's files, in order; for each, the job's files still
    pending right after it. So of files recorded together, only the last of the job can see 0,
    and of files recorded in concurrent transactions, only the last to take the job's lock."""
    lock_job(session, ingestion_id)
    rows = file_rows(session, ingestion_id, [outcome.path for outcome in outcomes])
    now = utc_now()
    ended = []
    for outcome in outcomes:
        row = rows.get(outcome.path)
        if row is None:
            raise JobNotFound(f"ingestion {ingestion_id} has no file {outcome.path!r}")
        if outcome.status is FileStatus.FAILED and row.status in INDEXED:
            # Its run failed for good after recording this (its answer lost, say): it stands.
            ended.append(False)
            continue
        ended.append(row.status is FileStatus.PENDING and outcome.status is not FileStatus.PENDING)
        row.status = outcome.status
        row.chunks = outcome.chunks
        row.error = outcome.error
        row.started_at = outcome.started_at or row.started_at
        row.finished_at = now
        session.add(row)
    session.flush()
    pending = update_counts(session, ingestion_id).pending
    left = []
    for was_pending in reversed(ended):
        left.append(pending)
        pending += was_pending
    return left[::-1]


def count_files(session: Session, ingestion_id: int) -> JobCounts:
    """The job's files by status, from its rows."""
    by_status = dict(
        session.exec(
            select(IngestionFile.status, func.count())
            .where(IngestionFile.ingestion_id == ingestion_id)
            .group_by(col(IngestionFile.status))
        ).all()
    )
    return JobCounts(
        total=sum(by_status.values()),
        processed=by_status.get(FileStatus.PROCESSED, 0),
        failed=by_status.get(FileStatus.FAILED, 0),
        skipped=by_status.get(FileStatus.SKIPPED, 0),
        pending=by_status.get(FileStatus.PENDING, 0),
    )


def update_counts(session: Session, ingestion_id: int) -> JobCounts:
    """Recount the job's files into its counters; under the job's lock, so that the count
    includes every change committed before and no concurrent count overwrites a newer one."""
    job = lock_job(session, ingestion_id)
    counts = count_files(session, ingestion_id)
    job.files_total = counts.total
    job.files_processed = counts.processed
    job.files_failed = counts.failed
    job.files_skipped = counts.skipped
    session.add(job)
    return counts


def finalize(
    session: Session, ingestion_id: int, *, config_found: bool, chunking: str
) -> IngestionCommit:
    """End the job from its file rows and move the repository's ingested sha (and the chunking
    settings its index was made with) forward.

    Files still pending (their runs never reported back in time) are recorded as failed.
    """
    job = lock_job(session, ingestion_id)
    if job.status in (IngestionStatus.CANCELLED, IngestionStatus.FAILED):
        return job
    session.execute(
        sa.update(IngestionFile)
        .where(
            col(IngestionFile.ingestion_id) == ingestion_id,
            col(IngestionFile.status) == FileStatus.PENDING,
        )
        .values(
            status=FileStatus.FAILED,
            error="did not finish before the job stopped waiting",
            finished_at=utc_now(),
        )
    )
    counts = update_counts(session, ingestion_id)
    done = counts.processed + counts.failed
    job.status = IngestionStatus.PROCESSED if done else IngestionStatus.SKIPPED
    job.processed_at = utc_now()
    if counts.failed:
        job.error_message = failure_summary(session, ingestion_id)
    repository = get_repository(session, job.repository_id)
    repository.last_ingested_sha = job.after_sha
    repository.chunking = chunking
    repository.config_status = (
        ConfigStatus.CONFIGURED if config_found else ConfigStatus.UNCONFIGURED
    )
    repository.config_error = None
    _job_ended(session, job)
    session.add_all([job, repository])
    return job


def earlier_unfinished(session: Session, ingestion_id: int) -> int | None:
    """The latest earlier job of the same repository that is still to end and will run: it is
    running, its event was sent, or it is younger than BEING_SENT (its event id is recorded just
    after the send). A job whose event could not be sent may never run, so it holds the next
    ones no longer than that."""
    job = get_job(session, ingestion_id)
    return session.exec(
        select(IngestionCommit.id)
        .where(
            IngestionCommit.repository_id == job.repository_id,
            col(IngestionCommit.id) < ingestion_id,
            col(IngestionCommit.status).in_(UNFINISHED),
            sa.or_(
                col(IngestionCommit.event_id).is_not(None),
                col(IngestionCommit.status) == IngestionStatus.RUNNING,
                col(IngestionCommit.created_at) > utc_now() - BEING_SENT,
            ),
        )
        .order_by(col(IngestionCommit.id).desc())
        .limit(1)
    ).first()


def unfinished_retry(session: Session, ingestion_id: int) -> int | None:
    """A queued or running retry of the job, if there is one."""
    return session.exec(
        select(IngestionCommit.id).where(
            IngestionCommit.retry_of == ingestion_id, col(IngestionCommit.status).in_(UNFINISHED)
        )
    ).first()


def newer_finished(session: Session, job: IngestionCommit) -> int | None:
    """The newest later job of the same repository that brought the index to its sha."""
    return session.exec(
        select(IngestionCommit.id)
        .where(
            IngestionCommit.repository_id == job.repository_id,
            col(IngestionCommit.id) > job.id,
            col(IngestionCommit.status).in_([IngestionStatus.PROCESSED, IngestionStatus.SKIPPED]),
        )
        .order_by(col(IngestionCommit.id).desc())
    ).first()


def failed_paths(session: Session, ingestion_id: int) -> list[str]:
    return list(
        session.exec(
            select(IngestionFile.path).where(
                IngestionFile.ingestion_id == ingestion_id,
                IngestionFile.status == FileStatus.FAILED,
            )
        ).all()
    )


def failure_summary(session: Session, ingestion_id: int, limit: int = 5) -> str:
    rows = session.exec(
        select(IngestionFile.path, IngestionFile.error)
        .where(
            IngestionFile.ingestion_id == ingestion_id,
            IngestionFile.status == FileStatus.FAILED,
        )
        .order_by(col(IngestionFile.path))
    ).all()
    lines = [f"{path}: {error}" for path, error in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"... and {len(rows) - limit} more")
    return f"{len(rows)} file(s) failed: " + "; ".join(lines)


def fail(session: Session, ingestion_id: int, message: str) -> None:
    job = lock_job(session, ingestion_id)
    if job.status is IngestionStatus.CANCELLED:
        return
    update_counts(session, ingestion_id)
    job.status = IngestionStatus.FAILED
    job.error_message = message
    job.processed_at = utc_now()
    repository = get_repository(session, job.repository_id)
    if repository.config_status is ConfigStatus.INGESTING:
        repository.config_status = ConfigStatus.CONFIGURED
    _job_ended(session, job)
    session.add_all([job, repository])


def cancel(session: Session, ingestion_id: int) -> None:
    """End the job as cancelled; files still pending are marked skipped."""
    job = lock_job(session, ingestion_id)
    if job.status in (IngestionStatus.PROCESSED, IngestionStatus.SKIPPED, IngestionStatus.FAILED):
        return
    session.execute(
        sa.update(IngestionFile)
        .where(
            col(IngestionFile.ingestion_id) == ingestion_id,
            col(IngestionFile.status) == FileStatus.PENDING,
        )
        .values(status=FileStatus.SKIPPED, error=CANCELLED_REASON, finished_at=utc_now())
    )
    update_counts(session, ingestion_id)
    job.status = IngestionStatus.CANCELLED
    job.processed_at = utc_now()
    repository = get_repository(session, job.repository_id)
    if repository.config_status is ConfigStatus.INGESTING:
        repository.config_status = ConfigStatus.CONFIGURED
    _job_ended(session, job)
    session.add_all([job, repository])


def _job_ended(session: Session, job: IngestionCommit) -> None:
    session.execute(
        sa.update(Organization)
        .where(col(Organization.id) == job.organization_id)
        .values(jobs_version=col(Organization.jobs_version) + 1)
    )


def jobs_version(session: Session, organization_id: int) -> int:
    """Moves whenever a job of the organization ends."""
    version = session.exec(
        select(Organization.jobs_version).where(Organization.id == organization_id)
    ).first()
    return version or 0


def record_indexed(
    session: Session, store_id: int, repository_id: int, files: Mapping[str, tuple[str, int]]
) -> None:
    """Record what the store now holds for some of the repository's files: path -> (blob sha,
    chunks)."""
    if not files:
        return
    now = utc_now()
    session.execute(
        upsert(
            session,
            IndexedFile,
            unique=("store_id", "repository_id", "path"),
            update=("content_sha", "chunk_count", "updated_at"),
        ),
        [
            {
                "store_id": store_id,
                "repository_id": repository_id,
                "path": path,
                "content_sha": sha,
                "chunk_count": chunks,
                "updated_at": now,
            }
            for path, (sha, chunks) in files.items()
        ],
    )


@dataclass(frozen=True, slots=True)
class StoreLeft:
    id: int
    name: str
    collection: str


def stores_left(session: Session, ingestion_id: int) -> list[StoreLeft]:
    """The stores other than the job's that still hold chunks of its repository: the ones it moved
    from (`store_for`), whose chunks go once the job has indexed the repository into its own."""
    job = get_job(session, ingestion_id)
    stores = session.exec(
        select(Store)
        .where(
            col(Store.id).in_(
                select(IndexedFile.store_id).where(
                    IndexedFile.repository_id == job.repository_id,
                    IndexedFile.store_id != job.store_id,
                )
            )
        )
        .order_by(col(Store.id))
    ).all()
    return [StoreLeft(store.id or 0, store.name, store.collection) for store in stores]


def forget_store(session: Session, store_id: int, repository_id: int) -> None:
    """Forget every file of the repository in the store; its chunks have left it."""
    session.execute(
        sa.delete(IndexedFile).where(
            col(IndexedFile.store_id) == store_id,
            col(IndexedFile.repository_id) == repository_id,
        )
    )


def forget_indexed(
    session: Session, store_id: int, repository_id: int, paths: Collection[str]
) -> None:
    session.execute(
        sa.delete(IndexedFile).where(
            col(IndexedFile.store_id) == store_id,
            col(IndexedFile.repository_id) == repository_id,
            col(IndexedFile.path).in_(paths),
        )
    )
