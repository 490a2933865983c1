"""`docs-file-process`: one file into the index, and its row in the job.

A file whose blob the store already holds is skipped as unchanged (unless the job re-indexes
everything). When the file fails for good, `on_failure` records the failure on its row: one bad
file never fails the job.
"""

from typing import Any

import inngest
from sqlmodel import Session

from functions.events import FILE_PROCESS, INGESTION_CANCELLED
from functions.ingestion import CANCEL_MATCH
from functions.steps import FailedRun, in_session, notify_if_done, translating
from service import jobs
from service.deps import Services
from service.indexing import FileTask, Indexed, index_file
from service.models import FileStatus


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
            if not task.force:
                indexed = await in_session(
                    services, jobs.indexed_shas, task.store_id, task.repository_id
                )
                if indexed.get(task.path) == task.blob_sha:
                    return {"status": FileStatus.SKIPPED.value, "error": "unchanged", "chunks": 0}
            repository = await in_session(services, jobs.get_repository, task.repository_id)
            source = services.source_for(repository)
            result = await translating(
                index_file(task, source, services.embedder, services.vectors)
            )
            await in_session(services, _record_index, task, result)
            if isinstance(result, Indexed):
                return {
                    "status": FileStatus.PROCESSED.value,
                    "error": None,
                    "chunks": result.chunks,
                }
            return {"status": FileStatus.SKIPPED.value, "error": result.reason, "chunks": 0}

        outcome = await ctx.step.run("index", index)

        def record(session: Session) -> int:
            counts = jobs.finish_file(
                session,
                task.ingestion_id,
                task.path,
                FileStatus(outcome["status"]),
                chunks=int(outcome["chunks"]),
                error=outcome["error"],
            )
            return counts.pending

        pending = await ctx.step.run("record", in_session, services, record)
        await notify_if_done(ctx, task.ingestion_id, pending)
        return outcome

    return file_process


def _record_index(session: Session, task: FileTask, result: object) -> None:
    assert task.blob_sha is not None
    if isinstance(result, Indexed):
        jobs.record_indexed(
            session, task.store_id, task.repository_id, task.path, task.blob_sha, result.chunks
        )
    else:
        jobs.forget_indexed(session, task.store_id, task.repository_id, task.path)
