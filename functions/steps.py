"""What the functions share: database work off the event loop, and error translation for steps.

Service errors become the SDK's flow-control errors here, once: a retriable error with a known
delay becomes `RetryAfterError`, a permanent one (or a job that no longer exists)
`NonRetriableError`, anything else is raised as it is and retried with backoff by Inngest.
"""

import datetime
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import inngest
from pydantic import BaseModel, ValidationError

from service import db, metrics
from service.deps import Services
from service.embeddings import EmbeddingError
from service.events import FILES_DONE
from service.jobs import JobNotFound
from service.sources import SourceError
from service.vectors import VectorStoreError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def in_session(services: Services, work: Callable[..., T], *args: object) -> T:
    """Run `work(session, *args)` in one transaction, off the event loop; a job that does not
    exist fails the run at once (see `translating`)."""
    return await translating(db.in_session(services.db, work, *args))


async def translating(work: Awaitable[T]) -> T:
    """Await `work`, turning service errors into Inngest retry decisions."""
    try:
        return await work
    except JobNotFound as exc:  # deleted, or never ours: it will not appear later
        raise inngest.NonRetriableError(str(exc)) from exc
    except (SourceError, EmbeddingError, VectorStoreError) as exc:
        retry_after = getattr(exc, "retry_after", None)
        if exc.retriable and retry_after:
            raise inngest.RetryAfterError(str(exc), _delay(retry_after)) from exc
        if not exc.retriable:
            raise inngest.NonRetriableError(str(exc)) from exc
        raise


def event_data(model: type[M], ctx: inngest.Context) -> M:
    """The triggering event's data as `model`. Data that does not fit never will, so the run
    fails at once, naming the field, instead of being retried for minutes."""
    try:
        return model.model_validate(ctx.event.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "data"
        problem = f"malformed {ctx.event.name} event: {where}: {first['msg']}"
        raise inngest.NonRetriableError(problem) from exc


class FailedRun(BaseModel):
    """The data of `inngest/function.failed`, as an `on_failure` handler receives it."""

    event: dict[str, Any]
    error: dict[str, Any] = {}

    @property
    def original_data(self) -> dict[str, Any]:
        data = self.event.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def message(self) -> str:
        message = self.error.get("message")
        return message if isinstance(message, str) and message else "failed without a message"


def _delay(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=max(1.0, seconds))


def files_done(ingestion_id: int) -> inngest.Event:
    """The event that wakes the orchestrator when the last file of its job has finished; its id
    makes a repeated notice one event."""
    return inngest.Event(
        name=FILES_DONE, id=f"{ingestion_id}:files-done", data={"ingestion_id": ingestion_id}
    )


async def notify_if_done(ctx: inngest.Context, ingestion_id: int, pending: int) -> None:
    """In a step: tell the orchestrator when the last file of its job has finished."""
    if pending == 0:
        await ctx.step.send_event("files-done", files_done(ingestion_id))


async def send_files_done(client: inngest.Inngest, ingestion_id: int) -> None:
    """Outside steps: a retried run sends it again, and the event id makes that one event."""
    await metrics.send_events(client, [files_done(ingestion_id)])
