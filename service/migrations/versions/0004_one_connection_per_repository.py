"""A repository is connected once: (provider, external id) is unique.

A database that already holds a repository connected twice is not changed: the upgrade stops and
names the connections, since only a person can tell which one to keep (pushes reached only the
lowest id; the others never received one).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter

import sqlalchemy as sa
from alembic import op

from service.db import MigrationRefused

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_connected_repository_provider_external_id"

DUPLICATES = sa.text(
    "SELECT r.provider, r.external_id, r.id, r.full_name, o.slug"
    " FROM connected_repository r JOIN organization o ON o.id = r.organization_id"
    " WHERE EXISTS (SELECT 1 FROM connected_repository d WHERE d.provider = r.provider"
    " AND d.external_id = r.external_id AND d.id <> r.id)"
    " ORDER BY r.provider, r.external_id, r.id"
)


def upgrade() -> None:
    duplicates = op.get_bind().execute(DUPLICATES).all()
    if duplicates:
        listed = "; ".join(
            f"{provider} repository {external_id} as "
            + ", ".join(f"id {row.id} ({row.full_name}, organization {row.slug})" for row in rows)
            for (provider, external_id), rows in groupby(duplicates, itemgetter(0, 1))
        )
        raise MigrationRefused(
            "cannot make each repository connected once: some are connected more than once "
            f"({listed}). Pushes reached only the lowest id of each. Delete the others from "
            "connected_repository, with their jobs (ingestion_commit, ingestion_file) and "
            "indexed files (indexed_file), then start again."
        )
    with op.batch_alter_table("connected_repository") as table:
        table.create_unique_constraint(CONSTRAINT, ["provider", "external_id"])


def downgrade() -> None:
    with op.batch_alter_table("connected_repository") as table:
        table.drop_constraint(CONSTRAINT, "unique")
