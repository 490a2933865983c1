"""Starting a job the router recorded (a sync, a retry): its `docs/sync.requested` event.

The event's id is the job's delivery id, so Inngest never runs one job twice. When Inngest does
not take the event, the job ends failed with the reason and the caller gets a 503.
"""

import logging
from typing import Any

import inngest

from router.errors import ErrorCode, ProcedureError
from router.procedure import Context
from service import jobs, logs, metrics
from service.events import SYNC_REQUESTED
from service.models import IngestionCommit

log = logging.getLogger("router.starting")


async def send_ingestion_event(
    context: Context, job: IngestionCommit, extra: dict[str, Any]
) -> None:
    assert job.id is not None
    logs.bind(job_id=job.id, delivery_id=job.delivery_id)
    data: dict[str, Any] = {
        "ingestion_id": job.id,
        "repository_id": job.repository_id,
        "after": job.after_sha,
    }
    event = inngest.Event(name=SYNC_REQUESTED, id=job.delivery_id, data={**data, **extra})
    try:
        ids = await metrics.send_events(context.services.inngest, [event])
    except Exception as exc:  # the SDK raises several types; every one means "not sent"
        log.warning("job %s: could not send %s: %s", job.id, SYNC_REQUESTED, exc)
        message = f"could not start job #{job.id}: Inngest did not take the event ({exc})"
        await context.in_session(jobs.fail, job.id, message)
        raise ProcedureError(ErrorCode.SERVICE_UNAVAILABLE, message) from exc
    await context.in_session(jobs.record_event_ids, [(job.id, ids[0] if ids else None)])
