"""`docs-file-process`: one file into the index, and its row in the job.

A file whose blob the store already holds is skipped as unchanged (unless the job re-indexes
everything). A file of more than PART_CHUNKS chunks is embedded and upserted in a step per part
(`index`, `index-part-1`, ...) and recorded in a last step (`record`), so no step holds a file
slot for minutes. When the file fails for good, `on_failure` records the failure on its row: one bad
file never fails the job.
"""

from datetime import datetime
from typing import Any

import inngest
from sqlmodel import Session

from functions.ingestion import CANCEL_MATCH
from functions.steps import FailedRun, in_session, notify_if_done, translating
from service import jobs
from service.deps import Services
from service.events import FILE_PROCESS, INGESTION_CANCELLED
from service.indexing import FileTask, Indexed, Skipped, index_file
from service.models import ConnectedRepository, FileStatus, IngestionStatus, utc_now


def create_file_process(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    async def record_failure(ctx: inngest.Context) -> None:
        failed = FailedRun.model_validate(ctx.event.data)
        task = FileTask.model_validate(failed.original_data)

        def work(session: Session) -> int:
            counts = jobs.finish_file(
                session, task.ingestion_id, task.path, FileStatus.FAILED, error=failed.message
            )
            return counts.pending

        pending = await ctx.step.run("record-failure", in_session, services, work)
        await notify_if_done(ctx, task.ingestion_id, pending)

    @client.create_function(
        fn_id="docs-file-process",
        name="Index a file",
        trigger=inngest.TriggerEvent(event=FILE_PROCESS),
        concurrency=[inngest.Concurrency(limit=services.settings.file_concurrency)],
        cancel=[inngest.Cancel(event=INGESTION_CANCELLED, if_exp=CANCEL_MATCH)],
        retries=3,
        on_failure=record_failure,
    )
    async def file_process(ctx: inngest.Context) -> dict[str, Any]:
        task = FileTask.model_validate(ctx.event.data)

        async def index() -> dict[str, Any]:
            # A file of up to PART_CHUNKS chunks is indexed and recorded in this one step: every
            # SDK call holds a concurrency slot. A larger one goes on in a step per part.
            started = utc_now()
            repository, known_sha, cancelled = await in_session(services, _prepare, task)
            if cancelled:
                result: Indexed | Skipped = Skipped(jobs.CANCELLED_REASON)
            elif not task.force and known_sha == task.blob_sha:
                result = Skipped("unchanged")
            else:
                source = services.source_for(repository)
                result = await translating(
                    index_file(task, source, services.embedder, services.vectors)
                )
            if isinstance(result, Indexed) and result.parts > 1:
                return {"parts": result.parts, "started": started.isoformat()}
            return await record(result, started)

        async def index_part(part: int) -> dict[str, Any]:
            repository = await in_session(services, _repository, task)
            source = services.source_for(repository)
            result = await translating(
                index_file(task, source, services.embedder, services.vectors, part)
            )
            return {"chunks": result.chunks} if isinstance(result, Indexed) else {}

        async def record(result: Indexed | Skipped, started: datetime) -> dict[str, Any]:
            pending = await in_session(services, _record, task, result, started)
            status, chunks, error = _outcome(result)
            return {"status": status.value, "chunks": chunks, "error": error, "pending": pending}

        outcome = await ctx.step.run("index", index)
        if "parts" in outcome:
            chunks = 0
            for part in range(1, int(outcome["parts"])):
                done = await ctx.step.run(f"index-part-{part}", index_part, part)
                chunks = int(done.get("chunks", 0))
            result = Indexed(chunks) if chunks else Skipped("the file changed while indexed")
            started = datetime.fromisoformat(outcome["started"])
            outcome = await ctx.step.run("record", record, result, started)
        await notify_if_done(ctx, task.ingestion_id, int(outcome["pending"]))
        return outcome

    return file_process


def _prepare(session: Session, task: FileTask) -> tuple[ConnectedRepository, str | None, bool]:
    """The repository, the blob sha the store holds for the file, and whether the job was
    cancelled (its row ends so at once, before Inngest has stopped every run)."""
    repository = jobs.get_repository(session, task.repository_id)
    known_sha = jobs.indexed_sha(session, task.store_id, task.repository_id, task.path)
    cancelled = jobs.get_job(session, task.ingestion_id).status is IngestionStatus.CANCELLED
    return repository, known_sha, cancelled


def _repository(session: Session, task: FileTask) -> ConnectedRepository:
    return jobs.get_repository(session, task.repository_id)


def _record(session: Session, task: FileTask, result: Indexed | Skipped, started: datetime) -> int:
    """Record the file in the index and in its job; the job's files still pending."""
    assert task.blob_sha is not None
    if isinstance(result, Indexed):
        jobs.record_indexed(
            session, task.store_id, task.repository_id, task.path, task.blob_sha, result.chunks
        )
    elif result.reason not in ("unchanged", jobs.CANCELLED_REASON):
        jobs.forget_indexed(session, task.store_id, task.repository_id, task.path)
    status, chunks, error = _outcome(result)
    counts = jobs.finish_file(
        session,
        task.ingestion_id,
        task.path,
        status,
        chunks=chunks,
        error=error,
        started_at=started,
    )
    return counts.pending


def _outcome(result: Indexed | Skipped) -> tuple[FileStatus, int, str | None]:
    """The file row's status, chunks and error for `result`."""
    if isinstance(result, Indexed):
        return FileStatus.PROCESSED, result.chunks, None
    return FileStatus.SKIPPED, 0, result.reason
