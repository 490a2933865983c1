"""The migrations build the same schema on PostgreSQL (DATABASE_URL) as the models describe."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from service.db import create_db_engine, migrate, session_scope
from service.models import Organization

PG_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _run(args: list[str], owner: str | None) -> None:
    # PostgreSQL refuses to run as root; CI runs as root, so the cluster belongs to `postgres`.
    prefix = ["runuser", "-u", owner, "--"] if owner else []
    subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not PG_BINARIES:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql)")
    bin_dir = PG_BINARIES[-1]
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="docs-ingest-pg-"))
    if owner:
        shutil.chown(root, owner)
    data, sockets = root / "data", root
    _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        owner,
    )
    options = f"-k {sockets} -c listen_addresses='' -F"
    log = str(root / "server.log")  # the server must not hold on to our pipes
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start"], owner)
    try:
        yield f"postgresql://postgres@/postgres?host={sockets}"
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner)
        shutil.rmtree(root, ignore_errors=True)


def test_migrations_on_postgresql_match_the_models(postgres_url: str) -> None:
    migrate(postgres_url)
    migrate(postgres_url)  # a second run is a no-op
    engine = create_db_engine(postgres_url)
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
