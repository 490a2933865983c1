"""How a command reaches the service's database: through the same settings as `serve`.

Bootstrap commands (`repo add`, `token create`) migrate it first, as `serve` does, and create the
organization their `--org` names, so they check its slug before anything runs (`org_slug`).
Commands that only read what the service wrote (`push`, `repo list`) refuse to create an empty
database in the wrong place: a missing SQLite file means the settings differ from the service's.
"""

from pathlib import Path

import click
from sqlalchemy import Engine

from service.db import MigrationRefused, create_db_engine, database_url, migrate
from service.repositories import OrgSlugError, check_org_slug
from service.settings import Settings


class NoDatabase(click.ClickException):
    """The SQLite file the settings name does not exist."""


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file of the settings, or None for another database."""
    url = database_url(settings.sqlalchemy_url)
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
    return create_db_engine(settings.sqlalchemy_url)


def bootstrapped_database(settings: Settings) -> Engine:
    """The database, created and migrated to the newest schema when needed."""
    try:
        migrate(settings.sqlalchemy_url)
    except MigrationRefused as exc:
        raise click.ClickException(str(exc)) from exc
    return create_db_engine(settings.sqlalchemy_url)


def org_slug(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A click callback for `--org`: the slug, or a usage error that gives the rule."""
    try:
        return check_org_slug(value)
    except OrgSlugError as exc:
        raise click.BadParameter(str(exc)) from exc
