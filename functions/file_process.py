"""`docs-file-process`: one file into the index, and its row in the job.

A file of up to PART_CHUNKS chunks (nearly every file) takes one SDK call and no step: the run
reads, chunks, embeds and upserts it, records its row and, when it was the job's last file, sends
`files-done`. A step would cost a second call of every run, and the second calls of the first files
would queue behind the first calls of the rest. Retries are the run's, and every attempt starts by
reading the file's row: once the row is recorded, an attempt only repeats the `files-done` notice
(deduplicated by its event id), so nothing is embedded or recorded twice.

A larger file is embedded and upserted in a step per part (`index-part-0`, ...) and recorded in a
last step (`record`), so no step holds a file slot for minutes. A file whose blob the store
already holds is skipped as unchanged (unless the job re-indexes everything). When the file fails
for good, `on_failure` records the failure on its row: one bad file never fails the job.
"""

import logging
from datetime import datetime
from typing import Any

import inngest

from functions.file_rows import FileResult, FileRows, IndexChange
from functions.ingestion import CANCEL_MATCH
from functions.steps import (
    FailedRun,
    event_data,
    notify_if_done,
    send_files_done,
    translating,
)
from service import jobs, metrics
from service.chunking import ChunkedDocument
from service.deps import Services
from service.events import FILE_PROCESS, INGESTION_CANCELLED
from service.indexing import (
    FileTask,
    Indexed,
    Skipped,
    index_part,
    part_count,
    read_document,
)
from service.models import FileAction, FileStatus, utc_now

log = logging.getLogger("functions.file_process")


def create_file_process(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    rows = FileRows(services.db)

    async def record_file(result: FileResult) -> dict[str, Any]:
        """Record the file's row, and count its outcome (timed when this run did the work)."""
        outcome = await rows.record(result)
        metrics.file_ended(FileAction.PROCESS, outcome["status"], result.outcome.started_at)
        return outcome

    async def record_failure(ctx: inngest.Context) -> None:
        failed = FailedRun.model_validate(ctx.event.data)
        task = FileTask.model_validate(failed.original_data)
        failure = FileResult(
            task, jobs.FileOutcome(task.path, FileStatus.FAILED, error=failed.message)
        )

        async def record() -> int:
            log.warning("file %s failed: %s", task.path, failed.message)
            return int((await translating(record_file(failure)))["pending"])

        pending = await ctx.step.run("record-failure", record)
        await notify_if_done(ctx, task.ingestion_id, pending)

    @client.create_function(
        fn_id="docs-file-process",
        name="Index a file",
        trigger=inngest.TriggerEvent(event=FILE_PROCESS),
        concurrency=[inngest.Concurrency(limit=services.settings.files_at_once)],
        cancel=[inngest.Cancel(event=INGESTION_CANCELLED, if_exp=CANCEL_MATCH)],
        retries=3,
        on_failure=record_failure,
    )
    async def file_process(ctx: inngest.Context) -> dict[str, Any]:
        task = event_data(FileTask, ctx)
        started = utc_now()
        state = await translating(rows.look_up(task))
        if state.recorded is not None:
            outcome = state.recorded
        elif not task.force and state.known_sha == task.blob_sha:
            outcome = await record_file(_result(task, Skipped("unchanged"), started))
        else:
            source = services.source_for(state.repository)
            document = await translating(
                read_document(task, source, services.embedder, services.vectors)
            )
            if isinstance(document, Skipped):
                outcome = await record_file(_result(task, document, started))
            elif part_count(document) == 1:
                indexed = await translating(
                    index_part(task, document, services.embedder, services.vectors)
                )
                outcome = await record_file(_result(task, indexed, started))
            else:
                outcome = await index_in_parts(ctx, task, document)
        if outcome["pending"] == 0:
            await send_files_done(client, task.ingestion_id)
        return outcome

    async def index_in_parts(
        ctx: inngest.Context, task: FileTask, document: ChunkedDocument
    ) -> dict[str, Any]:
        async def index(part: int) -> str:
            started = utc_now()
            await translating(index_part(task, document, services.embedder, services.vectors, part))
            return started.isoformat()

        started = await ctx.step.run("index-part-0", index, 0)
        for part in range(1, part_count(document)):
            await ctx.step.run(f"index-part-{part}", index, part)
        indexed = Indexed(len(document.chunks))

        async def record() -> dict[str, Any]:
            return await record_file(_result(task, indexed, datetime.fromisoformat(started)))

        return await ctx.step.run("record", record)

    return file_process


def _result(task: FileTask, result: Indexed | Skipped, started: datetime) -> FileResult:
    """The file row and index change `result` makes."""
    if isinstance(result, Indexed):
        return FileResult(
            task,
            jobs.FileOutcome(task.path, FileStatus.PROCESSED, result.chunks, started_at=started),
            IndexChange.RECORD,
        )
    outcome = jobs.FileOutcome(
        task.path, FileStatus.SKIPPED, error=result.reason, started_at=started
    )
    # Unchanged, the store holds the file as it is; unreadable, its old chunks have left it.
    return FileResult(
        task, outcome, IndexChange.KEEP if result.reason == "unchanged" else IndexChange.FORGET
    )
