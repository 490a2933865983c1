"""The migrations build the same schema on PostgreSQL (DATABASE_URL) as the models describe.

The database is the PostgreSQL leg's (tests/conftest.py): skipped when no server is given."""

import subprocess
import sys
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from service.db import create_db_engine, migrate, session_scope
from service.models import Organization

MIGRATE = "import sys; from service.db import migrate; migrate(sys.argv[1])"


def test_migrations_on_postgresql_match_the_models(postgres_database: str) -> None:
    migrate(postgres_database)
    migrate(postgres_database)  # a second run is a no-op
    engine = create_db_engine(postgres_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
            kind = connection.execute(
                sa.text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'organization' AND column_name = 'created_at'"
                )
            ).scalar_one()
        assert kind == "timestamp with time zone"
        moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with session_scope(engine) as session:
            session.add(Organization(slug="acme", name="Acme", created_at=moment))
        with session_scope(engine) as session:
            org = session.exec(select(Organization)).one()
        assert org.created_at == moment
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_one_after_another(postgres_database: str) -> None:
    """Every replica of `serve` migrates its database at start; on a fresh database, several
    starting at once all succeed (each its own process, as alembic's context is global)."""
    migrating = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, postgres_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(process.wait(120), process.communicate()[0]) for process in migrating]

    assert [code for code, _ in outcomes] == [0] * 4, [output for _, output in outcomes]
    engine = create_db_engine(postgres_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
