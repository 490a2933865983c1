"""The schema: migrations build it on a fresh database (SQLite and PostgreSQL), agree with the
models, and enforce it."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from service.db import alembic_config, create_db_engine, migrate, session_scope
from service.models import (
    ApiToken,
    ConnectedRepository,
    FileAction,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    IngestionTrigger,
    Organization,
    Provider,
    Store,
)

TABLES = {
    "organization",
    "api_token",
    "connected_repository",
    "store",
    "ingestion_commit",
    "ingestion_file",
    "indexed_file",
}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def make_repository(session: Session) -> ConnectedRepository:
    organization = Organization(slug="acme", name="Acme")
    session.add(organization)
    session.flush()
    assert organization.id is not None
    store = Store(
        organization_id=organization.id,
        name="docs",
        collection="acme-docs",
        embedding_model="all-MiniLM-L6-v2",
        dimension=384,
    )
    session.add(store)
    session.flush()
    assert store.id is not None
    repository = ConnectedRepository(
        organization_id=organization.id,
        provider=Provider.GITHUB,
        external_id="1296269",
        full_name="acme/handbook",
        default_branch="main",
        webhook_secret="s3cret",
        store_id=store.id,
    )
    session.add(repository)
    session.flush()
    return repository


def make_ingestion(session: Session, delivery_id: str = "delivery-1") -> IngestionCommit:
    repository = session.exec(select(ConnectedRepository)).first() or make_repository(session)
    assert repository.id is not None
    ingestion = IngestionCommit(
        organization_id=repository.organization_id,
        store_id=repository.store_id,
        repository_id=repository.id,
        delivery_id=delivery_id,
        after_sha="a" * 40,
        trigger=IngestionTrigger.PUSH,
    )
    session.add(ingestion)
    session.flush()
    return ingestion


def test_migrate_creates_every_table(database_url: str) -> None:
    migrate(database_url)

    engine = create_db_engine(database_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_migrate_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'docs-ingest.db'}"  # a folder that does not exist yet

    migrate(url)

    assert (tmp_path / "data" / "docs-ingest.db").is_file()


def test_migrating_twice_keeps_the_data_and_the_version(
    engine: sa.Engine, database_url: str
) -> None:
    with session_scope(engine) as session:
        make_ingestion(session)

    migrate(database_url)

    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    assert heads == (ScriptDirectory.from_config(alembic_config(engine)).get_current_head(),)
    with Session(engine) as session:
        assert [row.delivery_id for row in session.exec(select(IngestionCommit))] == ["delivery-1"]


def test_a_database_of_the_first_schema_is_upgraded_in_place(database_url: str) -> None:
    engine = create_db_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO organization (slug, name, created_at)"
                " VALUES ('acme', 'Acme', '2026-01-01 00:00:00')"
            )
        )

    migrate(database_url)

    with Session(engine) as session:
        assert [org.slug for org in session.exec(select(Organization))] == ["acme"]
    assert "chunking" in {c["name"] for c in sa.inspect(engine).get_columns("connected_repository")}
    engine.dispose()


def test_the_migrations_build_exactly_what_the_models_describe(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_repeated_delivery_id_is_refused(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        make_ingestion(session, "delivery-1")

    with pytest.raises(IntegrityError, match="delivery_id"), session_scope(engine) as session:
        make_ingestion(session, "delivery-1")


def test_a_path_is_recorded_once_per_ingestion(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        ingestion = make_ingestion(session)
        assert ingestion.id is not None
        first = IngestionFile(
            ingestion_id=ingestion.id, path="docs/a.md", action=FileAction.PROCESS
        )
        session.add(first)

    with pytest.raises(IntegrityError, match=r"(?i)unique"), session_scope(engine) as session:
        again = IngestionFile(ingestion_id=ingestion.id, path="docs/a.md", action=FileAction.DELETE)
        session.add(again)
        session.flush()

    with session_scope(engine) as session:
        other = make_ingestion(session, "delivery-2")
        assert other.id is not None
        session.add(
            IngestionFile(ingestion_id=other.id, path="docs/a.md", action=FileAction.DELETE)
        )


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), session_scope(engine) as session:
        session.add(ApiToken(organization_id=999, name="ci", token_sha256="0" * 64))
        session.flush()


def test_deleting_an_ingestion_deletes_its_files(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        ingestion = make_ingestion(session)
        assert ingestion.id is not None
        session.add(
            IngestionFile(ingestion_id=ingestion.id, path="a.md", action=FileAction.PROCESS)
        )

    with session_scope(engine) as session:
        session.delete(session.get_one(IngestionCommit, ingestion.id))

    with Session(engine) as session:
        assert session.exec(select(IngestionFile)).all() == []


def test_timestamps_come_back_as_the_same_instant_in_utc(engine: sa.Engine) -> None:
    started = datetime(2025, 3, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(engine) as session:
        ingestion = make_ingestion(session)
        ingestion.started_at = started

    with Session(engine) as session:
        stored = session.get_one(IngestionCommit, ingestion.id)
        assert stored.started_at == started
        assert stored.started_at is not None and stored.started_at.tzinfo == UTC
        assert stored.created_at.tzinfo == UTC
        assert abs(datetime.now(UTC) - stored.created_at) < timedelta(minutes=1)


def test_enums_are_stored_as_their_values_and_read_back_as_members(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        ingestion = make_ingestion(session)

    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT status, trigger FROM ingestion_commit")).one()
    assert tuple(raw) == ("queued", "push")
    with Session(engine) as session:
        stored = session.get_one(IngestionCommit, ingestion.id)
        assert stored.status is IngestionStatus.QUEUED
        assert stored.trigger is IngestionTrigger.PUSH


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'docs-ingest.db'}"
    migrate(url)
    engine = create_db_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
