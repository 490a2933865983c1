"""`repositories.list`, `repositories.connect` and `repositories.sync`: the caller's connected
repositories, connecting one, and a full re-index of one of them.

`repositories.connect` takes a local git repository on the service's machine (the path must be
absolute) or a GitHub `owner/name`, checked with the credentials ingestion will use; for GitHub
the answer carries the webhook URL and its secret, shown this once.

`repositories.sync` records the job (`trigger = manual`, no `before`: the whole tree at the branch
head) and sends `docs/sync.requested`, whose id is the job's delivery id; the ingestion function
then re-processes every file, unchanged or not. The answer is the job id, to follow the job with.
"""

import logging
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, RootModel, StrictInt
from sqlmodel import Session, col, func, select

from router.errors import ErrorCode, ProcedureError
from router.job_views import github_web_origin, repository_url
from router.names import WEBHOOK_PATH
from router.procedure import Context, Id, NoInput, ProcedureInput, ProcedureOutput
from router.starting import send_ingestion_event
from service import jobs, repositories
from service.deps import ConfigurationError
from service.models import (
    ConfigStatus,
    ConnectedRepository,
    IngestionCommit,
    IngestionStatus,
    IngestionTrigger,
    Provider,
    Store,
)
from service.repositories import RepositoryError, describe_github, local_checkout, local_external_id
from service.sources import (
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
)

log = logging.getLogger("router.repositories")

MANUAL_DELIVERY_PREFIX = "manual-"
MAX_PATH = 4096
MAX_NAME = 200


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
    url: str | None
    last_job: "LastJob | None"


class LastJob(ProcedureOutput):
    id: int
    status: IngestionStatus
    created_at: datetime
    finished_at: datetime | None


class ConnectLocal(ProcedureInput):
    provider: Literal[Provider.LOCAL]
    path: str = Field(min_length=1, max_length=MAX_PATH)
    branch: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)


class ConnectGitHub(ProcedureInput):
    provider: Literal[Provider.GITHUB]
    full_name: str = Field(min_length=3, max_length=MAX_NAME)
    branch: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    # GitHub's id, stored as BIGINT: not limited to the row ids' 32 bits.
    installation_id: StrictInt | None = Field(None, ge=1, le=2**63 - 1)


class ConnectInput(
    RootModel[Annotated[ConnectLocal | ConnectGitHub, Field(discriminator="provider")]]
):
    pass


class Webhook(ProcedureOutput):
    url: str
    secret: str


class Connected(ProcedureOutput):
    repository: Repository
    webhook: Webhook | None


class SyncInput(ProcedureInput):
    repository_id: Id


class SyncStarted(ProcedureOutput):
    job_id: int
    repository_id: int
    repository: str
    after: str
    status: IngestionStatus


async def list_repositories(context: Context, _input: NoInput) -> list[Repository]:
    return await context.in_session(_list, context.caller.organization_id, _github(context))


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
    job = await context.in_session(
        partial(
            jobs.record_job,
            delivery_id=f"{MANUAL_DELIVERY_PREFIX}{uuid.uuid4()}",
            after=after,
            trigger=IngestionTrigger.MANUAL,
        ),
        repository,
    )
    assert job.id is not None and repository.id is not None
    await send_ingestion_event(context, job, {"full": True})
    return SyncStarted(
        job_id=job.id,
        repository_id=repository.id,
        repository=repository.full_name,
        after=after,
        status=job.status,
    )


async def connect(context: Context, input: ConnectInput) -> Connected:
    services, org = context.services, context.caller.organization
    target = input.root
    try:
        if isinstance(target, ConnectLocal):
            _check_local_roots(services.settings.api_local_roots, Path(target.path))
            root, branch = await local_checkout(Path(target.path), target.branch)
            _check_local_roots(services.settings.api_local_roots, root)
            fields: dict[str, Any] = {
                "provider": Provider.LOCAL,
                "full_name": target.name or root.name,
                "external_id": local_external_id(root),
                "default_branch": branch,
                "local_path": root,
            }
        else:
            found = await describe_github(
                services, target.full_name, target.branch, target.installation_id
            )
            fields = {
                "provider": Provider.GITHUB,
                "full_name": found.full_name,
                "external_id": str(found.id),
                "default_branch": target.branch or found.default_branch,
                "installation_id": target.installation_id,
            }

        def write(session: Session) -> tuple[Repository, str]:
            row = repositories.connect(session, embedder=services.embedder, org_slug=org, **fields)
            every = _list(session, row.organization_id, _github(context))
            return next(repo for repo in every if repo.id == row.id), row.webhook_secret

        repository, secret = await context.in_session(write)
    except RepositoryError as exc:
        raise ProcedureError(ErrorCode.PRECONDITION_FAILED, str(exc)) from exc
    webhook = None
    if repository.provider is Provider.GITHUB:
        webhook = Webhook(url=services.settings.public_url + WEBHOOK_PATH, secret=secret)
    return Connected(repository=repository, webhook=webhook)


def _list(session: Session, organization_id: int, github: str) -> list[Repository]:
    rows = session.exec(
        select(ConnectedRepository, Store)
        .join(Store, Store.id == ConnectedRepository.store_id)  # type: ignore[arg-type]
        .where(ConnectedRepository.organization_id == organization_id)
        # Not by the column alone: its order is the database's collation (SQLite's is binary, so
        # "Zeta" came before "alpha"); lower() sorts the same on SQLite and PostgreSQL.
        .order_by(func.lower(ConnectedRepository.full_name), col(ConnectedRepository.id))
    ).all()
    last_ids = select(func.max(IngestionCommit.id)).group_by(col(IngestionCommit.repository_id))
    last_jobs = {
        job.repository_id: job
        for job in session.exec(
            select(IngestionCommit).where(
                col(IngestionCommit.repository_id).in_([repo.id for repo, _ in rows]),
                col(IngestionCommit.id).in_(last_ids),
            )
        )
    }
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
            url=repository_url(repo, github),
            last_job=_last_job(last_jobs.get(repo.id)),
        )
        for repo, store in rows
        if repo.id is not None
    ]


def _github(context: Context) -> str:
    return github_web_origin(context.services.settings.github_api_url)


def _last_job(job: IngestionCommit | None) -> LastJob | None:
    if job is None or job.id is None:
        return None
    return LastJob(
        id=job.id, status=job.status, created_at=job.created_at, finished_at=job.processed_at
    )


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


def _check_local_roots(roots: list[Path] | None, path: Path) -> None:
    """A FORBIDDEN error unless `path` (symbolic links followed) is inside one of `roots`."""
    if roots is None:
        return
    if not roots:
        raise ProcedureError(
            ErrorCode.FORBIDDEN,
            "connecting a local folder through the API is off while the service listens beyond "
            "loopback: set DOCS_INGEST_LOCAL_ROOTS to the folders it may connect, or run "
            "`docs-ingest repo add` on the service's machine",
        )
    if not any(path.resolve().is_relative_to(root) for root in roots):
        raise ProcedureError(
            ErrorCode.FORBIDDEN,
            f"{path} is outside the folders local repositories may be connected from "
            "(DOCS_INGEST_LOCAL_ROOTS)",
        )
