"""Following a job until it ends: a live progress line, then one summary line.

The job's row is read from the database the service writes (files done / total are counted from
its file rows). On a terminal the progress is one line redrawn in place; otherwise (a log, a pipe)
a line is printed when the status changes and at every tenth of the files, so a CI log stays
short. Ctrl-C stops watching, not the job.
"""

import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TextIO

import click
from sqlalchemy import Engine
from sqlmodel import Session

from cli.output import echo_json
from service.models import ConnectedRepository, IngestionCommit, IngestionStatus

POLL_INTERVAL_S = 0.2
LOG_STEPS = 10  # progress lines per job when the output is not a terminal
BAR_WIDTH = 24
INTERRUPTED_EXIT = 130
FINISHED = frozenset(
    {
        IngestionStatus.PROCESSED,
        IngestionStatus.SKIPPED,
        IngestionStatus.FAILED,
        IngestionStatus.CANCELLED,
    }
)


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    id: int
    repository: str
    status: IngestionStatus
    trigger: str
    before: str | None
    after: str
    total: int
    processed: int
    failed: int
    skipped: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    processed_at: datetime | None

    @property
    def done(self) -> int:
        return self.processed + self.failed + self.skipped

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        ok = {IngestionStatus.PROCESSED, IngestionStatus.SKIPPED}
        return self.status in ok and not self.failed

    def seconds(self) -> float | None:
        if self.processed_at is None:
            return None
        return (self.processed_at - (self.started_at or self.created_at)).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.id,
            "repository": self.repository,
            "status": self.status.value,
            "trigger": self.trigger,
            "before": self.before,
            "after": self.after,
            "filesTotal": self.total,
            "filesProcessed": self.processed,
            "filesFailed": self.failed,
            "filesSkipped": self.skipped,
            "error": self.error,
            "seconds": self.seconds(),
        }


def read_job(engine: Engine, job_id: int) -> JobSnapshot:
    with Session(engine) as session:
        job = session.get(IngestionCommit, job_id)
        if job is None:
            raise click.ClickException(
                f"job {job_id} is not in this command's database: is the service using another "
                "one (DOCS_INGEST_DATA_DIR / DATABASE_URL)? --no-wait does not follow the job"
            )
        repository = session.get(ConnectedRepository, job.repository_id)
        assert job.id is not None and repository is not None
        return JobSnapshot(
            id=job.id,
            repository=repository.full_name,
            status=job.status,
            trigger=job.trigger.value,
            before=job.before_sha,
            after=job.after_sha,
            total=job.files_total,
            processed=job.files_processed,
            failed=job.files_failed,
            skipped=job.files_skipped,
            error=job.error_message,
            created_at=job.created_at,
            started_at=job.started_at,
            processed_at=job.processed_at,
        )


class ProgressView(Protocol):
    def show(self, job: JobSnapshot) -> None: ...

    def close(self) -> None: ...


def _state(job: JobSnapshot) -> str:
    if job.status is IngestionStatus.RUNNING and not job.total:
        return "planning"
    return job.status.value


class LiveLine:
    """One line redrawn in place, for a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn = False

    def show(self, job: JobSnapshot) -> None:
        line = f"job {job.id} {job.repository}: {_state(job)}"
        if job.total:
            filled = BAR_WIDTH * job.done // job.total
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            line += f" [{bar}] {job.done}/{job.total} files"
        width = shutil.get_terminal_size().columns - 1
        click.echo("\r" + line[:width].ljust(width), file=self._stream, nl=False)
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            click.echo("\r\033[K", file=self._stream, nl=False)


class LogLines:
    """A line per status change and per tenth of the files, for a log or a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._state: str | None = None
        self._step = -1

    def show(self, job: JobSnapshot) -> None:
        state = _state(job)
        if state != self._state and not job.finished:
            click.echo(f"job {job.id} {job.repository}: {state}", file=self._stream)
            self._state = state
        if job.total:
            step = math.floor(LOG_STEPS * job.done / job.total)
            if step > self._step:
                self._step = step
                click.echo(f"job {job.id}: {job.done}/{job.total} files", file=self._stream)

    def close(self) -> None:
        pass


def view_for(stream: TextIO) -> ProgressView:
    return LiveLine(stream) if stream.isatty() else LogLines(stream)


def watch(
    read: Callable[[], JobSnapshot],
    view: ProgressView,
    *,
    interval: float = POLL_INTERVAL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> JobSnapshot:
    """Show the job until it ends; its last state."""
    last: JobSnapshot | None = None
    try:
        while True:
            job = read()
            if job != last:
                view.show(job)
                last = job
            if job.finished:
                return job
            sleep(interval)
    finally:
        view.close()


def summary(job: JobSnapshot) -> str:
    where = f"{job.repository} at {job.after[:7]}"
    counts = f"{job.processed} processed, {job.skipped} skipped, {job.failed} failed"
    took = f" in {seconds:.1f} s" if (seconds := job.seconds()) is not None else ""
    match job.status:
        case IngestionStatus.PROCESSED if job.failed:
            return f"job {job.id} indexed {where} with failures: {counts}{took}; {job.error}"
        case IngestionStatus.PROCESSED:
            return f"job {job.id} indexed {where}: {counts}{took}"
        case IngestionStatus.SKIPPED:
            return f"job {job.id} found nothing to index in {where} ({counts}){took}"
        case IngestionStatus.CANCELLED:
            return f"job {job.id} on {where} was cancelled after {job.done}/{job.total} files"
        case IngestionStatus.FAILED:
            return f"job {job.id} on {where} failed: {job.error or 'no reason recorded'}"
        case _:
            return f"job {job.id} on {where} is {job.status.value}"


def follow(engine: Engine, job_id: int, *, as_json: bool) -> None:
    """Watch the job to its end and report it; a job that did not fully succeed exits 1."""
    view: ProgressView = _Silent() if as_json else view_for(sys.stdout)
    try:
        job = watch(lambda: read_job(engine, job_id), view)
    except KeyboardInterrupt:
        click.echo(f"\nstopped watching; job {job_id} goes on in the service", err=True)
        raise SystemExit(INTERRUPTED_EXIT) from None
    if as_json:
        echo_json(job.to_json())
        if not job.succeeded:
            raise SystemExit(1)
        return
    if not job.succeeded:
        raise click.ClickException(summary(job))
    click.echo(summary(job))


class _Silent:
    def show(self, job: JobSnapshot) -> None:
        pass

    def close(self) -> None:
        pass
