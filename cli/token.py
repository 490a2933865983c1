"""`docs-ingest token create`: a token for the router (the Jobs tab, search, `sync`)."""

import getpass
import socket

import click

from cli.auth import TOKEN_VARIABLE
from cli.database import bootstrapped_database, org_slug
from cli.output import echo_json
from service.db import session_scope
from service.repositories import DEFAULT_ORG, ensure_org
from service.settings import get_settings
from service.tokens import issue_token


@click.group()
def token() -> None:
    """Make tokens for the service's API (`token create`)."""


@token.command("create")
@click.option(
    "--org",
    default=DEFAULT_ORG,
    show_default=True,
    callback=org_slug,
    help="Organization the token acts for (created if missing).",
)
@click.option("--name", help="A label to recognise the token by.  [default: user@host]")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its details as JSON.")
def create(org: str, name: str | None, as_json: bool) -> None:
    """Create an API token of an organization and print it, once.

    Only its SHA-256 is stored, so it cannot be shown again: keep it, e.g.
    `export DOCS_INGEST_TOKEN=$(docs-ingest token create --org acme)`. The token is printed
    alone on stdout; the explanation goes to stderr. Writes the database directly (through the
    same settings as `serve`), so it works before the service ever ran.
    """
    label = name or _who_and_where()
    engine = bootstrapped_database(get_settings())
    try:
        with session_scope(engine) as session:
            issued = issue_token(session, ensure_org(session, org), name=label)
    finally:
        engine.dispose()
    if as_json:
        echo_json(
            {
                "token": issued.token,
                "tokenId": issued.token_id,
                "name": issued.name,
                "organization": issued.organization,
            }
        )
        return
    click.echo(
        f"token {issued.name!r} of organization {issued.organization}, shown once; "
        f"use it as {TOKEN_VARIABLE} or `Authorization: Bearer <token>`:",
        err=True,
    )
    click.echo(issued.token)


def _who_and_where() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
