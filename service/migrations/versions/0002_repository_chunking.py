"""The chunking settings a repository's index was made with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connected_repository") as table:
        table.add_column(sa.Column("chunking", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connected_repository") as table:
        table.drop_column("chunking")
