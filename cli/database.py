"""How a command reaches the service's database: through the same settings as `serve`.

Bootstrap commands (`repo add`, `token create`) migrate it first, as `serve` does, and create the
organization their `--org` names, so they check its slug before anything runs (`org_slug`).
Commands that use what the service wrote (`push`, `repo list`, `token list|revoke`) refuse to
create an empty database in the wrong place: a missing SQLite file means the settings differ from
the service's.
"""

from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError

from service.db import MigrationRefused, create_db_engine, database_url, migrate
from service.repositories import OrgSlugError, check_org_slug
from service.settings import Settings


class NoDatabase(click.ClickException):
    """The SQLite file the settings name does not exist."""


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file of the settings, or None for another database."""
    try:
        url = database_url(settings.sqlalchemy_url)
    except ArgumentError as exc:
        raise click.ClickException(f"DATABASE_URL: {exc}") from exc
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def existing_database(settings: Settings) -> Engine:
    path = sqlite_file(settings)
    if path is not None and not path.is_file():
        raise NoDatabase(
            f"no database at {path.resolve()}: run this where `docs-ingest serve` runs, or set "
            "DOCS_INGEST_DATA_DIR (or DATABASE_URL) as the service has it"
        )
    return _opened(settings)


def bootstrapped_database(settings: Settings) -> Engine:
    """The database, created and migrated to the newest schema when needed."""
    engine = _opened(settings)
    try:
        migrate(settings.sqlalchemy_url)
    except MigrationRefused as exc:
        engine.dispose()
        raise click.ClickException(str(exc)) from exc
    return engine


def _opened(settings: Settings) -> Engine:
    """An engine of the settings' database, once it has opened a connection."""
    try:
        engine = create_db_engine(settings.sqlalchemy_url)
    except ArgumentError as exc:  # also a driver that is not installed
        raise click.ClickException(f"DATABASE_URL: {exc}") from exc
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise click.ClickException(f"cannot open the database: {exc}") from exc
    try:
        engine.connect().close()
    except DBAPIError as exc:
        engine.dispose()
        raise click.ClickException(f"cannot open the database: {str(exc.orig).strip()}") from exc
    return engine


def org_slug(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A click callback for `--org`: the slug (None when not given), or a usage error that gives
    the rule."""
    if value is None:
        return None
    try:
        return check_org_slug(value)
    except OrgSlugError as exc:
        raise click.BadParameter(str(exc)) from exc
