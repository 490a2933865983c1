"""The relational store: engine creation, schema migrations and sessions.

The same code serves SQLite (the embedded default, one file under the data folder) and PostgreSQL
(`DATABASE_URL`). SQLite connections are set up for a multi-threaded web service: WAL so readers
never block the writer, enforced foreign keys (SQLite leaves them off by default) and a busy
timeout instead of an immediate "database is locked".
"""

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from service.batching import Batcher

log = logging.getLogger("service.db")

T = TypeVar("T")
Item = TypeVar("Item")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5_000
# `postgresql://` would pick psycopg2; the `postgres` extra installs psycopg 3.
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_NAMES = {"postgres", "postgresql"}


def database_url(url: str) -> URL:
    """The SQLAlchemy URL to connect with: a bare PostgreSQL URL gets the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in _POSTGRES_NAMES:
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    return parsed


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's parent folder is created if missing."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # FastAPI runs sync handlers in a thread pool; each connection is still used by one thread
    # at a time through the pool.
    engine = create_engine(parsed, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL keeps every committed transaction through a crash of the process
        # (not of the machine) without an fsync per commit, which serialized webhook acks.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _insert(session: Session, model: Any) -> postgresql.Insert | sqlite.Insert:
    """The database's own INSERT, the one with ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def insert_skipping_existing(session: Session, model: Any, *unique: str) -> Insert:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING`: a row whose key exists is skipped, not an
    error, also when another transaction inserts it at the same moment (PostgreSQL waits for
    that one to commit); with RETURNING, the rows returned are the ones this statement added.
    Without `unique`, a row that clashes with any unique key of the table is skipped."""
    return _insert(session, model).on_conflict_do_nothing(index_elements=list(unique) or None)


def upsert(session: Session, model: Any, unique: Sequence[str], update: Sequence[str]) -> Insert:
    """`INSERT ... ON CONFLICT (unique) DO UPDATE`: a row whose key exists gets the `update`
    columns of the row inserted instead; one statement for many rows (executemany)."""
    statement = _insert(session, model)
    return statement.on_conflict_do_update(
        index_elements=list(unique), set_={name: statement.excluded[name] for name in update}
    )


class MigrationRefused(RuntimeError):
    """A migration that the data in the database does not allow: it stops before changing
    anything, and the message says what a person has to change first."""


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration without an ini file; `env.py` migrates through `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema; a no-op when it is already there."""
    engine = create_db_engine(url)
    try:
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()


async def in_session(engine: Engine, work: Callable[..., T], *args: object) -> T:
    """Run `work(session, *args)` in one transaction, in a worker thread.

    Async code must never run database work on its event loop: a blocked pool checkout would
    freeze every request (and the embedded engine) sharing that loop.
    """

    def run() -> T:
        with session_scope(engine) as session:
            return work(session, *args)

    return await asyncio.to_thread(run)


def batched_in_session(
    engine: Engine, work: Callable[[Session, list[Item]], list[T]]
) -> Batcher[Item, T]:
    """`work(session, items)` for the items of concurrent calls together: one worker-thread hop
    and one transaction per batch, and `work` can ask for all the rows it needs in one query.
    When a batch's transaction fails, each item is run again alone, so a bad item fails alone;
    `work` must therefore not roll back itself."""

    def run_alone(item: Item) -> T | Exception:
        try:
            with session_scope(engine) as session:
                return work(session, [item])[0]
        except Exception as exc:
            return exc

    def run_all(items: list[Item]) -> Sequence[T | Exception]:
        if len(items) > 1:
            try:
                with session_scope(engine) as session:
                    return work(session, items)
            except Exception as exc:
                log.info("a batch of %d failed (%s); running each alone", len(items), exc)
        return [run_alone(item) for item in items]

    async def run(items: list[Item]) -> Sequence[T | Exception]:
        return await asyncio.to_thread(run_all, items)

    return Batcher(run)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises.

    Rows stay readable after the commit (`expire_on_commit=False`), so a caller can return what
    it wrote without another query.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
