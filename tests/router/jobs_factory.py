"""`make_job`: a job row with its files, written straight to the database, for router tests."""

from datetime import timedelta

from sqlalchemy import Engine

from service import jobs
from service.db import session_scope
from service.models import (
    ConnectedRepository,
    FileAction,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    utc_now,
)


def make_job(
    db: Engine,
    repository: ConnectedRepository,
    *,
    status: IngestionStatus = IngestionStatus.PROCESSED,
    files: dict[str, FileStatus] | None = None,
    after: str = "a" * 40,
    before: str | None = None,
    delivery_id: str | None = None,
    error: str | None = None,
    event_id: str | None = None,
    run_id: str | None = None,
    retry_of: int | None = None,
) -> int:
    """A job of `repository` in `status`, with one row per file; its id."""
    assert repository.id is not None
    now = utc_now()
    finished = status not in jobs.UNFINISHED
    with session_scope(db) as session:
        job = IngestionCommit(
            organization_id=repository.organization_id,
            store_id=repository.store_id,
            repository_id=repository.id,
            delivery_id=delivery_id or f"delivery-{now.timestamp()}-{id(object())}",
            before_sha=before,
            after_sha=after,
            ref="refs/heads/main",
            trigger=IngestionTrigger.PUSH,
            status=status,
            error_message=error,
            event_id=event_id,
            run_id=run_id,
            retry_of=retry_of,
            created_at=now - timedelta(seconds=30),
            started_at=None if status is IngestionStatus.QUEUED else now - timedelta(seconds=20),
            planned_at=None if status is IngestionStatus.QUEUED else now - timedelta(seconds=15),
            processed_at=now if finished else None,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        for path, file_status in (files or {}).items():
            session.add(
                IngestionFile(
                    ingestion_id=job.id,
                    path=path,
                    action=FileAction.PROCESS,
                    status=file_status,
                    chunks=3 if file_status is FileStatus.PROCESSED else 0,
                    error="cannot be decoded" if file_status is FileStatus.FAILED else None,
                    started_at=None if file_status is FileStatus.PENDING else now,
                    finished_at=None if file_status is FileStatus.PENDING else now,
                )
            )
        session.flush()
        jobs.update_counts(session, job.id)
        return job.id
