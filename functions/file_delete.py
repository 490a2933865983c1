"""`docs-file-delete`: a removed (or newly excluded) file's chunks leave the index."""

from typing import Any

import inngest
from sqlmodel import Session

from functions.ingestion import CANCEL_MATCH
from functions.steps import in_session, notify_if_done, translating
from service import jobs
from service.deps import Services
from service.events import FILE_DELETE, INGESTION_CANCELLED
from service.indexing import FileTask
from service.models import FileStatus


def create_file_delete(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    @client.create_function(
        fn_id="docs-file-delete",
        name="Remove a file from the index",
        trigger=inngest.TriggerEvent(event=FILE_DELETE),
        cancel=[inngest.Cancel(event=INGESTION_CANCELLED, if_exp=CANCEL_MATCH)],
        retries=3,
    )
    async def file_delete(ctx: inngest.Context) -> dict[str, Any]:
        task = FileTask.model_validate(ctx.event.data)

        async def delete() -> int:
            await translating(
                services.vectors.delete_file(task.collection, task.repository, task.path)
            )

            def work(session: Session) -> int:
                jobs.forget_indexed(session, task.store_id, task.repository_id, task.path)
                counts = jobs.finish_file(
                    session, task.ingestion_id, task.path, FileStatus.PROCESSED
                )
                return counts.pending

            return await in_session(services, work)

        pending = await ctx.step.run("delete", delete)
        await notify_if_done(ctx, task.ingestion_id, pending)
        return {"deleted": task.path}

    return file_delete
