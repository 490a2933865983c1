"""Alembic environment for the service's schema.

`service.db.migrate` passes its engine in `config.attributes["engine"]`; run from the command line
(`alembic -c service/migrations/alembic.ini ...`) it connects to the database the service's
settings name.
"""

from alembic import context
from sqlalchemy import Connection, Engine
from sqlmodel import SQLModel

import service.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from service.db import create_db_engine, database_url
from service.settings import get_settings

target_metadata = SQLModel.metadata
MIGRATION_LOCK = 0x646F6373  # PostgreSQL advisory lock key held while migrating


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=database_url(get_settings().sqlalchemy_url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given: Engine | None = context.config.attributes.get("engine")
    engine = given or create_db_engine(get_settings().sqlalchemy_url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # A batch migration drops and recreates tables; with foreign keys enforced that
                # would fail or cascade. The check below restores the guarantee afterwards.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            _configure(connection)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # Replicas starting together migrate one at a time; the next finds the
                    # schema the first committed. Released with the transaction.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
                if broken:
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken}")
    finally:
        if given is None:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
