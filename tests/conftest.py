"""The database legs: every test that takes `database_url` runs on SQLite and on PostgreSQL.

SQLite is a file in the test's folder. PostgreSQL is a database made for the test on the server
that `--postgres URL` (or DOCS_INGEST_TEST_POSTGRES) names, and dropped afterwards; `.ci/run`
starts a throwaway server and sets the variable. Without a server that leg is skipped, saying so.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from service.db import create_db_engine

POSTGRES_OPTION = "--postgres"
POSTGRES_VARIABLE = "DOCS_INGEST_TEST_POSTGRES"
NO_SERVER = (
    f"PostgreSQL leg: no server given (pytest {POSTGRES_OPTION} URL or {POSTGRES_VARIABLE}; "
    ".ci/run starts one)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        POSTGRES_OPTION,
        metavar="URL",
        default=os.environ.get(POSTGRES_VARIABLE) or None,
        help="a PostgreSQL server the tests may create databases on, for the database tests' "
        f"PostgreSQL leg (default: ${POSTGRES_VARIABLE}; without one the leg is skipped)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server, the PostgreSQL leg is skipped by a mark, which pytest's summary folds
    into a line per file (per test for decorated tests) rather than a line per test."""
    if config.getoption(POSTGRES_OPTION):
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=NO_SERVER))


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> str:
    url: str | None = pytestconfig.getoption(POSTGRES_OPTION)
    if not url:
        pytest.skip(NO_SERVER)
    return url


@contextmanager
def new_postgres_database(server: str, prefix: str = "docs_ingest_test") -> Iterator[str]:
    """The URL of a new, empty database on `server`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_db_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            # FORCE: a connection the test left open (a pool not yet disposed) must not keep it.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """The URL of a new, empty database on the server, dropped when the test ends."""
    with new_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`DATABASE_URL` of the app's database for this test: a SQLite file, or a PostgreSQL
    database of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'docs-ingest.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url
