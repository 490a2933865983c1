"""When a job's plan was recorded (the phase timeline), who is sending its event, and its
organization (the Jobs tab's reads are scoped by it), with the indexes those reads use; and
the organization's jobs version, which moves when one of its jobs ends.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization") as table:
        table.add_column(
            sa.Column("jobs_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("ingestion_commit") as table:
        table.add_column(sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("event_claimed_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE ingestion_commit SET organization_id = (SELECT organization_id FROM "
        "connected_repository WHERE connected_repository.id = ingestion_commit.repository_id)"
    )
    with op.batch_alter_table("ingestion_commit") as table:
        table.alter_column("organization_id", existing_type=sa.Integer(), nullable=False)
        table.create_foreign_key(
            "fk_ingestion_commit_organization_id_organization",
            "organization",
            ["organization_id"],
            ["id"],
        )
        for columns in (
            ["organization_id", "id"],
            ["organization_id", "status"],
            ["organization_id", "processed_at"],
        ):
            table.create_index(f"ix_ingestion_commit_{'_'.join(columns)}", columns)


def downgrade() -> None:
    with op.batch_alter_table("organization") as table:
        table.drop_column("jobs_version")
    with op.batch_alter_table("ingestion_commit") as table:
        for columns in (
            "organization_id_id",
            "organization_id_status",
            "organization_id_processed_at",
        ):
            table.drop_index(f"ix_ingestion_commit_{columns}")
        table.drop_constraint("fk_ingestion_commit_organization_id_organization", "foreignkey")
        table.drop_column("organization_id")
        table.drop_column("event_claimed_at")
        table.drop_column("planned_at")
