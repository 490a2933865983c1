"""What file runs read and write in the database, batched across the runs in flight.

Alone, each file run's look-up and record would cost a worker-thread hop, several statements, a
commit and a count of its job's rows: with thousands of files, the pipeline's largest cost. Through
`batched_in_session` the runs in flight share one transaction to look their files up and one to
record them (should a batch fail, each of its files is run alone, so a bad one fails alone).
"""

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from service import jobs
from service.db import batched_in_session
from service.indexing import FileTask
from service.models import ConnectedRepository, FileStatus, IngestionFile

Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True, slots=True)
class FileState:
    """What a file run needs before it starts."""

    repository: ConnectedRepository
    known_sha: str | None  # the blob the store holds for the path
    # The run's output when the file's row is no longer pending: an earlier attempt recorded it,
    # or the job was cancelled or gave up waiting. Nothing is then done again.
    recorded: dict[str, Any] | None


class IndexChange(Enum):
    KEEP = "keep"  # the store holds what it held
    RECORD = "record"  # the store now holds the task's blob, `outcome.chunks` chunks
    FORGET = "forget"  # the store no longer holds the path


@dataclass(frozen=True, slots=True)
class FileResult:
    task: FileTask
    outcome: jobs.FileOutcome
    index: IndexChange = IndexChange.KEEP


class FileRows:
    def __init__(self, db: Engine) -> None:
        self.look_up = batched_in_session(db, _look_up)
        self.record = batched_in_session(db, _record)


def output(row: IngestionFile | jobs.FileOutcome, pending: int) -> dict[str, Any]:
    """A file run's output: its row's outcome and the job's files still pending after it."""
    return {
        "status": row.status.value,
        "chunks": row.chunks,
        "error": row.error,
        "pending": pending,
    }


def _look_up(session: Session, tasks: list[FileTask]) -> list[FileState]:
    known = {
        (store_id, repository_id): jobs.indexed_shas(
            session, store_id, repository_id, [task.path for task in group]
        )
        for (store_id, repository_id), group in _grouped(
            tasks, lambda task: (task.store_id, task.repository_id)
        ).items()
    }
    rows = {
        job_id: jobs.file_rows(session, job_id, [task.path for task in group])
        for job_id, group in _grouped(tasks, lambda task: task.ingestion_id).items()
    }
    pending: dict[int, int] = {}
    states = []
    for task in tasks:
        row = rows[task.ingestion_id].get(task.path)
        if row is None:
            raise jobs.JobNotFound(f"ingestion {task.ingestion_id} has no file {task.path!r}")
        recorded = None
        if row.status is not FileStatus.PENDING:
            if task.ingestion_id not in pending:
                pending[task.ingestion_id] = jobs.count_files(session, task.ingestion_id).pending
            recorded = output(row, pending[task.ingestion_id])
        states.append(
            FileState(
                repository=jobs.get_repository(session, task.repository_id),
                known_sha=known[task.store_id, task.repository_id].get(task.path),
                recorded=recorded,
            )
        )
    return states


def _record(session: Session, results: list[FileResult]) -> list[dict[str, Any]]:
    # Each job's lock first, in one order: concurrent batches (app replicas) recording files of
    # the same jobs then wait for each other instead of deadlocking.
    for job_id in sorted({result.task.ingestion_id for result in results}):
        jobs.lock_job(session, job_id)
    for (store_id, repository_id), group in _grouped(
        results, lambda result: (result.task.store_id, result.task.repository_id)
    ).items():
        indexed = {
            r.task.path: (r.task.blob_sha or "", r.outcome.chunks)
            for r in group
            if r.index is IndexChange.RECORD
        }
        forgotten = [r.task.path for r in group if r.index is IndexChange.FORGET]
        if indexed:
            jobs.record_indexed(session, store_id, repository_id, indexed)
        if forgotten:
            jobs.forget_indexed(session, store_id, repository_id, forgotten)
    outputs: dict[int, dict[str, Any]] = {}
    for job_id, positions in _grouped(
        list(range(len(results))), lambda at: results[at].task.ingestion_id
    ).items():
        left = jobs.finish_files(session, job_id, [results[at].outcome for at in positions])
        for at, pending in zip(positions, left, strict=True):
            outputs[at] = output(results[at].outcome, pending)
    return [outputs[at] for at in range(len(results))]


def _grouped(items: list[Item], key: Callable[[Item], Key]) -> dict[Key, list[Item]]:
    groups: dict[Key, list[Item]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups
