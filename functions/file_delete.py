"""`docs-file-delete`: a removed (or newly excluded) file's chunks leave the index.

Like `docs-file-process`, one SDK call and no step: an attempt that finds the file's row recorded
only repeats the `files-done` notice.
"""

from typing import Any

import inngest

from functions.file_rows import FileResult, FileRows, IndexChange
from functions.ingestion import CANCEL_MATCH
from functions.steps import event_data, send_files_done, translating
from service import jobs, metrics
from service.deps import Services
from service.events import FILE_DELETE, INGESTION_CANCELLED
from service.indexing import FileTask
from service.models import FileAction, FileStatus, utc_now


def create_file_delete(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    rows = FileRows(services.db)

    @client.create_function(
        fn_id="docs-file-delete",
        name="Remove a file from the index",
        trigger=inngest.TriggerEvent(event=FILE_DELETE),
        cancel=[inngest.Cancel(event=INGESTION_CANCELLED, if_exp=CANCEL_MATCH)],
        retries=3,
    )
    async def file_delete(ctx: inngest.Context) -> dict[str, Any]:
        task = event_data(FileTask, ctx)
        started = utc_now()
        state = await translating(rows.look_up(task))
        outcome = state.recorded
        if outcome is None:
            await translating(
                services.vectors.delete_file(task.collection, task.repository, task.path)
            )
            done = jobs.FileOutcome(task.path, FileStatus.PROCESSED, started_at=started)
            outcome = await rows.record(FileResult(task, done, IndexChange.FORGET))
            metrics.file_ended(FileAction.DELETE, outcome["status"], started)
        if outcome["pending"] == 0:
            await send_files_done(client, task.ingestion_id)
        return {"deleted": task.path, **outcome}

    return file_delete
