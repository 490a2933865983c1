"""The relational data model: organizations, tokens, repositories, stores and ingestion history.

Conventions that every table follows:

- Timestamps are timezone-aware UTC `datetime`s (`UTCDateTime`: naive values are refused on write).
  PostgreSQL keeps them as `timestamptz`; SQLite has no time zones, so it stores the UTC wall time
  without an offset and reads come back with `tzinfo=UTC` again.
- Enumerations are `StrEnum`s stored as plain `VARCHAR` (no native PostgreSQL enum, no CHECK
  constraint), so adding a member never needs a schema migration.
- Constraint and index names follow `NAMING_CONVENTION`, so migrations can refer to them by name
  (SQLite's batch mode needs named constraints to alter a table).

A schema change here needs a new revision in `service/migrations/versions/`; a test compares the
two and fails when they disagree.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Wide enough for any member name we are likely to add; the column is a plain VARCHAR.
ENUM_LENGTH = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


class Provider(StrEnum):
    GITHUB = "github"
    LOCAL = "local"


class ConfigStatus(StrEnum):
    """Whether a repository's `lightfast.yml` was read, as the last ingestion found it."""

    PENDING = "pending"  # connected, never ingested
    CONFIGURED = "configured"  # a valid lightfast.yml
    UNCONFIGURED = "unconfigured"  # no lightfast.yml: defaults apply
    INGESTING = "ingesting"
    ERROR = "error"  # an invalid lightfast.yml; `config_error` says why


class IngestionTrigger(StrEnum):
    PUSH = "push"
    MANUAL = "manual"
    RETRY = "retry"


class IngestionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PROCESSED = "processed"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FileAction(StrEnum):
    PROCESS = "process"
    DELETE = "delete"


class FileStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    SKIPPED = "skipped"
    FAILED = "failed"


def _enum_type(enum: type[StrEnum]) -> sa.Enum:
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
    )


def _created_at() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime())


def _moment() -> Any:
    """A nullable timestamp column."""
    return Field(default=None, sa_type=UTCDateTime())


class Organization(SQLModel, table=True):
    __tablename__ = "organization"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True)
    name: str
    created_at: datetime = _created_at()
    # Moves whenever one of its jobs ends: what the Jobs tab counts by finished status is unchanged
    # while it stays put.
    jobs_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class ApiToken(SQLModel, table=True):
    """A bearer token of an organization; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str
    token_sha256: str = Field(unique=True)
    created_at: datetime = _created_at()
    last_used_at: datetime | None = _moment()


class Store(SQLModel, table=True):
    """A vector collection; it records its embedding model and dimension and never mixes models."""

    __tablename__ = "store"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    name: str
    collection: str = Field(unique=True)
    embedding_model: str
    dimension: int
    created_at: datetime = _created_at()


class ConnectedRepository(SQLModel, table=True):
    __tablename__ = "connected_repository"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "provider", "full_name"),
        # Pushes find their connection by the repository's id and are checked with its webhook
        # secret: a second connection of the same repository would never receive one.
        sa.UniqueConstraint("provider", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    provider: Provider = Field(sa_type=_enum_type(Provider))
    external_id: str
    full_name: str
    default_branch: str
    # GitHub installation ids are 64-bit on GitHub's side.
    installation_id: int | None = Field(default=None, sa_type=sa.BigInteger())
    local_path: str | None = None
    webhook_secret: str
    config_status: ConfigStatus = Field(
        default=ConfigStatus.PENDING, sa_type=_enum_type(ConfigStatus)
    )
    config_error: str | None = Field(default=None, sa_type=sa.Text())
    last_ingested_sha: str | None = None
    # `RepoConfig.chunking` of the last finished ingestion; None before the first.
    chunking: str | None = None
    store_id: int = Field(foreign_key="store.id", index=True)
    created_at: datetime = _created_at()


class IngestionCommit(SQLModel, table=True):
    """One ingestion job: the history row and, through `delivery_id`, the idempotency key."""

    __tablename__ = "ingestion_commit"
    __table_args__ = (
        sa.Index(None, "repository_id", "created_at"),
        # The Jobs tab's reads: an organization's jobs newest first, by status, by end time.
        sa.Index(None, "organization_id", "id"),
        sa.Index(None, "organization_id", "status"),
        sa.Index(None, "organization_id", "processed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The repository's, kept on the job too: every read of the history is scoped by it.
    organization_id: int = Field(foreign_key="organization.id")
    store_id: int = Field(foreign_key="store.id", index=True)
    repository_id: int = Field(foreign_key="connected_repository.id")
    delivery_id: str = Field(unique=True)
    before_sha: str | None = None
    after_sha: str
    ref: str | None = None
    trigger: IngestionTrigger = Field(sa_type=_enum_type(IngestionTrigger))
    retry_of: int | None = Field(
        default=None, foreign_key="ingestion_commit.id", ondelete="SET NULL", index=True
    )
    event_id: str | None = None
    # Set while one delivery of the job sends its event, so a copy arriving meanwhile does not
    # send a second one (whose id Inngest would keep with no run).
    event_claimed_at: datetime | None = _moment()
    run_id: str | None = None
    status: IngestionStatus = Field(
        default=IngestionStatus.QUEUED, sa_type=_enum_type(IngestionStatus), index=True
    )
    files_total: int = 0
    files_processed: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    error_message: str | None = Field(default=None, sa_type=sa.Text())
    created_at: datetime = _created_at()
    started_at: datetime | None = _moment()
    planned_at: datetime | None = _moment()
    processed_at: datetime | None = _moment()


class IngestionFile(SQLModel, table=True):
    """One path of one ingestion; counters on the job are derived from these rows."""

    __tablename__ = "ingestion_file"
    __table_args__ = (sa.UniqueConstraint("ingestion_id", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    ingestion_id: int = Field(foreign_key="ingestion_commit.id", ondelete="CASCADE")
    path: str
    action: FileAction = Field(sa_type=_enum_type(FileAction))
    status: FileStatus = Field(default=FileStatus.PENDING, sa_type=_enum_type(FileStatus))
    blob_sha: str | None = None
    chunks: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text())
    started_at: datetime | None = _moment()
    finished_at: datetime | None = _moment()


class IndexedFile(SQLModel, table=True):
    """What a store holds for one path: skips unchanged content, finds surplus chunks to delete."""

    __tablename__ = "indexed_file"
    __table_args__ = (sa.UniqueConstraint("store_id", "repository_id", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = Field(foreign_key="store.id")
    repository_id: int = Field(foreign_key="connected_repository.id", index=True)
    path: str
    content_sha: str
    chunk_count: int
    updated_at: datetime = _created_at()
