"""`repositories.list` and `repositories.sync`: the caller's connected repositories, and a full
re-index of one of them.

`repositories.sync` records the job (`trigger = manual`, no `before`: the whole tree at the branch
head) and sends `docs/sync.requested`, whose id is the job's delivery id; the ingestion function
then re-processes every file, unchanged or not. The answer is the job id, to follow the job with.
"""

import logging
import uuid
from datetime import datetime

import inngest
from sqlmodel import Session, select

from router.errors import ErrorCode, ProcedureError
from router.procedure import Context, NoInput, ProcedureInput, ProcedureOutput
from service import jobs
from service.deps import ConfigurationError
from service.events import SYNC_REQUESTED
from service.models import (
    ConfigStatus,
    ConnectedRepository,
    IngestionCommit,
    IngestionStatus,
    IngestionTrigger,
    Provider,
    Store,
)
from service.sources import (
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
)

log = logging.getLogger("router.repositories")

MANUAL_DELIVERY_PREFIX = "manual-"


class Repository(ProcedureOutput):
    id: int
    provider: Provider
    full_name: str
    default_branch: str
    store: str
    local_path: str | None
    installation_id: int | None
    config_status: ConfigStatus
    config_error: str | None
    last_ingested_sha: str | None
    created_at: datetime


class SyncInput(ProcedureInput):
    repository_id: int


class SyncStarted(ProcedureOutput):
    job_id: int
    repository_id: int
    repository: str
    after: str
    status: IngestionStatus


async def list_repositories(context: Context, _input: NoInput) -> list[Repository]:
    return await context.in_session(_list, context.caller.organization_id)


async def sync(context: Context, input: SyncInput) -> SyncStarted:
    repository = await context.in_session(
        _repository, context.caller.organization_id, input.repository_id
    )
    if repository is None:
        raise ProcedureError(
            ErrorCode.NOT_FOUND,
            f"organization {context.caller.organization} has no repository {input.repository_id}",
        )
    after = await _branch_head(context, repository)
    job = await context.in_session(_record_job, repository, after)
    assert job.id is not None and repository.id is not None
    data: dict[str, int | str | bool] = {
        "ingestion_id": job.id,
        "repository_id": repository.id,
        "after": after,
        "full": True,
    }
    event = inngest.Event(name=SYNC_REQUESTED, id=job.delivery_id, data=data)
    try:
        ids = await context.services.inngest.send(event)
    except Exception as exc:  # the SDK raises several types; every one means "not sent"
        log.warning("job %s: could not send %s: %s", job.id, SYNC_REQUESTED, exc)
        message = f"could not start the sync: Inngest did not take the event ({exc})"
        await context.in_session(jobs.fail, job.id, message)
        raise ProcedureError(ErrorCode.SERVICE_UNAVAILABLE, message) from exc
    await context.in_session(jobs.record_event_ids, [(job.id, ids[0] if ids else None)])
    return SyncStarted(
        job_id=job.id,
        repository_id=repository.id,
        repository=repository.full_name,
        after=after,
        status=job.status,
    )


def _list(session: Session, organization_id: int) -> list[Repository]:
    rows = session.exec(
        select(ConnectedRepository, Store)
        .join(Store, Store.id == ConnectedRepository.store_id)  # type: ignore[arg-type]
        .where(ConnectedRepository.organization_id == organization_id)
        .order_by(ConnectedRepository.full_name)
    ).all()
    return [
        Repository(
            id=repo.id,
            provider=repo.provider,
            full_name=repo.full_name,
            default_branch=repo.default_branch,
            store=store.name,
            local_path=repo.local_path,
            installation_id=repo.installation_id,
            config_status=repo.config_status,
            config_error=repo.config_error,
            last_ingested_sha=repo.last_ingested_sha,
            created_at=repo.created_at,
        )
        for repo, store in rows
    ]


def _repository(
    session: Session, organization_id: int, repository_id: int
) -> ConnectedRepository | None:
    return session.exec(
        select(ConnectedRepository).where(
            ConnectedRepository.id == repository_id,
            ConnectedRepository.organization_id == organization_id,
        )
    ).first()


async def _branch_head(context: Context, repository: ConnectedRepository) -> str:
    branch = repository.default_branch
    try:
        source = context.services.source_for(repository)
        return await source.resolve(branch)
    except ConfigurationError as exc:
        raise ProcedureError(ErrorCode.PRECONDITION_FAILED, str(exc)) from exc
    except SourceRateLimited as exc:
        raise ProcedureError(ErrorCode.TOO_MANY_REQUESTS, str(exc)) from exc
    except (SourceNotFound, SourceAuthError) as exc:
        raise ProcedureError(
            ErrorCode.PRECONDITION_FAILED,
            f"cannot read branch {branch} of {repository.full_name}: {exc}",
        ) from exc
    except SourceError as exc:  # SourceUnavailable and anything unexpected from the source
        raise ProcedureError(
            ErrorCode.BAD_GATEWAY, f"cannot read branch {branch} of {repository.full_name}: {exc}"
        ) from exc


def _record_job(session: Session, repository: ConnectedRepository, after: str) -> IngestionCommit:
    assert repository.id is not None
    job = IngestionCommit(
        store_id=repository.store_id,
        repository_id=repository.id,
        delivery_id=f"{MANUAL_DELIVERY_PREFIX}{uuid.uuid4()}",
        before_sha=None,
        after_sha=after,
        ref=f"refs/heads/{repository.default_branch}",
        trigger=IngestionTrigger.MANUAL,
    )
    session.add(job)
    session.flush()
    return job
