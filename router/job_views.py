"""How a job looks on the wire, and the table reads behind `jobs.list` and `jobs.get`.

The `ingestion_commit` table is the history: everything here is read from it, in the caller's
organization only. What Inngest says about unfinished jobs is laid over it by `router.jobs`.
"""

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlmodel import Session, col, func, select

from router.procedure import MAX_ID, Id, ProcedureInput, ProcedureOutput
from service import jobs
from service.models import (
    ConnectedRepository,
    FileAction,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    Provider,
    utc_now,
)

MAX_TEXT = 200
MAX_FILTER_IDS = 100
_JOB_ID = re.compile(r"#?(\d{1,18})")
_SHA_PREFIX = re.compile(r"[0-9a-f]{4,40}")


class JobFilter(ProcedureInput):
    """Which jobs: `jobs.list`'s filter, also what `retryMany` / `cancelMany` act on."""

    status: list[IngestionStatus] | None = Field(None, max_length=len(IngestionStatus))
    repository_ids: list[Id] | None = Field(None, max_length=MAX_FILTER_IDS)
    text: str | None = Field(None, max_length=MAX_TEXT)


class RepositoryRef(ProcedureOutput):
    id: int
    full_name: str
    provider: Provider
    url: str | None


class Progress(ProcedureOutput):
    total: int
    processed: int
    skipped: int
    failed: int
    pending: int


class RunRef(ProcedureOutput):
    id: str | None
    url: str | None
    status: str | None


class Job(ProcedureOutput):
    id: int
    repository: RepositoryRef
    trigger: IngestionTrigger
    retry_of: int | None
    delivery_id: str
    ref: str | None
    before: str | None
    after: str
    compare_url: str | None
    status: IngestionStatus
    waiting_for: str | None
    progress: Progress
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    run: RunRef
    stale: bool = False


class StatusCounts(ProcedureOutput):
    queued: int = 0
    running: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: int = 0


class Phase(ProcedureOutput):
    name: str
    label: str
    state: str  # done | active | pending | failed | cancelled
    started_at: datetime | None
    finished_at: datetime | None


class JobFile(ProcedureOutput):
    path: str
    action: FileAction
    status: FileStatus
    chunks: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None


class FileCounts(ProcedureOutput):
    pending: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0


class FilePage(ProcedureOutput):
    items: list[JobFile]
    next_cursor: str | None
    counts: FileCounts


Row = tuple[IngestionCommit, ConnectedRepository]


def id_of(job: IngestionCommit) -> int:
    """The id of a stored job (only a job not yet flushed has none)."""
    assert job.id is not None
    return job.id


# --- reads ---------------------------------------------------------------------------------------


def _scoped(organization_id: int) -> Any:
    return select(IngestionCommit).where(IngestionCommit.organization_id == organization_id)


def _with_repositories(session: Session, found: Sequence[IngestionCommit]) -> list[Row]:
    ids = {job.repository_id for job in found}
    query = select(ConnectedRepository).where(col(ConnectedRepository.id).in_(ids))
    repositories = {repository.id: repository for repository in session.exec(query)}
    return [(job, repositories[job.repository_id]) for job in found]


def _filtered(query: Any, filter: JobFilter, *, with_status: bool = True) -> Any:
    if with_status and filter.status:
        query = query.where(col(IngestionCommit.status).in_(filter.status))
    if filter.repository_ids:
        query = query.where(col(IngestionCommit.repository_id).in_(filter.repository_ids))
    text = (filter.text or "").strip()
    if text:
        query = query.where(sa.or_(*_text_matches(text)))
    return query


def _text_matches(text: str) -> list[Any]:
    """A job id, a delivery id, a sha prefix, or (a part of) the path of one of its files, in any
    case (explicitly: SQLite's LIKE ignores ASCII case, PostgreSQL's does not)."""
    matches: list[Any] = [
        IngestionCommit.delivery_id == text,
        col(IngestionCommit.id).in_(
            select(IngestionFile.ingestion_id).where(
                col(IngestionFile.path).icontains(text, autoescape=True)
            )
        ),
    ]
    if (number := _JOB_ID.fullmatch(text)) and int(number.group(1)) <= MAX_ID:
        matches.append(IngestionCommit.id == int(number.group(1)))
    if _SHA_PREFIX.fullmatch(text.lower()):
        prefix = text.lower()
        matches.append(col(IngestionCommit.after_sha).startswith(prefix, autoescape=True))
        matches.append(col(IngestionCommit.before_sha).startswith(prefix, autoescape=True))
    return matches


def list_page(
    session: Session, organization_id: int, filter: JobFilter, before_id: int | None, limit: int
) -> tuple[list[Row], bool]:
    """Up to `limit` jobs newest first, older than `before_id`; and whether more follow."""
    query = _filtered(_scoped(organization_id), filter)
    if before_id is not None:
        query = query.where(col(IngestionCommit.id) < before_id)
    found = list(session.exec(query.order_by(col(IngestionCommit.id).desc()).limit(limit + 1)))
    return _with_repositories(session, found[:limit]), len(found) > limit


def matching_ids(session: Session, organization_id: int, filter: JobFilter, cap: int) -> list[int]:
    query = _filtered(_scoped(organization_id), filter).with_only_columns(col(IngestionCommit.id))
    return list(session.exec(query.order_by(col(IngestionCommit.id).desc()).limit(cap)))


class StatusCounter:
    """Jobs by status for a filter's repositories and text, whatever its statuses.

    Counting a long history by status on every poll would cost more than the rest of the answer.
    Finished jobs change only when a job of the organization ends, which moves its
    `jobs_version`, so their counts are kept per (organization, filter) and recounted only then;
    queued and running jobs are few and counted every time.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._finished: OrderedDict[tuple[Any, ...], tuple[int, dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def counts(self, session: Session, organization_id: int, filter: JobFilter) -> StatusCounts:
        key = (organization_id, tuple(sorted(filter.repository_ids or ())), filter.text)
        version = jobs.jobs_version(session, organization_id)
        with self._lock:
            kept = self._finished.get(key)
        if kept is not None and kept[0] == version:
            finished = kept[1]
        else:
            finished = self._count(session, organization_id, filter, finished=True)
            with self._lock:
                self._finished[key] = (version, finished)
                self._finished.move_to_end(key)
                while len(self._finished) > self._size:
                    self._finished.popitem(last=False)
        unfinished = self._count(session, organization_id, filter, finished=False)
        return StatusCounts(**finished, **unfinished)

    def _count(
        self, session: Session, organization_id: int, filter: JobFilter, *, finished: bool
    ) -> dict[str, int]:
        statuses = jobs.FINISHED if finished else jobs.UNFINISHED
        query = select(IngestionCommit.status, func.count()).where(
            IngestionCommit.organization_id == organization_id,
            col(IngestionCommit.status).in_(statuses),
        )
        query = _filtered(query, filter, with_status=False).group_by(col(IngestionCommit.status))
        return {str(status): count for status, count in session.exec(query)}


def find(session: Session, organization_id: int, job_id: int) -> Row | None:
    found = session.exec(_scoped(organization_id).where(IngestionCommit.id == job_id)).first()
    return None if found is None else _with_repositories(session, [found])[0]


def unfinished(session: Session, organization_id: int) -> list[IngestionCommit]:
    """Every queued or running job of the organization, oldest first: what waits behind what."""
    query = _scoped(organization_id).where(
        col(IngestionCommit.status).in_([IngestionStatus.QUEUED, IngestionStatus.RUNNING])
    )
    # Sorted here: ordered by id in SQL, the query would walk the whole history by id instead of
    # the few unfinished rows by status.
    return sorted(session.exec(query), key=id_of)


def file_page(
    session: Session,
    job_id: int,
    statuses: Sequence[FileStatus] | None,
    after_id: int | None,
    limit: int,
) -> FilePage:
    query = select(IngestionFile).where(IngestionFile.ingestion_id == job_id)
    if statuses:
        query = query.where(col(IngestionFile.status).in_(statuses))
    if after_id is not None:
        query = query.where(col(IngestionFile.id) > after_id)
    rows = list(session.exec(query.order_by(col(IngestionFile.id)).limit(limit + 1)))
    counts = session.exec(
        select(IngestionFile.status, func.count())
        .where(IngestionFile.ingestion_id == job_id)
        .group_by(col(IngestionFile.status))
    )
    return FilePage(
        items=[_file(row) for row in rows[:limit]],
        next_cursor=str(rows[limit - 1].id) if len(rows) > limit else None,
        counts=FileCounts(**{str(status): count for status, count in counts}),
    )


def last_file_finished(session: Session, job_id: int) -> datetime | None:
    finished: datetime | None = session.exec(
        select(func.max(IngestionFile.finished_at)).where(IngestionFile.ingestion_id == job_id)
    ).first()
    return finished


# --- shapes --------------------------------------------------------------------------------------


def job_view(
    job: IngestionCommit,
    repository: ConnectedRepository,
    *,
    github_web: str,
    run_url: str | None,
    run_status: str | None = None,
    waiting_for: str | None = None,
    stale: bool = False,
) -> Job:
    assert job.id is not None and repository.id is not None
    pending = pending_files(job)
    repo_url = repository_url(repository, github_web)
    return Job(
        id=job.id,
        repository=RepositoryRef(
            id=repository.id,
            full_name=repository.full_name,
            provider=repository.provider,
            url=repo_url,
        ),
        trigger=job.trigger,
        retry_of=job.retry_of,
        delivery_id=job.delivery_id,
        ref=job.ref,
        before=job.before_sha,
        after=job.after_sha,
        compare_url=_compare_url(repo_url, job.before_sha, job.after_sha),
        status=job.status,
        waiting_for=waiting_for,
        progress=Progress(
            total=job.files_total,
            processed=job.files_processed,
            skipped=job.files_skipped,
            failed=job.files_failed,
            pending=max(pending, 0),
        ),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.processed_at,
        duration_ms=_duration_ms(job.started_at, job.processed_at),
        error=job.error_message,
        run=RunRef(id=job.run_id, url=run_url, status=run_status),
        stale=stale,
    )


def pending_files(job: IngestionCommit) -> int:
    """The job's files not yet done, from its counters."""
    return job.files_total - job.files_processed - job.files_skipped - job.files_failed


def repository_url(repository: ConnectedRepository, github_web: str) -> str | None:
    """Where people browse the repository: its GitHub page; a local one has none."""
    if repository.provider is not Provider.GITHUB:
        return None
    return f"{github_web}/{repository.full_name}"


def github_web_origin(api_url: str) -> str:
    """Where people browse the repositories of a GitHub API: `api.github.com` and GitHub
    Enterprise Cloud's `api.NAME.ghe.com` drop their `api.`; GitHub Enterprise Server's API lives
    under /api/v3 of the site itself."""
    origin = api_url.rstrip("/").removesuffix("/api/v3")
    scheme, _, host = origin.partition("://")
    return f"{scheme}://{host.removeprefix('api.')}"


def _compare_url(repo_url: str | None, before: str | None, after: str) -> str | None:
    if repo_url is None:
        return None
    if before and before.strip("0"):
        return f"{repo_url}/compare/{before}...{after}"
    return f"{repo_url}/commit/{after}"


def _duration_ms(started: datetime | None, finished: datetime | None) -> int | None:
    if started is None:
        return None
    return int(((finished or utc_now()) - started).total_seconds() * 1000)


def _file(row: IngestionFile) -> JobFile:
    return JobFile(
        path=row.path,
        action=row.action,
        status=row.status,
        chunks=row.chunks,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=_duration_ms(row.started_at, row.finished_at) if row.finished_at else None,
    )


def phases(job: IngestionCommit, last_file_at: datetime | None) -> list[Phase]:
    """queued → planning → indexing N files → finalizing → done, with times from the table.

    Each phase starts where the one before it ended; one that started and did not end is active
    while the job runs, and is where the job stopped once it has ended.
    """
    status = job.status
    finished = status not in (IngestionStatus.QUEUED, IngestionStatus.RUNNING)
    pending = pending_files(job)
    indexed = job.planned_at and (last_file_at or job.planned_at) if pending <= 0 else None
    ends = [job.started_at, job.planned_at, indexed, job.processed_at]
    if status is IngestionStatus.CANCELLED:
        # A cancel is no finalizing: it stops the phase it finds. The files in flight that end
        # after it do not make that phase done.
        cancelled_at = job.processed_at
        ends = [_by(end, cancelled_at) for end in ends[:3]] + [None]
    files = f"{job.files_total} file{'' if job.files_total == 1 else 's'}"
    indexing = f"Indexing {files}" if job.planned_at is not None else "Indexing"
    labels = ["Queued", "Planning", indexing, "Finalizing"]
    names = ["queued", "planning", "indexing", "finalizing"]
    stopped = "cancelled" if status is IngestionStatus.CANCELLED else "failed"
    result: list[Phase] = []
    start: datetime | None = job.created_at
    for name, label, end in zip(names, labels, ends, strict=True):
        if end is not None and start is not None:
            state = "done"
        elif start is not None:
            state = stopped if finished else "active"
            end = job.processed_at if finished else None
        else:
            state = "pending"
        result.append(Phase(name=name, label=label, state=state, started_at=start, finished_at=end))
        start = end if state == "done" else None
    done_state = {
        IngestionStatus.PROCESSED: "done",
        IngestionStatus.SKIPPED: "done",
        IngestionStatus.FAILED: "failed",
        IngestionStatus.CANCELLED: "cancelled",
    }.get(status, "pending")
    done_label = {"failed": "Failed", "cancelled": "Cancelled"}.get(done_state, "Done")
    result.append(
        Phase(
            name="done",
            label=done_label,
            state=done_state,
            started_at=job.processed_at,
            finished_at=job.processed_at,
        )
    )
    return result


def _by(end: datetime | None, limit: datetime | None) -> datetime | None:
    """`end` when it came no later than `limit`."""
    return end if end is not None and limit is not None and end <= limit else None
