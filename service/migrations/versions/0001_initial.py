"""Organizations, tokens, repositories, stores and ingestion history.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written with portable types only: enumerations are VARCHAR(32), timestamps `DateTime(timezone=True)`
(timestamptz on PostgreSQL, UTC text on SQLite).
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM = sa.String(32)


def _moment(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> SchemaItem:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "organization",
        *_id("organization"),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _moment("created_at", nullable=False),
        sa.UniqueConstraint("slug", name="uq_organization_slug"),
    )
    op.create_table(
        "api_token",
        *_id("api_token"),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token_sha256", sa.String(), nullable=False),
        _moment("created_at", nullable=False),
        _moment("last_used_at", nullable=True),
        _fk("api_token", "organization_id", "organization"),
        sa.UniqueConstraint("token_sha256", name="uq_api_token_token_sha256"),
    )
    op.create_index("ix_api_token_organization_id", "api_token", ["organization_id"])
    op.create_table(
        "store",
        *_id("store"),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("embedding_model", sa.String(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        _moment("created_at", nullable=False),
        _fk("store", "organization_id", "organization"),
        sa.UniqueConstraint("collection", name="uq_store_collection"),
        sa.UniqueConstraint("organization_id", "name", name="uq_store_organization_id_name"),
    )
    op.create_table(
        "connected_repository",
        *_id("connected_repository"),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("provider", ENUM, nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("default_branch", sa.String(), nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=True),
        sa.Column("local_path", sa.String(), nullable=True),
        sa.Column("webhook_secret", sa.String(), nullable=False),
        sa.Column("config_status", ENUM, nullable=False),
        sa.Column("config_error", sa.Text(), nullable=True),
        sa.Column("last_ingested_sha", sa.String(), nullable=True),
        sa.Column("store_id", sa.Integer(), nullable=False),
        _moment("created_at", nullable=False),
        _fk("connected_repository", "organization_id", "organization"),
        _fk("connected_repository", "store_id", "store"),
        sa.UniqueConstraint(
            "organization_id",
            "provider",
            "full_name",
            name="uq_connected_repository_organization_id_provider_full_name",
        ),
    )
    op.create_index("ix_connected_repository_store_id", "connected_repository", ["store_id"])
    op.create_table(
        "ingestion_commit",
        *_id("ingestion_commit"),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("before_sha", sa.String(), nullable=True),
        sa.Column("after_sha", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=True),
        sa.Column("trigger", ENUM, nullable=False),
        sa.Column("retry_of", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("files_processed", sa.Integer(), nullable=False),
        sa.Column("files_failed", sa.Integer(), nullable=False),
        sa.Column("files_skipped", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        _moment("created_at", nullable=False),
        _moment("started_at", nullable=True),
        _moment("processed_at", nullable=True),
        _fk("ingestion_commit", "store_id", "store"),
        _fk("ingestion_commit", "repository_id", "connected_repository"),
        _fk("ingestion_commit", "retry_of", "ingestion_commit", ondelete="SET NULL"),
        sa.UniqueConstraint("delivery_id", name="uq_ingestion_commit_delivery_id"),
    )
    op.create_index(
        "ix_ingestion_commit_repository_id_created_at",
        "ingestion_commit",
        ["repository_id", "created_at"],
    )
    op.create_index("ix_ingestion_commit_store_id", "ingestion_commit", ["store_id"])
    op.create_index("ix_ingestion_commit_retry_of", "ingestion_commit", ["retry_of"])
    op.create_index("ix_ingestion_commit_status", "ingestion_commit", ["status"])
    op.create_table(
        "ingestion_file",
        *_id("ingestion_file"),
        sa.Column("ingestion_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("action", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("blob_sha", sa.String(), nullable=True),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _moment("started_at", nullable=True),
        _moment("finished_at", nullable=True),
        _fk("ingestion_file", "ingestion_id", "ingestion_commit", ondelete="CASCADE"),
        sa.UniqueConstraint("ingestion_id", "path", name="uq_ingestion_file_ingestion_id_path"),
    )
    op.create_table(
        "indexed_file",
        *_id("indexed_file"),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("content_sha", sa.String(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        _moment("updated_at", nullable=False),
        _fk("indexed_file", "store_id", "store"),
        _fk("indexed_file", "repository_id", "connected_repository"),
        sa.UniqueConstraint(
            "store_id",
            "repository_id",
            "path",
            name="uq_indexed_file_store_id_repository_id_path",
        ),
    )
    op.create_index("ix_indexed_file_repository_id", "indexed_file", ["repository_id"])


def downgrade() -> None:
    for table in (
        "indexed_file",
        "ingestion_file",
        "ingestion_commit",
        "connected_repository",
        "store",
        "api_token",
        "organization",
    ):
        op.drop_table(table)
