"""`docs-ingest token create|list|revoke`: tokens for the router (the Jobs tab, search, `sync`)."""

import getpass
import socket

import click
from sqlmodel import Session

from cli.auth import TOKEN_VARIABLE
from cli.database import bootstrapped_database, existing_database, org_slug
from cli.output import echo_json
from service.db import session_scope
from service.models import Organization
from service.repositories import DEFAULT_ORG, ensure_org, find_org
from service.settings import get_settings
from service.tokens import issue_token, list_tokens, revoke_token


@click.group()
def token() -> None:
    """Make, list and revoke tokens for the service's API."""


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


@token.command("list")
@click.option(
    "--org", default=DEFAULT_ORG, show_default=True, callback=org_slug, help="Organization."
)
@click.option("--json", "as_json", is_flag=True, help="Print the tokens as JSON.")
def list_command(org: str, as_json: bool) -> None:
    """List an organization's tokens: id, name, when made and last used (never the tokens)."""
    engine = existing_database(get_settings())
    try:
        with session_scope(engine) as session:
            rows = [
                {
                    "tokenId": row.id,
                    "name": row.name,
                    "createdAt": row.created_at.isoformat(),
                    "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
                }
                for row in list_tokens(session, _existing_org(session, org))
            ]
    finally:
        engine.dispose()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"organization {org} has no tokens", err=True)
    for row in rows:
        used = row["lastUsedAt"] or "never"
        click.echo(f"{row['tokenId']}\t{row['name']!r}\tcreated {row['createdAt']}\tused {used}")


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
@click.option(
    "--org", default=DEFAULT_ORG, show_default=True, callback=org_slug, help="Organization."
)
def revoke(token_id: int, org: str) -> None:
    """Revoke an organization's token by its id (`token list`): it authenticates no more."""
    engine = existing_database(get_settings())
    try:
        with session_scope(engine) as session:
            revoked = revoke_token(session, _existing_org(session, org), token_id)
    finally:
        engine.dispose()
    if revoked is None:
        raise click.ClickException(f"organization {org} has no token {token_id}")
    click.echo(f"revoked token {token_id} ({revoked.name!r}) of organization {org}", err=True)


def _existing_org(session: Session, slug: str) -> Organization:
    org = find_org(session, slug)
    if org is None:
        raise click.ClickException(f"there is no organization {slug}")
    return org


def _who_and_where() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
