"""`docs-ingestion-cancel`: a cancelled job's row ends `cancelled` (its runs are cancelled by
the `cancel` rules of the functions themselves)."""

from typing import Any

import inngest
from pydantic import BaseModel

from functions.steps import event_data, in_session
from service import jobs
from service.deps import Services
from service.events import INGESTION_CANCELLED


class CancelledEvent(BaseModel):
    ingestion_id: int


def create_cancel(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    @client.create_function(
        fn_id="docs-ingestion-cancel",
        name="Record a cancelled job",
        trigger=inngest.TriggerEvent(event=INGESTION_CANCELLED),
    )
    async def cancel(ctx: inngest.Context) -> None:
        ingestion_id = event_data(CancelledEvent, ctx).ingestion_id
        await ctx.step.run("cancel", in_session, services, jobs.cancel, ingestion_id)

    return cancel
